// inferd_errors.mjs: what the backend does wrong becomes a clear error,
// never a success: unknown model (message names model and backend),
// an error line mid-stream with status 200, a stream cut without done,
// HTTP 500 and 503, a backend that is down; and the output cap truncates.
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startInferd, suite, assert, eq, cleanExit } from '../lib/inferd-rig.mjs';

const t = suite('inferd_errors.mjs', 50000);
const d = await startOllamaDouble({ tokenDelayMs: 5 });
t.cleanup(() => d.close());
const inf = await startInferd({ conf: { infer_urls: d.url, infer_max_output: 40, chunk_interval_ms: 0 } });
t.cleanup(() => inf.proc.kill('SIGKILL'));
const c = await inf.connect();
const msgs = (s) => [{ role: 'user', content: s }];

await t.check('unknown model: unknown_model naming the model and the backend', async () => {
	const r = await c.infer({ model: 'mistral:7b', messages: msgs('hi') });
	eq([r.final.op, r.final.code, r.final.retryable], ['error', 'unknown_model', false], 'answer');
	assert(r.final.message.includes('mistral:7b'), `no model in: ${r.final.message}`);
	assert(r.final.message.includes(d.url), `no backend in: ${r.final.message}`);
});

await t.check('error line mid-stream (status 200): backend_error, quoted', async () => {
	await d.control({ errorAfterTokens: 2, errorMessage: 'CUDA error: out of memory' });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('a b c d e') });
	await d.control({ errorAfterTokens: null });
	eq([r.final.op, r.final.code], ['error', 'backend_error'], 'answer');
	assert(r.final.message.includes('CUDA error: out of memory'), `message: ${r.final.message}`);
	eq(r.text, 'Echo: a', 'chunks before the error');
});

await t.check('stream cut without done: incomplete, retryable', async () => {
	await d.control({ cutAfterTokens: 3 });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('a b c d e') });
	await d.control({ cutAfterTokens: null });
	eq([r.final.op, r.final.code, r.final.retryable], ['error', 'incomplete', true], 'answer');
});

await t.check('HTTP 500 before the stream: backend_error with the body quoted', async () => {
	await d.control({ failStatus: 500 });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('x') });
	await d.control({ failStatus: null });
	eq([r.final.op, r.final.code, r.final.retryable], ['error', 'backend_error', true], 'answer');
	assert(/HTTP 500/.test(r.final.message) && /model runner has unexpectedly stopped/.test(r.final.message),
	    `message: ${r.final.message}`);
});

await t.check('HTTP 503: busy, retryable', async () => {
	await d.control({ failStatus: 503 });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('x') });
	await d.control({ failStatus: null });
	eq([r.final.op, r.final.code, r.final.retryable], ['error', 'busy', true], 'answer');
	assert(/server busy/.test(r.final.message), `message: ${r.final.message}`);
});

await t.check('output over infer_max_output: done, truncated at the cap, transfer stopped', async () => {
	await d.control({ resetLog: true, answerWords: 200, tokenDelayMs: 2 });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('long please') });
	await d.control({ answerWords: null, tokenDelayMs: 5 });
	eq([r.final.op, r.final.done_reason], ['done', 'truncated'], `answer (${r.final.message})`);
	eq(r.final.text, 'w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w', 'text cut at 40 bytes');
	eq(r.text, r.final.text, 'chunks match');
	const req = d.log().requests.find((x) => x.path === '/api/chat');
	assert(req.tokensSent < 200, `backend sent all ${req.tokensSent} tokens`);
});

await t.check('the cap never splits a UTF-8 sequence', async () => {
	await d.control({ answer: 'a' + '\u00e9'.repeat(30) });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('x') });
	await d.control({ answer: null });
	eq([r.final.op, r.final.done_reason], ['done', 'truncated'], 'answer');
	eq(r.final.text, 'a' + '\u00e9'.repeat(19), 'text (39 bytes)');
});

await t.check('an empty answer is an error, not a success', async () => {
	await d.control({ answer: '' });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('say nothing') });
	await d.control({ answer: null });
	eq([r.final.op, r.final.code, r.final.retryable], ['error', 'backend_error', true], 'answer');
	assert(/empty answer/.test(r.final.message), `message: ${r.final.message}`);
});

await t.check('backend down: backend_down, retryable; back up: works again', async () => {
	await d.control({ down: true });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('x') });
	eq([r.final.op, r.final.code, r.final.retryable], ['error', 'backend_down', true], 'answer');
	await d.control({ down: false });
	const r2 = await c.infer({ model: 'llama3.2', messages: msgs('back') });
	eq([r2.final.op, r2.final.text], ['done', 'Echo: back'], 'after recovery');
});

await t.check('exit 0, clean', async () => {
	cleanExit(await inf.stop());
});

await t.done();
