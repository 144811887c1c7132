// payment_mode = hold needs a wallet that can hold payments: invoiced exits
// 100 with a line naming what is missing, before it is ready for LNbits and
// Spark (no escrow backends: hold-invoices.md §4, §5), and after the info
// event for an NWC wallet without the hold methods; with an NWC wallet that
// has them, and with LND, it stays up.
import fs from 'node:fs';
import path from 'node:path';
import { startInvoiced, tmpdir, writeSecret, reporter, check, sleep } from '../lib/invoiced-rig.mjs';
import { startRelay } from '../lib/relay.mjs';
import { startNwcWallet } from '../lib/nwc-wallet.mjs';
import { startLndDouble } from '../lib/lnd-double.mjs';

const FILE = 'invoiced_holdmode.mjs';
const rep = reporter(FILE);
const hardStop = setTimeout(() => { console.log(`FAIL: ${FILE}: timeout`); process.exit(1); }, 60000);
const base = { payment_mode: 'hold', lightning_network: 'regtest' };

async function refused(name, conf, want) {
	const dir = tmpdir();
	const inv = startInvoiced({ dir, conf: { ...base, ...conf(dir) } });
	inv.ready.catch(() => {});
	const r = await inv.exited;
	check(r.code === 100, `exit ${r.code}, want 100: ${inv.stderr}`);
	check(/payment_mode = hold needs a wallet that can hold payments/.test(inv.stderr) && want.test(inv.stderr),
		`no clear reason: ${inv.stderr}`);
}

await rep.run('lnbits: exit 100, cannot tell a payment is held', () => refused('lnbits', (dir) => ({
	wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:9', lnbits_api_key_file: writeSecret(dir, 'k', 'x'.repeat(32)),
}), /LNbits/));
await rep.run('spark: exit 100, no cancel', () => refused('spark', (dir) => ({
	wallet: 'spark', spark_url: 'http://127.0.0.1:9',
}), /Spark/));

const relay = await startRelay({ dir: tmpdir('relay-') });
await rep.run('nwc without hold methods: exit 100 after the info event, naming the method', async () => {
	const w = await startNwcWallet({ relayUrl: relay.url, network: 'regtest' });
	try {
		await refused('nwc', (dir) => ({ wallet: 'nwc', nwc_uri_file: writeSecret(dir, 'nwc.uri', w.uri) }),
			/make_hold_invoice/);
	} finally { await w.close(); }
});
await rep.run('nwc with hold methods and lnd: stay up', async () => {
	const w = await startNwcWallet({ relayUrl: relay.url, network: 'regtest', holds: true });
	const dir = tmpdir();
	const lnd = await startLndDouble({ network: 'regtest', dir });
	const a = startInvoiced({ dir, conf: { ...base, wallet: 'nwc', nwc_uri_file: writeSecret(dir, 'nwc.uri', w.uri) } });
	const dir2 = tmpdir();
	fs.writeFileSync(path.join(dir2, 'm'), lnd.macaroon, { mode: 0o600 });
	const b = startInvoiced({ dir: dir2, conf: { ...base, wallet: 'lnd', lnd_url: lnd.url,
		lnd_macaroon_file: path.join(dir2, 'm'), lnd_tls_cert_file: lnd.certFile } });
	try {
		await Promise.all([a.ready, b.ready].map(p => p.catch(() => {})));
		await sleep(3000);
		check(a.proc.exitCode === null, `nwc invoiced exited: ${a.stderr}`);
		check(/can hold payments/.test(a.stderr), `no "can hold payments" line: ${a.stderr}`);
		check(b.proc.exitCode === null, `lnd invoiced exited: ${b.stderr}`);
	} finally {
		await a.stop(); await b.stop(); await w.close(); await lnd.close();
	}
});
await relay.close();
clearTimeout(hardStop);
process.exit(rep.failed ? 1 : 0);
