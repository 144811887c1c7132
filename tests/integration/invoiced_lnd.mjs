// invoiced with wallet = lnd against the LND REST double
// (tests/lib/lnd-double.mjs), over https with a certificate made at test
// time: normal invoices for pay-after/pay-before (create, paid only when
// SETTLED for the full amount, expiry), msat amounts, health without a
// balance (the invoice macaroon may not call getinfo or balance), and the
// refusals: a macaroon group/other can read, a wrong macaroon, a missing or
// different certificate.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { startLndDouble, makeCert } from '../lib/lnd-double.mjs';
import { startInvoiced, tmpdir, jobId, reporter, check, sleep, sanitizerClean } from '../lib/invoiced-rig.mjs';

const require = createRequire(import.meta.url);
const bolt11 = require('bolt11');
const FILE = 'invoiced_lnd.mjs';
const rep = reporter(FILE);
const hardStop = setTimeout(() => { console.log(`FAIL: ${FILE}: timeout: the whole file took over 80 s`); process.exit(1); }, 80000);

const dir = tmpdir('invoiced-lnd-');
const dbl = await startLndDouble({ network: 'regtest', dir });
const macFile = path.join(dir, 'invoice.macaroon');
fs.writeFileSync(macFile, dbl.macaroon, { mode: 0o600 });
const conf = {
	wallet: 'lnd', lightning_network: 'regtest', lnd_url: dbl.url, lnd_macaroon_file: macFile,
	lnd_tls_cert_file: dbl.certFile, invoice_poll_fast_ms: 200, invoice_poll_slow_ms: 400,
};

const invoiceMsg = (job, amount_msat = 5000, expiry = 600) =>
	({ op: 'invoice', job, amount_msat, memo: 'sellcompute job', expiry, fast: true });
const forJob = (job, op) => (m) => m.job === job && (!op || m.op === op);
const secretsIn = (s) => s.includes(dbl.macaroonHex) || s.includes(dbl.macaroon.toString('base64'));

async function stopClean(h) {
	const r = await h.stop();
	check(r.code === 0, `invoiced exited ${r.code}/${r.sig} on SIGTERM; stderr: ${r.stderr.slice(-800)}`);
	check(sanitizerClean(r.stderr), `sanitizer report: ${r.stderr.slice(-1500)}`);
	check(!secretsIn(r.stderr), 'the macaroon appears in the log');
	return r;
}

// A start that must fail: exit 100 and the reason on stderr.
async function refusedStart(sub, extra, want) {
	const d = tmpdir('invoiced-lnd-bad-');
	const h = startInvoiced({ dir: d, conf: { ...conf, ...extra } });
	const err = await h.ready.then(() => null, (e) => e);
	const r = await h.stop();
	check(err !== null, `${sub}: invoiced started`);
	check(r.code === 100, `${sub}: exit ${r.code}, want 100; stderr: ${r.stderr.slice(-400)}`);
	check(want.test(r.stderr), `${sub}: stderr does not say why: ${r.stderr.slice(-400)}`);
	check(!secretsIn(r.stderr), `${sub}: the macaroon appears in the log`);
}

let inv = startInvoiced({ dir, conf });
await inv.ready;
let c = await inv.connect();

async function newInvoice(cl, job, amount = 5000, expiry = 600) {
	cl.send(invoiceMsg(job, amount, expiry));
	const m = await cl.next(forJob(job), 8000);
	check(m.op === 'invoice', `wanted invoice, got ${JSON.stringify(m)}`);
	return m;
}

await rep.run('create_then_settled_over_https', async () => {
	const job = jobId();
	const m = await newInvoice(c, job);
	const d = bolt11.decode(m.bolt11);
	check(d.millisatoshis === '5000' && m.amount_msat === 5000, `amount ${d.millisatoshis}`);
	check(m.bolt11.startsWith('lnbcrt'), 'not a regtest invoice');
	check(m.payment_hash === d.tagsObject.payment_hash, 'payment_hash differs from the bolt11');
	check(dbl.invoices.has(m.payment_hash), 'the double has no invoice for that hash (r_hash not decoded from base64?)');
	check(dbl.invoices.get(m.payment_hash).private === true, 'no route hints asked for (private: true)');
	check(m.expires_at === d.timestamp + 600, `expires_at ${m.expires_at}`);
	const req = dbl.log.find((e) => e.path === '/v1/invoices' && e.method === 'POST');
	check(req && req.status === 200, `create request ${JSON.stringify(req)}`);
	// LND shows a normal invoice's preimage before payment: it is no proof.
	await sleep(700);
	check(!c.msgs.some(forJob(job, 'paid')), 'paid before payment');
	dbl.pay(m.payment_hash);
	const p = await c.next(forJob(job, 'paid'), 5000);
	check(p.amount_msat === 5000, `paid amount ${p.amount_msat}`);
	check(p.settled_at === dbl.invoices.get(m.payment_hash).settle_date, `settled_at ${p.settled_at} is not LND's settle_date`);
	c.send({ op: 'ack', job });
	check(dbl.log.some((e) => e.path === `/v1/invoice/${m.payment_hash}`), 'no lookup by hex hash');
});

await rep.run('msat_amount_and_underpaid', async () => {
	const job = jobId();
	const m = await newInvoice(c, job, 7001);
	check(bolt11.decode(m.bolt11).millisatoshis === '7001', 'msat amount not kept (value_msat)');
	dbl.pay(m.payment_hash, 7000);
	await sleep(1200);
	check(!c.msgs.some(forJob(job, 'paid')), 'paid although 7000 < 7001 msat arrived');
});

await rep.run('open_invoice_expires', async () => {
	const job = jobId();
	const m = await newInvoice(c, job, 3000, 2);
	const e = await c.next(forJob(job, 'expired'), 8000);
	check(Date.now() / 1000 >= m.expires_at && e.op === 'expired', 'expired early');
	check(dbl.state(m.payment_hash) === 'CANCELED', `LND state ${dbl.state(m.payment_hash)}`);
});

// untrack: jobd says the job ended unpaid. LND cancels any open invoice
// (POST /v2/invoices/cancel), so nobody can pay it later; lookups stop.
await rep.run('untrack_cancels_and_stops_lookups', async () => {
	const job = jobId();
	const m = await newInvoice(c, job, 4000, 600);
	c.send({ op: 'untrack', job });
	const b64 = Buffer.from(m.payment_hash, 'hex').toString('base64');
	for (let i = 0; i < 50 && dbl.state(m.payment_hash) !== 'CANCELED'; i++) await sleep(100);
	check(dbl.state(m.payment_hash) === 'CANCELED', `LND state ${dbl.state(m.payment_hash)}`);
	check(dbl.log.some((e) => e.path === '/v2/invoices/cancel'), 'no cancel call');
	check(b64.length === 44, 'hash');
	await sleep(600);	/* the last lookup */
	const n = dbl.log.filter((e) => e.path === `/v1/invoice/${m.payment_hash}`).length;
	await sleep(1200);	/* three poll intervals */
	check(dbl.log.filter((e) => e.path === `/v1/invoice/${m.payment_hash}`).length === n,
		'still looked up after untrack');
	c.send({ op: 'lookup', job });
	const l = await c.next(forJob(job), 5000);
	check(l.op === 'expired', `after untrack: ${JSON.stringify(l)}`);
	c.send({ op: 'untrack', job });			/* idempotent */
	c.send({ op: 'untrack', job: jobId() });	/* unknown: harmless */
});

await rep.run('untrack_of_a_paid_invoice_still_reports_paid', async () => {
	const job = jobId();
	const m = await newInvoice(c, job, 4000, 600);
	dbl.pay(m.payment_hash);
	c.send({ op: 'untrack', job });
	const p = await c.next(forJob(job, 'paid'), 5000);
	check(p.amount_msat === 4000, `paid ${JSON.stringify(p)}`);
	c.send({ op: 'ack', job });
});

await rep.run('health_without_balance_or_getinfo', async () => {
	c.send({ op: 'health' });
	const h = await c.next((m) => m.op === 'health', 5000);
	check(h.ok === true && h.backend === 'lnd', `health ${JSON.stringify(h)}`);
	check(!('balance_msat' in h), 'a balance from an invoice macaroon?');
	check(!dbl.log.some((e) => e.path === '/v1/getinfo' || e.path.startsWith('/v1/balance')),
		'invoiced called getinfo or a balance endpoint');
	check(dbl.counters.denied === 0, `${dbl.counters.denied} requests were refused`);
});

await rep.run('backend_down_is_retryable', async () => {
	dbl.fail(1, '500');
	const job = jobId();
	c.send(invoiceMsg(job));
	const e = await c.next(forJob(job), 8000);
	check(e.op === 'error' && e.code === 'wallet_down' && e.retryable === true, JSON.stringify(e));
	const m = await newInvoice(c, job);	/* and it recovers */
	check(m.bolt11, 'no invoice after the failure');
});

await rep.run('bad_invoice_from_node_refused', async () => {
	dbl.setInvoiceMode('wrong_hash', 1);
	const job = jobId();
	c.send(invoiceMsg(job));
	const e = await c.next(forJob(job), 8000);
	check(e.op === 'error' && e.code === 'bad_invoice', JSON.stringify(e));
});

await rep.run('hostile_responses_are_refused_not_trusted', async () => {
	const bad = [
		'<html>502 Bad Gateway</html>',
		JSON.stringify({ r_hash: 'AAAA', payment_request: 'lnbcrt1x', add_index: '1' }),	/* 3-byte hash */
		JSON.stringify({ r_hash: Buffer.alloc(32, 1).toString('base64'), payment_request: 5 }),
		JSON.stringify({ r_hash: 42, payment_request: 'x'.repeat(8000) }),
		'x'.repeat(2 * 1024 * 1024),	/* above invoiced's 1 MiB cap */
	];
	dbl.corrupt(bad);
	for (let i = 0; i < bad.length; i++) {
		const job = jobId();
		c.send(invoiceMsg(job));
		const e = await c.next(forJob(job), 8000);
		check(e.op === 'error' && e.code === 'wallet_down', `case ${i}: ${JSON.stringify(e)}`);
	}
	// A lookup answered with nonsense changes nothing; the real answer later counts.
	const job = jobId();
	const m = await newInvoice(c, job);
	dbl.corrupt([JSON.stringify({ state: 'SETTLED' }), JSON.stringify({ state: 'PAID', amt_paid_msat: '5000' }),
		JSON.stringify({ state: ['SETTLED'], amt_paid_msat: '5000' }), '{"state":"SETTLED","amt_paid_msat":"99999999999999999999"}']);
	await sleep(1500);
	check(!c.msgs.some(forJob(job, 'paid')), 'a malformed lookup made the job paid');
	dbl.pay(m.payment_hash);
	const p = await c.next(forJob(job, 'paid'), 8000);
	check(p.amount_msat === 5000, 'amount');
	c.send({ op: 'ack', job });
});

await rep.run('restart_resumes_and_reports_paid', async () => {
	const job = jobId();
	const m = await newInvoice(c, job);
	await stopClean(inv);
	dbl.pay(m.payment_hash);
	inv = startInvoiced({ dir, conf });
	await inv.ready;
	c = await inv.connect();
	const p = await c.next(forJob(job, 'paid'), 6000);
	check(p.amount_msat === 5000, 'amount after restart');
	c.send({ op: 'ack', job });
});

await rep.run('hex_macaroon_file_works', async () => {
	const d = tmpdir('invoiced-lnd-hex-');
	const f = path.join(d, 'mac.hex');
	fs.writeFileSync(f, dbl.macaroonHex.toUpperCase() + '\n', { mode: 0o600 });
	const h = startInvoiced({ dir: d, conf: { ...conf, lnd_macaroon_file: f } });
	await h.ready;
	const cl = await h.connect();
	const m = await newInvoice(cl, jobId());
	check(m.bolt11, 'no invoice');
	await stopClean(h);
});

// A binary macaroon ends in signature bytes: a newline or a space there is
// part of it (CI once drew one and every call of that world was refused).
await rep.run('binary_macaroon_ending_in_newline_or_space_works', async () => {
	for (const last of [[0x0a], [0x0d, 0x0a], [0x20]]) {
		const d = tmpdir('invoiced-lnd-nl-');
		const mac = Buffer.concat([Buffer.from([2, 1]), Buffer.alloc(100, 0x41), Buffer.from([0]), Buffer.from(last)]);
		const other = await startLndDouble({ network: 'regtest', dir: d, macaroon: mac });
		const f = path.join(d, 'invoice.macaroon');
		fs.writeFileSync(f, mac, { mode: 0o600 });
		const h = startInvoiced({ dir: d, conf: { ...conf, lnd_url: other.url, lnd_tls_cert_file: other.certFile,
			lnd_macaroon_file: f } });
		let stopped = false;
		try {
			await h.ready;
			const cl = await h.connect();
			const m = await newInvoice(cl, jobId());
			check(m.bolt11, `last bytes ${JSON.stringify(last)}: no invoice: ${JSON.stringify(m)}`);
			check(other.counters.denied === 0, `last bytes ${JSON.stringify(last)}: the double refused the macaroon`);
			stopped = true;
			await stopClean(h);
		} finally {
			if (!stopped) await h.stop();
			await other.close();
		}
	}
});

await rep.run('wrong_macaroon_is_a_clear_wallet_error', async () => {
	const d = tmpdir('invoiced-lnd-wrong-');
	const f = path.join(d, 'other.macaroon');
	fs.writeFileSync(f, Buffer.concat([Buffer.from([2, 1]), Buffer.alloc(200, 7)]), { mode: 0o600 });
	const h = startInvoiced({ dir: d, conf: { ...conf, lnd_macaroon_file: f } });
	await h.ready;
	const cl = await h.connect();
	const job = jobId();
	cl.send(invoiceMsg(job));
	const e = await cl.next(forJob(job), 8000);
	check(e.op === 'error' && e.code === 'wallet_error' && e.retryable === false, JSON.stringify(e));
	check(/lnd: HTTP 500: verification failed/.test(e.message), `message: ${e.message}`);
	cl.send({ op: 'health' });
	const hl = await cl.next((m) => m.op === 'health', 5000);
	check(hl.ok === false && /verification failed/.test(hl.error), `health ${JSON.stringify(hl)}`);
	await stopClean(h);
});

await rep.run('different_certificate_refused', async () => {
	const other = makeCert(tmpdir('lnd-other-cert-'));
	const d = tmpdir('invoiced-lnd-cert-');
	const before = dbl.log.length, tlsBefore = dbl.tlsErrors;
	const h = startInvoiced({ dir: d, conf: { ...conf, lnd_tls_cert_file: other.certFile } });
	await h.ready;
	const cl = await h.connect();
	const job = jobId();
	cl.send(invoiceMsg(job));
	const e = await cl.next(forJob(job), 8000);
	check(e.op === 'error' && e.code === 'wallet_down', JSON.stringify(e));
	check(/certificate|SSL/i.test(e.message), `message does not name the certificate: ${e.message}`);
	// (the first invoiced keeps polling its pending invoices meanwhile: look at creates only)
	check(!dbl.log.slice(before).some((x) => x.method === 'POST'), 'a create reached the double over an untrusted certificate');
	check(dbl.tlsErrors > tlsBefore, 'the double saw no failed TLS handshake');
	await stopClean(h);
});

await rep.run('group_readable_macaroon_refused', async () => {
	const f = path.join(dir, 'open.macaroon');
	fs.writeFileSync(f, dbl.macaroon);
	fs.chmodSync(f, 0o644);
	await refusedStart('0644', { lnd_macaroon_file: f }, /open\.macaroon: secret file is accessible by group or others \(mode 0644\)/);
});

await rep.run('https_without_certificate_refused', async () => {
	await refusedStart('no cert', { lnd_tls_cert_file: '' }, /lnd_tls_cert_file/);
	await refusedStart('not a cert', { lnd_tls_cert_file: macFile }, /not a PEM certificate/);
	await refusedStart('no macaroon', { lnd_macaroon_file: '' }, /needs lnd_macaroon_file/);
});

await rep.run('clean_stop', async () => { await stopClean(inv); });

await dbl.close();
clearTimeout(hardStop);
process.exit(rep.failed ? 1 : 0);
