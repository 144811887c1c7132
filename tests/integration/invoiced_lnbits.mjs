// invoiced against the LNbits double (tests/lib/lnbits-double.mjs): the paths
// of issue 5. Each case asserts what jobd would see on invoiced.sock and what
// the wallet saw (the double's request log).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { startLnbitsDouble } from '../lib/lnbits-double.mjs';
import { startInvoiced, tmpdir, jobId, writeSecret, reporter, check, sleep,
	sanitizerClean } from '../lib/invoiced-rig.mjs';

const require = createRequire(import.meta.url);
const bolt11 = require('bolt11');
const FILE = 'invoiced_lnbits.mjs';
const rep = reporter(FILE);
const hardStop = setTimeout(() => { console.log(`FAIL: ${FILE}: timeout: the whole file took over 55 s`); process.exit(1); }, 55000);

const dbl = await startLnbitsDouble({ network: 'regtest' });
const dir = tmpdir();
const keyFile = writeSecret(dir, 'lnbits.key', dbl.apiKey);
const conf = {
	wallet: 'lnbits', lightning_network: 'regtest', lnbits_url: dbl.url,
	lnbits_api_key_file: keyFile, invoice_poll_fast_ms: 200, invoice_poll_slow_ms: 400,
};

let inv = startInvoiced({ dir, conf });
await inv.ready;
let c = await inv.connect();

const invoiceMsg = (job, amount_msat = 5000, expiry = 600, extra = {}) =>
	({ op: 'invoice', job, amount_msat, memo: 'sellcompute job', expiry, fast: true, ...extra });
const forJob = (job, op) => (m) => m.job === job && (!op || m.op === op);

async function newInvoice(job, amount = 5000, expiry = 600) {
	c.send(invoiceMsg(job, amount, expiry));
	const m = await c.next(forJob(job), 8000);
	check(m.op === 'invoice', `wanted invoice, got ${JSON.stringify(m)}`);
	return m;
}

async function stopClean(h) {
	const r = await h.stop();
	check(r.code === 0, `invoiced exited ${r.code}/${r.sig} on SIGTERM; stderr: ${r.stderr.slice(-800)}`);
	check(sanitizerClean(r.stderr), `sanitizer report: ${r.stderr.slice(-1500)}`);
	check(!r.stderr.includes(dbl.apiKey), 'the API key appears in the log');
	return r;
}

await rep.run('socket_mode_0660', async () => {
	const st = fs.statSync(inv.sock);
	check(st.isSocket() && (st.mode & 0o777) === 0o660, `mode ${(st.mode & 0o777).toString(8)}`);
});

await rep.run('create_then_paid', async () => {
	const job = jobId();
	const m = await newInvoice(job);
	const d = bolt11.decode(m.bolt11);
	check(d.millisatoshis === '5000', `bolt11 amount ${d.millisatoshis}`);
	check(m.bolt11.startsWith('lnbcrt'), 'not a regtest invoice');
	check(m.amount_msat === 5000, 'amount_msat');
	check(/^[0-9a-f]{64}$/.test(m.payment_hash), 'payment_hash');
	check(m.payment_hash === d.tagsObject.payment_hash, 'payment_hash differs from the bolt11');
	check(m.expires_at === d.timestamp + 600, `expires_at ${m.expires_at} vs ${d.timestamp + 600}`);
	await sleep(600);
	check(!c.msgs.some(forJob(job, 'paid')), 'paid before payment (preimage is not proof)');
	dbl.pay(m.payment_hash);
	const p = await c.next(forJob(job, 'paid'), 5000);
	check(p.amount_msat === 5000, `paid amount ${p.amount_msat}`);
	check(Number.isInteger(p.settled_at) && p.settled_at > 1.7e9, 'settled_at');
	c.send({ op: 'ack', job });
	c.send({ op: 'lookup', job });
	const l = await c.next(forJob(job), 3000);
	check(l.op === 'paid', `lookup after paid says ${l.op}`);
});

await rep.run('underpaid_is_not_paid', async () => {
	const job = jobId();
	const m = await newInvoice(job, 7000);
	dbl.pay(m.payment_hash, 6000);
	await sleep(1500);
	check(!c.msgs.some(forJob(job, 'paid')), 'paid although 6000 < 7000 msat arrived');
	dbl.pay(m.payment_hash, 7000);
	const p = await c.next(forJob(job, 'paid'), 5000);
	check(p.amount_msat === 7000, 'amount');
	c.send({ op: 'ack', job });
});

await rep.run('same_job_twice_one_invoice', async () => {
	const job = jobId();
	const before = dbl.counters.created;
	c.send(invoiceMsg(job, 9000));
	c.send(invoiceMsg(job, 9000));	// while the first create is in flight
	const a = await c.next(forJob(job, 'invoice'), 8000);
	const b = await c.next(forJob(job, 'invoice'), 8000);
	const c2 = await newInvoice(job, 9000);	// after it is stored
	check(a.bolt11 === b.bolt11 && b.bolt11 === c2.bolt11, 'different invoices for one job');
	check(dbl.counters.created === before + 1, `wallet created ${dbl.counters.created - before} invoices`);
	c.send(invoiceMsg(job, 10000));
	const e = await c.next(forJob(job, 'error'), 3000);
	check(e.code === 'conflict', `different amount gave ${JSON.stringify(e)}`);
});

// untrack: LNbits cannot cancel a normal invoice: one last lookup, then forgotten.
await rep.run('untrack_forgets_after_one_lookup', async () => {
	const job = jobId();
	const m = await newInvoice(job, 5000, 600);
	c.send({ op: 'untrack', job });
	const looked = () => dbl.log.filter((e) => e.kind === 'lookup' && e.path.includes(m.payment_hash)).length;
	await sleep(800);
	const n = looked();
	await sleep(1200);	/* three poll intervals */
	check(looked() === n, `looked up ${looked() - n} times after untrack`);
	c.send({ op: 'lookup', job });
	const l = await c.next(forJob(job), 5000);
	check(l.op === 'expired', `after untrack: ${JSON.stringify(l)}`);
	c.send({ op: 'untrack', job: jobId() });	/* unknown: harmless, no answer */
});

await rep.run('create_then_expired', async () => {
	const job = jobId();
	const m = await newInvoice(job, 3000, 2);
	const e = await c.next(forJob(job, 'expired'), 8000);
	check(Date.now() / 1000 >= m.expires_at, 'expired before expires_at');
	check(e.op === 'expired', 'op');
	c.send({ op: 'lookup', job });
	const l = await c.next(forJob(job), 3000);
	check(l.op === 'expired', `lookup says ${l.op}`);
});

await rep.run('lookup_errors_then_paid', async () => {
	const job = jobId();
	const m = await newInvoice(job, 4000, 3);
	const failsBefore = dbl.counters.failed, hungBefore = dbl.counters.hung;
	// 520s, then one hung request (invoiced's lookup timeout is 5 s), across the expiry.
	dbl.setFail('520', 8, 'lookup');
	await sleep(300);
	dbl.pay(m.payment_hash);	// paid before expires_at, while lookups fail
	await sleep(1500);
	dbl.setFail('timeout', 1, 'lookup');
	const p = await c.next(forJob(job, 'paid'), 20000);
	check(Date.now() / 1000 > m.expires_at, 'the test did not outlast the expiry');
	check(p.amount_msat === 4000, 'amount');
	check(!c.msgs.some(forJob(job, 'expired')), 'said expired while lookups failed');
	check(dbl.counters.failed > failsBefore, 'no 520 was served');
	check(dbl.counters.hung > hungBefore, 'no lookup hung');
	c.send({ op: 'ack', job });
});

for (const mode of ['wrong_amount', 'wrong_network', 'bad_signature', 'wrong_hash']) {
	await rep.run(`backend_${mode}_rejected`, async () => {
		const job = jobId();
		dbl.setInvoiceMode(mode, 1);
		c.send(invoiceMsg(job, 5000));
		const e = await c.next(forJob(job), 8000);
		check(e.op === 'error' && e.code === 'bad_invoice', `got ${JSON.stringify(e)}`);
		check(e.retryable === false, 'retryable');
		const why = { wrong_amount: /amount/, wrong_network: /network/, bad_signature: /signature/,
			wrong_hash: /payment hash/ }[mode];
		check(why.test(e.message), `rejected for another reason: ${e.message}`);
		c.send({ op: 'lookup', job });
		const l = await c.next(forJob(job), 3000);
		check(l.op === 'error' && l.code === 'unknown_job', 'the bad invoice was stored');
	});
}

await rep.run('whole_sats_and_bad_lines', async () => {
	const job = jobId();
	c.send(invoiceMsg(job, 1500));
	const e = await c.next(forJob(job), 3000);
	check(e.op === 'error' && e.code === 'bad_request', `1500 msat gave ${JSON.stringify(e)}`);
	c.send('this is not json');
	c.send({ op: 'invoice', job, amount_msat: '5000', memo: 'x', expiry: 60 });
	const b = await c.next(forJob(job), 3000);
	check(b.op === 'error' && b.code === 'bad_request', `string amount gave ${JSON.stringify(b)}`);
	c.send({ op: 'nope', job });
	const u = await c.next(forJob(job), 3000);
	check(u.code === 'bad_request', 'unknown op');
	c.send({ op: 'lookup', job: 'ABC' });
	c.send({ op: 'health' });
	const h = await c.next((x) => x.op === 'health', 5000);
	check(h.backend === 'lnbits' && h.ok === true, `health ${JSON.stringify(h)}`);
	check(Number.isInteger(h.balance_msat) && h.balance_msat > 0, 'balance_msat');
	check(Number.isInteger(h.pending), 'pending');
});

await rep.run('restart_resumes_and_resends_unacked', async () => {
	const jobPending = jobId(), jobUnacked = jobId();
	const m1 = await newInvoice(jobPending, 8000);
	const m2 = await newInvoice(jobUnacked, 8000);
	dbl.pay(m2.payment_hash);
	await c.next(forJob(jobUnacked, 'paid'), 5000);	// not acked
	await stopClean(inv);
	dbl.pay(m1.payment_hash);	// paid while invoiced is down
	inv = startInvoiced({ dir, conf });
	await inv.ready;
	c = await inv.connect();
	const again = await c.next(forJob(jobUnacked, 'paid'), 3000);
	check(again.amount_msat === 8000, 'un-acked paid not re-sent on connect');
	const p = await c.next(forJob(jobPending, 'paid'), 8000);
	check(p.amount_msat === 8000, 'pending invoice not resumed');
	c.send({ op: 'ack', job: jobUnacked });
	c.send({ op: 'ack', job: jobPending });
	const before = dbl.counters.created;
	c.send(invoiceMsg(jobPending, 8000));
	const l = await c.next(forJob(jobPending), 3000);
	check(l.op === 'paid' && dbl.counters.created === before, 'asked again after restart: new invoice');
	await sleep(300);
	await stopClean(inv);
	inv = startInvoiced({ dir, conf });
	await inv.ready;
	c = await inv.connect();
	await sleep(1200);
	check(!c.msgs.some((x) => x.op === 'paid'), `acked paid re-sent: ${JSON.stringify(c.msgs)}`);
});

await rep.run('wallet_down_then_up', async () => {
	const job = jobId();
	dbl.setFail('520', 1, 'create');
	c.send(invoiceMsg(job, 5000));
	const e = await c.next(forJob(job), 5000);
	check(e.op === 'error' && e.code === 'wallet_down' && e.retryable === true, JSON.stringify(e));
	check(/520/.test(e.message), 'message does not quote the status');
	const m = await newInvoice(job, 5000);	// jobd retries: works now
	check(m.bolt11.startsWith('lnbcrt'), 'retry');
});

await rep.run('sighup_reloads_and_keeps_serving', async () => {
	inv.proc.kill('SIGHUP');
	await sleep(300);
	check(/SIGHUP: reloaded/.test(inv.stderr), `no reload logged: ${inv.stderr.slice(-300)}`);
	const job = jobId();
	const m = await newInvoice(job, 6000);
	check(m.amount_msat === 6000, 'not serving after SIGHUP');
});

await rep.run('sigterm_exit_0_no_leaks', async () => {
	await stopClean(inv);
	check(!fs.existsSync(inv.sock), 'invoiced.sock left behind');
	check((fs.statSync(path.join(dir, 'var', 'invoices.db')).mode & 0o777) === 0o600, 'invoices.db is not mode 0600');
});

await rep.run('secret_file_0644_refused', async () => {
	const d2 = tmpdir();
	const bad = writeSecret(d2, 'lnbits.key', dbl.apiKey, 0o644);
	const h = startInvoiced({ dir: d2, conf: { ...conf, lnbits_api_key_file: bad } });
	let err = null;
	await h.ready.catch((e) => { err = e; });
	const r = await h.stop();
	check(err !== null, 'invoiced started with a 0644 secret file');
	check(r.code === 100, `exit ${r.code}, want 100`);
	check(r.stderr.includes(bad) && /group or others/.test(r.stderr), `message: ${r.stderr}`);
	check(!r.stderr.includes(dbl.apiKey), 'the key was logged');
	fs.rmSync(d2, { recursive: true, force: true });
});

await rep.run('wrong_api_key_is_wallet_error', async () => {
	const d5 = tmpdir();
	const h = startInvoiced({ dir: d5, conf: { ...conf, lnbits_api_key_file: writeSecret(d5, 'k', 'not-the-key') } });
	await h.ready;
	const cc = await h.connect();
	const job = jobId();
	cc.send(invoiceMsg(job));
	const e = await cc.next(forJob(job), 5000);
	check(e.op === 'error' && e.code === 'wallet_error' && e.retryable === false, JSON.stringify(e));
	check(/Wallet not found/.test(e.message), `LNbits' detail not quoted: ${e.message}`);
	cc.send({ op: 'health' });
	const hh = await cc.next((x) => x.op === 'health', 5000);
	check(hh.ok === false && /404/.test(hh.error) && hh.balance_msat === undefined, JSON.stringify(hh));
	const r = await h.stop();
	check(r.code === 0 && sanitizerClean(r.stderr), `exit ${r.code}: ${r.stderr.slice(-500)}`);
	check(!r.stderr.includes('not-the-key'), 'the key was logged');
	fs.rmSync(d5, { recursive: true, force: true });
});

await rep.run('wallet_none_disabled', async () => {
	const d3 = tmpdir();
	const h = startInvoiced({ dir: d3, conf: { wallet: 'none' } });
	await h.ready;
	const cc = await h.connect();
	const job = jobId();
	cc.send(invoiceMsg(job));
	const e = await cc.next(forJob(job), 3000);
	check(e.op === 'error' && e.code === 'disabled', JSON.stringify(e));
	cc.send({ op: 'health' });
	const hh = await cc.next((x) => x.op === 'health', 3000);
	check(hh.backend === 'none', JSON.stringify(hh));
	const r = await h.stop();
	check(r.code === 0 && sanitizerClean(r.stderr), `exit ${r.code}: ${r.stderr.slice(-500)}`);
	fs.rmSync(d3, { recursive: true, force: true });
});

await rep.run('stdio_mode', async () => {
	const { spawn } = await import('node:child_process');
	const d4 = tmpdir();
	const job = jobId();
	const cf = path.join(d4, 'dvm.conf');
	fs.writeFileSync(cf, Object.entries({ ...conf, state_dir: path.join(d4, 'var') })
		.map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
	const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DVM_')));
	// Asynchronous: the double answering invoiced lives in this process.
	const p = spawn(path.join(process.env.BIN || 'bin', 'invoiced'), ['-c', cf, '--stdio'], { env });
	const r = { stdout: '', stderr: '' };
	p.stdout.on('data', (d) => { r.stdout += d; });
	p.stderr.on('data', (d) => { r.stderr += d; });
	p.stdin.end(JSON.stringify(invoiceMsg(job, 2000)) + '\n' + JSON.stringify({ op: 'health' }) + '\n');
	const t = setTimeout(() => p.kill('SIGKILL'), 15000);
	r.status = await new Promise((res) => p.on('close', (code) => res(code)));
	clearTimeout(t);
	check(r.status === 0, `exit ${r.status}: ${r.stderr}`);
	const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
	check(lines.some((m) => m.op === 'invoice' && m.job === job && m.amount_msat === 2000), r.stdout);
	check(lines.some((m) => m.op === 'health' && m.backend === 'lnbits'), r.stdout);
	check(sanitizerClean(r.stderr), r.stderr.slice(-800));
	fs.rmSync(d4, { recursive: true, force: true });
});

await dbl.close();
fs.rmSync(dir, { recursive: true, force: true });
clearTimeout(hardStop);
process.exit(rep.failed ? 1 : 0);
