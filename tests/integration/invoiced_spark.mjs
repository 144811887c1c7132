// invoiced with wallet = spark, over HTTP on a Unix socket (spark_url =
// unix:/path) to scripts/spark-bridge running on a fake SparkWallet
// (tests/lib/spark-fake-wallet.mjs). Walks Spark's multi-step statuses.
import fs from 'node:fs';
import path from 'node:path';
import { createBridge, listen } from '../../scripts/spark-bridge/bridge.mjs';
import { fakeSparkWallet } from '../lib/spark-fake-wallet.mjs';
import { startInvoiced, tmpdir, jobId, writeSecret, reporter, check, sleep,
	sanitizerClean } from '../lib/invoiced-rig.mjs';

const FILE = 'invoiced_spark.mjs';
const rep = reporter(FILE);
const hardStop = setTimeout(() => { console.log(`FAIL: ${FILE}: timeout`); process.exit(1); }, 50000);
const dir = tmpdir('invoiced-spark-');
const sock = path.join(dir, 'bridge.sock');
const wallet = fakeSparkWallet({ network: 'regtest' });
const server = await listen(createBridge({ wallet, apiKey: 'bridge-key-123' }), `unix:${sock}`);
const keyFile = writeSecret(dir, 'spark.key', 'bridge-key-123');

const inv = startInvoiced({ dir, conf: {
	wallet: 'spark', lightning_network: 'regtest', spark_url: `unix:${sock}`,
	spark_api_key_file: keyFile, invoice_poll_fast_ms: 200, invoice_poll_slow_ms: 400,
} });
await inv.ready;
const c = await inv.connect();
const forJob = (job, op) => (m) => m.job === job && (!op || m.op === op);
const reqOf = (hash) => [...wallet.reqs.values()].find((r) => r.invoice.paymentHash === hash);

await rep.run('create_then_paid_after_transfer_completes', async () => {
	const job = jobId();
	c.send({ op: 'invoice', job, amount_msat: 13000, memo: 'spark job', expiry: 600, fast: true });
	const m = await c.next(forJob(job), 8000);
	check(m.op === 'invoice' && m.amount_msat === 13000 && m.bolt11.startsWith('lnbcrt130n1'), JSON.stringify(m));
	const r = reqOf(m.payment_hash);
	check(r, 'the bridge has no receive request with that hash');
	for (const st of ['TRANSFER_CREATED', 'PAYMENT_PREIMAGE_RECOVERED']) {
		wallet.advance(r.id, st);
		await sleep(500);
	}
	const sparkId = wallet.settle(r.id, { complete: false });	// paid status, funds not yet there
	await sleep(800);
	check(!c.msgs.some(forJob(job, 'paid')), 'paid before the incoming transfer completed');
	wallet.completeTransfer(sparkId);
	const p = await c.next(forJob(job, 'paid'), 5000);
	check(p.amount_msat === 13000, `amount ${p.amount_msat}`);
	c.send({ op: 'ack', job });
});

await rep.run('failed_status_not_paid_then_expired', async () => {
	const job = jobId();
	c.send({ op: 'invoice', job, amount_msat: 2000, memo: 'x', expiry: 2 });
	const m = await c.next(forJob(job), 8000);
	wallet.advance(reqOf(m.payment_hash).id, 'TRANSFER_FAILED');
	const e = await c.next(forJob(job, 'expired'), 8000);
	check(e.op === 'expired' && Date.now() / 1000 >= m.expires_at, 'expired early');
});

await rep.run('sdk_failure_is_wallet_down', async () => {
	const job = jobId();
	wallet.fail(1);
	c.send({ op: 'invoice', job, amount_msat: 2000, memo: 'x', expiry: 60 });
	const e = await c.next(forJob(job), 8000);
	check(e.op === 'error' && e.code === 'wallet_down' && e.retryable === true, JSON.stringify(e));
	check(/502/.test(e.message), e.message);
});

await rep.run('lookup_failures_then_paid', async () => {
	const job = jobId();
	c.send({ op: 'invoice', job, amount_msat: 4000, memo: 'x', expiry: 600, fast: true });
	const m = await c.next(forJob(job), 8000);
	const r = reqOf(m.payment_hash);
	wallet.fail(3);
	wallet.settle(r.id);
	const p = await c.next(forJob(job, 'paid'), 12000);
	check(p.amount_msat === 4000, 'amount');
	c.send({ op: 'ack', job });
});

await rep.run('health_balance', async () => {
	c.send({ op: 'health' });
	const h = await c.next((x) => x.op === 'health', 5000);
	check(h.backend === 'spark' && h.ok === true, JSON.stringify(h));
	check(h.balance_msat === (50000 + 13 + 4) * 1000, `balance ${h.balance_msat}`);
});

await rep.run('sigterm_exit_0_no_leaks', async () => {
	const r = await inv.stop();
	check(r.code === 0, `exit ${r.code}: ${r.stderr.slice(-600)}`);
	check(sanitizerClean(r.stderr), r.stderr.slice(-1500));
	check(!r.stderr.includes('bridge-key-123'), 'the bridge key was logged');
});

server.close();
fs.rmSync(dir, { recursive: true, force: true });
clearTimeout(hardStop);
process.exit(rep.failed ? 1 : 0);
