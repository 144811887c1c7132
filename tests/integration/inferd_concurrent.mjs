// inferd_concurrent.mjs: 100 jobs at once with a per-token delay all finish
// with their own texts and counts, in about the time of one (one thread, one
// curl multi handle); cancel stops the transfer at once (the double sees the
// client go away); SIGTERM answers every open job with "shutdown".
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startInferd, suite, assert, eq, cleanExit, jobId, words, until } from '../lib/inferd-rig.mjs';

const t = suite('inferd_concurrent.mjs', 55000);
const d = await startOllamaDouble({ tokenDelayMs: 50 });
t.cleanup(() => d.close());
const inf = await startInferd({ conf: { infer_urls: d.url, infer_max_inflight: 128 } });
t.cleanup(() => inf.proc.kill('SIGKILL'));
const c = await inf.connect();

await t.check('100 concurrent jobs: right texts and counts, bounded time', async () => {
	await d.control({ resetLog: true });
	const jobs = [];
	for (let i = 0; i < 100; i++)
		jobs.push({ job: jobId(), prompt: `job ${i} says ${'w '.repeat(i % 7)}hello` });
	const t0 = Date.now();
	for (const j of jobs)
		c.send({ op: 'infer', job: j.job, model: 'llama3.2', messages: [{ role: 'user', content: j.prompt }] });
	const finals = await Promise.all(jobs.map((j) => c.final(j.job, 30000)));
	const ms = Date.now() - t0;
	for (let i = 0; i < 100; i++) {
		const f = finals[i], want = 'Echo: ' + jobs[i].prompt;
		eq(f.op, 'done', `job ${i} op (${f.message})`);
		eq(f.text, want, `job ${i} text`);
		eq(c.chunks(jobs[i].job).map((x) => x.text).join(''), want, `job ${i} chunks`);
		eq(f.prompt_tokens, words(jobs[i].prompt), `job ${i} prompt_tokens`);
		eq(f.completion_tokens, words(want), `job ${i} completion_tokens`);
	}
	// The longest answer is 11 tokens x 50 ms: serial would take ~40 s.
	assert(ms < 8000, `took ${ms} ms`);
	const log = d.log();
	assert(log.maxInflight >= 90, `backend saw at most ${log.maxInflight} at once`);
	eq(log.requests.filter((r) => r.path === '/api/chat').length, 100, 'backend requests');
});

await t.check('cancel mid-stream: error cancelled at once, transfer closed', async () => {
	await d.control({ resetLog: true, tokenDelayMs: 100 });
	const job = jobId();
	c.send({ op: 'infer', job, model: 'llama3.2', messages: [{ role: 'user', content: 'a b c d e f g h i j k l m n o p' }] });
	await c.next((m) => m.op === 'chunk' && m.job === job, 5000);
	const t0 = Date.now();
	c.send({ op: 'cancel', job });
	const f = await c.final(job, 3000);
	eq([f.op, f.code, f.retryable], ['error', 'cancelled', false], 'answer');
	assert(Date.now() - t0 < 500, `cancel took ${Date.now() - t0} ms`);
	const req = await until(() => d.log().requests.find((r) => r.path === '/api/chat' && r.endedMs), 3000,
	    'the backend to see the disconnect');
	eq(req.clientClosed, true, 'client closed');
	assert(req.tokensSent < 17, `tokens sent ${req.tokensSent}`);
	const sent = req.tokensSent;
	await new Promise((r) => setTimeout(r, 300));
	eq(d.log().requests[0].tokensSent, sent, 'no tokens after cancel');
	c.send({ op: 'cancel', job: 'e'.repeat(64) });	// unknown: ignored
	c.send({ op: 'health' });
	const h = await c.next((m) => m.op === 'health');
	eq(h.backends[0].inflight, 0, 'slot given back');
});

await t.check('a cancelled job runs again on a new infer (not cached)', async () => {
	await d.control({ tokenDelayMs: 5 });
	const job = jobId();
	c.send({ op: 'infer', job, model: 'llama3.2', messages: [{ role: 'user', content: 'x y z w' }] });
	c.send({ op: 'cancel', job });
	await c.final(job, 3000);
	const c2 = await inf.connect();
	const r = await c2.infer({ job, model: 'llama3.2', messages: [{ role: 'user', content: 'x y z w' }] });
	eq([r.final.op, r.final.text], ['done', 'Echo: x y z w'], 'second run');
	c2.close();
});

await t.check('SIGTERM with open jobs: each gets error shutdown, exit 0, clean', async () => {
	await d.control({ resetLog: true, tokenDelayMs: 200 });
	const jobs = [jobId(), jobId(), jobId()];
	for (const job of jobs)
		c.send({ op: 'infer', job, model: 'llama3.2', messages: [{ role: 'user', content: 'a b c d e f g h' }] });
	await Promise.all(jobs.map((job) => c.next((m) => m.op === 'chunk' && m.job === job, 5000)));
	const stopping = inf.stop(8000, true);
	const finals = await Promise.all(jobs.map((job) => c.final(job, 5000)));
	for (const f of finals)
		eq([f.op, f.code, f.retryable], ['error', 'shutdown', true], 'answer');
	cleanExit(await stopping);
	await until(() => d.log().requests.filter((r) => r.path === '/api/chat').every((r) => r.clientClosed),
	    3000, 'transfers closed');
});

await t.done();
