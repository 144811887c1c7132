// invoiced pins the wallet's node: the first invoice's payee (its n field or
// the key its signature recovers) is remembered in invoices.db, and an
// invoice paying any other node is refused (bad_invoice) across restarts
// until the operator deletes the pin (tests/unit/test_invoiced_store.c has
// the UNIQUE(payment_hash) side).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { startLnbitsDouble } from '../lib/lnbits-double.mjs';
import { startInvoiced, tmpdir, jobId, writeSecret, reporter, check, sanitizerClean } from '../lib/invoiced-rig.mjs';

const FILE = 'invoiced_payee.mjs';
const rep = reporter(FILE);
const hardStop = setTimeout(() => { console.log(`FAIL: ${FILE}: timeout`); process.exit(1); }, 50000);

const first = await startLnbitsDouble({ network: 'regtest' });
const other = await startLnbitsDouble({ network: 'regtest', nodeKey: crypto.randomBytes(32).toString('hex') });
const dir = tmpdir();
const confFor = (dbl, name) => ({
	wallet: 'lnbits', lightning_network: 'regtest', lnbits_url: dbl.url,
	lnbits_api_key_file: writeSecret(dir, name, dbl.apiKey), invoice_poll_fast_ms: 200,
	invoice_poll_slow_ms: 400,
});
const ask = async (c, job) => {
	c.send({ op: 'invoice', job, amount_msat: 5000, memo: 'm', expiry: 600 });
	return c.next((m) => m.job === job, 8000);
};
async function run(dbl, name, fn) {
	const inv = startInvoiced({ dir, conf: confFor(dbl, name) });
	await inv.ready;
	const c = await inv.connect();
	try { await fn(c, inv); } finally {
		const r = await inv.stop();
		check(r.code === 0 && sanitizerClean(r.stderr), `invoiced exit ${r.code}: ${r.stderr.slice(-600)}`);
	}
}

await rep.run('first_invoice_pins_the_node', async () => {
	await run(first, 'k1', async (c) => {
		const m = await ask(c, jobId());
		check(m.op === 'invoice', JSON.stringify(m));
	});
});

await rep.run('another_node_refused_after_restart', async () => {
	await run(other, 'k2', async (c, inv) => {
		const m = await ask(c, jobId());
		check(m.op === 'error' && m.code === 'bad_invoice' && /another node/.test(m.message), JSON.stringify(m));
		check(/pinned/.test(inv.stderr), 'no log line naming the pin');
	});
});

await rep.run('operator_reset_pins_the_new_node', async () => {
	execFileSync('sqlite3', [path.join(dir, 'var', 'invoices.db'), "DELETE FROM meta WHERE key = 'payee'"]);
	await run(other, 'k2', async (c) => {
		const m = await ask(c, jobId());
		check(m.op === 'invoice', JSON.stringify(m));
	});
	await run(first, 'k1', async (c) => {
		const m = await ask(c, jobId());
		check(m.op === 'error' && m.code === 'bad_invoice', 'the old node is now the stranger: ' + JSON.stringify(m));
	});
});

clearTimeout(hardStop);
await first.close();
await other.close();
process.exit(rep.failed ? 1 : 0);
