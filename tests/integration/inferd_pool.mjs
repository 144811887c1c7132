// inferd_pool.mjs: a pool of two Ollama doubles: a down backend does not
// block start-up and is reported by health; a failure before the first
// token is retried once on the other backend, a failure after it is not;
// least-loaded choice under a per-backend in-flight limit, then busy;
// periodic probes follow a backend going down and coming back.
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startInferd, suite, assert, eq, cleanExit, jobId, until } from '../lib/inferd-rig.mjs';

const t = suite('inferd_pool.mjs', 55000);
const a = await startOllamaDouble({ tokenDelayMs: 5 });
const b = await startOllamaDouble({ tokenDelayMs: 5 });
t.cleanup(() => a.close());
t.cleanup(() => b.close());
const chats = (d) => d.log().requests.filter((r) => r.path === '/api/chat');
const msgs = (s) => [{ role: 'user', content: s }];

async function health(c) {
	const n = c.msgs.length;
	c.send({ op: 'health' });
	return c.next((m) => m.op === 'health' && c.msgs.indexOf(m) >= n);
}

await t.check('a down backend does not block readiness; health says so; jobs go to the other', async () => {
	await a.control({ down: true });
	const inf = await startInferd({ conf: { infer_urls: `${a.url} ${b.url}` } });
	try {
		const c = await inf.connect();
		const h = await health(c);
		eq(h.backends.map((x) => [x.url, x.ok, x.model_ok]), [[a.url, false, false], [b.url, true, true]], 'health');
		assert(h.backends[0].error, 'error for the down backend');
		for (let i = 0; i < 3; i++) {
			const r = await c.infer({ model: 'llama3.2', messages: msgs('hi ' + i) });
			eq([r.final.op, r.final.backend], ['done', b.url], `job ${i}`);
		}
	} finally {
		await a.control({ down: false });
		cleanExit(await inf.stop());
	}
});

await t.check('failure before the first token is retried once on the other backend', async () => {
	await a.control({ resetLog: true, failStatus: 503 });
	await b.control({ resetLog: true });
	const inf = await startInferd({ conf: { infer_urls: `${a.url} ${b.url}` } });
	try {
		const c = await inf.connect();
		const r = await c.infer({ model: 'llama3.2', messages: msgs('try again') });
		eq([r.final.op, r.final.text, r.final.backend], ['done', 'Echo: try again', b.url], `answer (${r.final.message})`);
		eq(chats(a).length, 1, 'attempts on a');
		eq(chats(b).length, 1, 'attempts on b');
		// Both failing: one retry only, then the error.
		await b.control({ failStatus: 500 });
		const r2 = await c.infer({ model: 'llama3.2', messages: msgs('x') });
		eq(r2.final.op, 'error', 'both failing');
		eq(chats(a).length + chats(b).length, 4, 'two attempts, no more');
	} finally {
		await a.control({ failStatus: null });
		await b.control({ failStatus: null });
		cleanExit(await inf.stop());
	}
});

await t.check('failure after the first token is not retried', async () => {
	await a.control({ resetLog: true, errorAfterTokens: 2 });
	await b.control({ resetLog: true, errorAfterTokens: 2 });
	const inf = await startInferd({ conf: { infer_urls: `${a.url} ${b.url}` } });
	try {
		const c = await inf.connect();
		const r = await c.infer({ model: 'llama3.2', messages: msgs('a b c') });
		eq([r.final.op, r.final.code], ['error', 'backend_error'], 'answer');
		eq(chats(a).length + chats(b).length, 1, 'attempts');
	} finally {
		await a.control({ errorAfterTokens: null });
		await b.control({ errorAfterTokens: null });
		cleanExit(await inf.stop());
	}
});

await t.check('least-loaded under infer_max_inflight = 1, then busy', async () => {
	await a.control({ resetLog: true, tokenDelayMs: 150 });
	await b.control({ resetLog: true, tokenDelayMs: 150 });
	const inf = await startInferd({ conf: { infer_urls: `${a.url} ${b.url}`, infer_max_inflight: 1 } });
	try {
		const c = await inf.connect();
		const j1 = jobId(), j2 = jobId(), j3 = jobId();
		c.send({ op: 'infer', job: j1, model: 'llama3.2', messages: msgs('one two three') });
		c.send({ op: 'infer', job: j2, model: 'llama3.2', messages: msgs('four five six') });
		c.send({ op: 'infer', job: j3, model: 'llama3.2', messages: msgs('seven') });
		const f3 = await c.final(j3, 5000);
		eq([f3.op, f3.code, f3.retryable], ['error', 'busy', true], 'third job');
		const h = await health(c);
		eq(h.backends.map((x) => x.inflight), [1, 1], 'in flight');
		const [f1, f2] = await Promise.all([c.final(j1), c.final(j2)]);
		eq([f1.op, f2.op], ['done', 'done'], 'first two');
		assert(f1.backend !== f2.backend, 'both on the same backend');
		eq([chats(a).length, chats(b).length], [1, 1], 'requests per backend');
		eq([a.log().maxInflight, b.log().maxInflight], [1, 1], 'concurrency per backend');
	} finally {
		await a.control({ tokenDelayMs: 5 });
		await b.control({ tokenDelayMs: 5 });
		cleanExit(await inf.stop());
	}
});

await t.check('periodic probes follow a backend going down and back up', async () => {
	const inf = await startInferd({ conf: { infer_urls: `${a.url} ${b.url}`, infer_health_interval: 1 } });
	try {
		const c = await inf.connect();
		eq((await health(c)).backends.map((x) => x.ok), [true, true], 'start');
		await a.control({ down: true });
		await until(async () => !(await health(c)).backends[0].ok, 5000, 'a reported down');
		await a.control({ down: false });
		await until(async () => (await health(c)).backends[0].ok, 5000, 'a reported up');
		await b.control({ models: ['qwen2.5'] });
		await until(async () => !(await health(c)).backends[1].model_ok, 5000, 'b without the model');
		await b.control({ models: ['llama3.2'] });
	} finally {
		cleanExit(await inf.stop());
	}
});

await t.done();
