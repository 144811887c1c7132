// invoiced with wallet = nwc against the NIP-47 wallet double
// (tests/lib/nwc-wallet.mjs) on a real local relay (tests/lib/relay.mjs):
// its own relay connection, NIP-44 (NIP-04 only when the wallet's info event
// offers nothing newer), payment_received as the fast path, lookup errors.
import fs from 'node:fs';
import { startRelay } from '../lib/relay.mjs';
import { startNwcWallet } from '../lib/nwc-wallet.mjs';
import { startInvoiced, tmpdir, jobId, writeSecret, reporter, check, sleep,
	sanitizerClean } from '../lib/invoiced-rig.mjs';

const FILE = 'invoiced_nwc.mjs';
const rep = reporter(FILE);
const hardStop = setTimeout(() => { console.log(`FAIL: ${FILE}: timeout`); process.exit(1); }, 55000);
const relay = await startRelay({ port: 0, quiet: true });
const forJob = (job, op) => (m) => m.job === job && (!op || m.op === op);

async function rig(encryption, slowMs = 60000) {
	const wallet = await startNwcWallet({ relayUrl: relay.url, encryption });
	const dir = tmpdir('invoiced-nwc-');
	const uriFile = writeSecret(dir, 'nwc.uri', wallet.uri);
	const inv = startInvoiced({ dir, conf: {
		wallet: 'nwc', lightning_network: 'regtest', nwc_uri_file: uriFile,
		invoice_poll_fast_ms: 300, invoice_poll_slow_ms: slowMs,
	} });
	await inv.ready;
	const c = await inv.connect();
	return { wallet, dir, inv, c };
}

async function finish(r) {
	const out = await r.inv.stop();
	check(out.code === 0, `exit ${out.code}/${out.sig}: ${out.stderr.slice(-800)}`);
	check(sanitizerClean(out.stderr), out.stderr.slice(-1500));
	check(!out.stderr.includes(r.wallet.clientSecret), 'the NWC secret was logged');
	await r.wallet.close();
	fs.rmSync(r.dir, { recursive: true, force: true });
}

const a = await rig('nip44_v2 nip04');

await rep.run('create_then_paid_by_notification', async () => {
	const job = jobId();
	// Not fast, and the slow poll is 60 s: only the notification can make this quick.
	a.c.send({ op: 'invoice', job, amount_msat: 1500, memo: 'nwc job', expiry: 600 });
	const m = await a.c.next(forJob(job), 10000);
	check(m.op === 'invoice' && m.amount_msat === 1500, JSON.stringify(m));
	check(m.bolt11.startsWith('lnbcrt15n1'), m.bolt11.slice(0, 16));
	check(a.wallet.txs.has(m.payment_hash), 'the wallet does not know this invoice');
	await sleep(1000);
	const t0 = Date.now();
	a.wallet.pay(m.payment_hash);
	const p = await a.c.next(forJob(job, 'paid'), 5000);
	check(Date.now() - t0 < 4000, `paid took ${Date.now() - t0} ms: the notification fast path did not work`);
	check(p.amount_msat === 1500, 'amount (msat precision kept)');
	a.c.send({ op: 'ack', job });
});

await rep.run('nip44_used', async () => {
	check(a.wallet.log.length >= 2, 'the wallet saw no requests');
	check(a.wallet.log.every((l) => l.encryption === 'nip44_v2'), JSON.stringify(a.wallet.log.map((l) => l.encryption)));
	check(a.wallet.log.some((l) => l.method === 'make_invoice' && l.params.amount === 1500 && l.params.expiry === 600),
		'make_invoice params');
	check(a.wallet.log.some((l) => l.method === 'lookup_invoice'), 'paid without a lookup_invoice');
});

await rep.run('lookup_errors_then_paid', async () => {
	const job = jobId();
	a.c.send({ op: 'invoice', job, amount_msat: 2000, memo: 'x', expiry: 600, fast: true });
	const m = await a.c.next(forJob(job), 10000);
	a.wallet.fail(3, 'INTERNAL');
	a.wallet.pay(m.payment_hash);
	const p = await a.c.next(forJob(job, 'paid'), 15000);
	check(p.amount_msat === 2000, 'amount');
	a.c.send({ op: 'ack', job });
});

await rep.run('wallet_refusal_is_wallet_error', async () => {
	const job = jobId();
	a.wallet.fail(1, 'QUOTA_EXCEEDED');
	a.c.send({ op: 'invoice', job, amount_msat: 2000, memo: 'x', expiry: 600 });
	const e = await a.c.next(forJob(job), 10000);
	check(e.op === 'error' && e.code === 'wallet_error' && /QUOTA_EXCEEDED/.test(e.message), JSON.stringify(e));
});

await rep.run('health_balance', async () => {
	a.c.send({ op: 'health' });
	const h = await a.c.next((x) => x.op === 'health', 10000);
	check(h.backend === 'nwc' && h.ok === true && h.balance_msat === 42000000, JSON.stringify(h));
});

await rep.run('sigterm_exit_0_no_leaks', async () => { await finish(a); });

await rep.run('legacy_wallet_gets_nip04', async () => {
	const b = await rig(null, 400);	// info event without an encryption tag
	try {
		const job = jobId();
		b.c.send({ op: 'invoice', job, amount_msat: 3000, memo: 'legacy', expiry: 600, fast: true });
		const m = await b.c.next(forJob(job), 10000);
		check(m.op === 'invoice', JSON.stringify(m));
		b.wallet.pay(m.payment_hash);
		await b.c.next(forJob(job, 'paid'), 8000);
		check(b.wallet.log.every((l) => l.encryption === 'nip04'), JSON.stringify(b.wallet.log));
	} finally {
		await finish(b);
	}
});

await rep.run('relay_restart_reconnects_and_resubscribes', async () => {
	let r2 = await startRelay({ port: 0, quiet: true });
	const port = r2.port;
	const w = await startNwcWallet({ relayUrl: r2.url });
	const dir = tmpdir('invoiced-nwc-');
	const inv = startInvoiced({ dir, conf: { wallet: 'nwc', lightning_network: 'regtest',
		nwc_uri_file: writeSecret(dir, 'nwc.uri', w.uri), invoice_poll_fast_ms: 300 } });
	try {
		await inv.ready;
		const c = await inv.connect();
		const job = jobId();
		c.send({ op: 'invoice', job, amount_msat: 5000, memo: 'x', expiry: 600, fast: true });
		const m = await c.next(forJob(job), 10000);
		check(m.op === 'invoice', JSON.stringify(m));
		await r2.close();
		await sleep(700);
		r2 = await startRelay({ port, quiet: true });
		const t0 = Date.now();
		while (w.connections < 2 && Date.now() - t0 < 5000) await sleep(100);
		check(w.connections >= 2, 'the wallet double did not reconnect');
		w.pay(m.payment_hash);
		const p = await c.next(forJob(job, 'paid'), 12000);
		check(p.amount_msat === 5000, 'amount');
		check(/reconnecting/.test(inv.stderr), 'no reconnect logged');
	} finally {
		const out = await inv.stop();
		check(out.code === 0 && sanitizerClean(out.stderr), `exit ${out.code}: ${out.stderr.slice(-800)}`);
		await w.close();
		await r2.close();
		fs.rmSync(dir, { recursive: true, force: true });
	}
});

await rep.run('relay_unreachable_health_fails_fast', async () => {
	const w = await startNwcWallet({ relayUrl: relay.url });
	const dir = tmpdir('invoiced-nwc-');
	// A port nothing listens on: the URI's relay is down.
	const uri = w.uri.replace(encodeURIComponent(relay.url), encodeURIComponent('ws://127.0.0.1:9'));
	const inv = startInvoiced({ dir, conf: { wallet: 'nwc', lightning_network: 'regtest',
		nwc_uri_file: writeSecret(dir, 'nwc.uri', uri) } });
	await inv.ready;
	const c = await inv.connect();
	const t0 = Date.now();
	c.send({ op: 'health' });
	const h = await c.next((x) => x.op === 'health', 5000);
	check(h.ok === false && h.backend === 'nwc' && typeof h.error === 'string', JSON.stringify(h));
	check(Date.now() - t0 < 3000, 'health waited for a timeout');
	const job = jobId();
	c.send({ op: 'invoice', job, amount_msat: 1000, memo: 'x', expiry: 60 });
	const out = await inv.stop();	// while a request is queued
	check(out.code === 0 && sanitizerClean(out.stderr), `exit ${out.code}: ${out.stderr.slice(-800)}`);
	await w.close();
	fs.rmSync(dir, { recursive: true, force: true });
});

await relay.close();
clearTimeout(hardStop);
process.exit(rep.failed ? 1 : 0);
