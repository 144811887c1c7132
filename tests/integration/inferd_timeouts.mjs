// inferd_timeouts.mjs: every timeout path ends in its own error code, in
// about the configured time, with the transfer closed: connect (a loopback
// port whose accept queue is full: connect hangs), first byte (the double
// never answers, like Ollama loading a model), idle (tokens stop), total.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startInferd, suite, assert, eq, cleanExit, jobId, until, UNITDIR } from '../lib/inferd-rig.mjs';

const t = suite('inferd_timeouts.mjs', 55000);
const d = await startOllamaDouble({});
t.cleanup(() => d.close());
const msgs = [{ role: 'user', content: 'a b c d e f g h i j k l m n o p q r s t' }];

async function timed(inf, req) {
	const c = await inf.connect();
	const t0 = Date.now();
	const job = jobId();
	c.send({ op: 'infer', job, model: 'llama3.2', ...req });
	const f = await c.final(job, 10000);
	return { f, ms: Date.now() - t0, c, job };
}

await t.check('connect timeout: timeout_connect after infer_connect_timeout', async () => {
	const bh = spawn(path.join(UNITDIR, 'tool_inferd_blackhole'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
	t.cleanup(() => bh.kill());
	const port = await new Promise((res, rej) => {
		bh.stdout.on('data', (x) => { const m = /PORT (\d+)/.exec(String(x)); if (m) res(m[1]); });
		bh.on('exit', (code) => rej(new Error(`blackhole exited ${code}`)));
	});
	const inf = await startInferd({ conf: { infer_urls: `http://127.0.0.1:${port}`, infer_connect_timeout: 1 } });
	try {
		const { f, ms } = await timed(inf, { messages: msgs });
		eq([f.op, f.code, f.retryable], ['error', 'timeout_connect', true], `answer (${f.message})`);
		assert(ms >= 900 && ms < 4000, `took ${ms} ms`);
		const c = await inf.connect();
		c.send({ op: 'health' });
		const h = await c.next((m) => m.op === 'health');
		eq(h.backends[0].ok, false, 'health ok');
		assert(typeof h.backends[0].error === 'string' && h.backends[0].error.length > 0, 'health error');
	} finally {
		cleanExit(await inf.stop());
		bh.stdin.end();
	}
});

await t.check('first-byte timeout: timeout_first_byte, connection closed', async () => {
	await d.control({ resetLog: true, hang: true });
	const inf = await startInferd({ conf: { infer_urls: d.url, infer_first_byte_timeout: 1, infer_idle_timeout: 30 } });
	try {
		const { f, ms } = await timed(inf, { messages: msgs });
		eq([f.op, f.code, f.retryable], ['error', 'timeout_first_byte', false], `answer (${f.message})`);
		assert(ms >= 900 && ms < 4000, `took ${ms} ms`);
		const req = await until(() => d.log().requests.find((r) => r.path === '/api/chat' && r.endedMs), 3000, 'disconnect');
		eq(req.clientClosed, true, 'client closed');
	} finally {
		await d.control({ hang: false });
		cleanExit(await inf.stop());
	}
});

await t.check('slow first byte within the limit is not an error (cold model load)', async () => {
	await d.control({ resetLog: true, firstByteDelayMs: 1500, tokenDelayMs: 0 });
	const inf = await startInferd({ conf: { infer_urls: d.url, infer_first_byte_timeout: 3, infer_idle_timeout: 1 } });
	try {
		const { f } = await timed(inf, { messages: [{ role: 'user', content: 'wake up' }] });
		eq([f.op, f.text], ['done', 'Echo: wake up'], `answer (${f.message})`);
	} finally {
		await d.control({ firstByteDelayMs: 0 });
		cleanExit(await inf.stop());
	}
});

await t.check('idle timeout: timeout_idle after the tokens stop', async () => {
	await d.control({ resetLog: true, stallAfterTokens: 3, tokenDelayMs: 10 });
	const inf = await startInferd({ conf: { infer_urls: d.url, infer_idle_timeout: 1, chunk_interval_ms: 0 } });
	try {
		const { f, ms, c, job } = await timed(inf, { messages: msgs });
		eq([f.op, f.code, f.retryable], ['error', 'timeout_idle', true], `answer (${f.message})`);
		assert(ms >= 900 && ms < 4000, `took ${ms} ms`);
		eq(c.chunks(job).map((x) => x.text).join(''), 'Echo: a b', 'chunks before the stall');
		const req = await until(() => d.log().requests.find((r) => r.path === '/api/chat' && r.endedMs), 3000, 'disconnect');
		eq(req.clientClosed, true, 'client closed');
	} finally {
		await d.control({ stallAfterTokens: null });
		cleanExit(await inf.stop());
	}
});

await t.check('total timeout: timeout_total while tokens still flow', async () => {
	await d.control({ resetLog: true, tokenDelayMs: 200 });
	const inf = await startInferd({ conf: { infer_urls: d.url, infer_total_timeout: 1, infer_idle_timeout: 5 } });
	try {
		const { f, ms } = await timed(inf, { messages: msgs });
		eq([f.op, f.code, f.retryable], ['error', 'timeout_total', false], `answer (${f.message})`);
		assert(ms >= 900 && ms < 3000, `took ${ms} ms`);
		const req = await until(() => d.log().requests.find((r) => r.path === '/api/chat' && r.endedMs), 3000, 'disconnect');
		eq(req.clientClosed, true, 'client closed');
	} finally {
		await d.control({ tokenDelayMs: 0 });
		cleanExit(await inf.stop());
	}
});

await t.done();
