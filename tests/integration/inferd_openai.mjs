// inferd_openai.mjs: the OpenAI-compatible backend (llama.cpp / vLLM /
// Ollama /v1) over SSE: CRLF framing and ": keep-alive" comments, usage
// counts, keep-alive pings holding a slow start open, the bearer token from
// openai_api_key_file, an error event, a cut stream, unknown model, health
// through /v1/models.
import fs from 'node:fs';
import path from 'node:path';
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startInferd, suite, assert, eq, cleanExit, words, tmpdir } from '../lib/inferd-rig.mjs';

const t = suite('inferd_openai.mjs', 50000);
const KEY = 'sk-test-0123456789';
const d = await startOllamaDouble({ tokenDelayMs: 10, apiKey: KEY, sseComments: true, sseCrlf: true });
t.cleanup(() => d.close());
const kdir = tmpdir('inferd-key-');
const keyFile = path.join(kdir, 'openai.key');
fs.writeFileSync(keyFile, KEY + '\n', { mode: 0o600 });
t.cleanup(() => fs.rmSync(kdir, { recursive: true, force: true }));
const conf = { infer_backend: 'openai', infer_urls: d.url, openai_api_key_file: keyFile };
const inf = await startInferd({ conf });
t.cleanup(() => inf.proc.kill('SIGKILL'));
const c = await inf.connect();
const msgs = (s) => [{ role: 'user', content: s }];
const last = () => d.log().requests.filter((r) => r.path === '/v1/chat/completions').pop();

await t.check('SSE with CRLF and comments: text, usage counts, request shape, bearer', async () => {
	const r = await c.infer({ model: 'llama3.2', messages: msgs('red green blue'), options: { max_tokens: 50, seed: 1 } });
	eq([r.final.op, r.final.text, r.final.done_reason], ['done', 'Echo: red green blue', 'stop'], `answer (${r.final.message})`);
	eq(r.text, r.final.text, 'chunks');
	eq([r.final.prompt_tokens, r.final.completion_tokens], [3, 4], 'usage');
	const req = last();
	eq(req.authorization, 'Bearer ' + KEY, 'Authorization');
	eq(req.accept, 'text/event-stream', 'Accept');
	eq([req.body.stream, req.body.stream_options, req.body.max_tokens, req.body.seed],
	    [true, { include_usage: true }, 50, 1], 'body');
	assert(!('options' in req.body) && !('num_predict' in req.body), 'Ollama-native fields sent');
	assert(!inf.stderr.includes(KEY), 'the key is in the log');
});

await t.check('max_tokens reached: done_reason length', async () => {
	const r = await c.infer({ model: 'llama3.2', messages: msgs('a b c d'), options: { max_tokens: 2 } });
	eq([r.final.op, r.final.text, r.final.done_reason, r.final.completion_tokens], ['done', 'Echo: a', 'length', 2], 'answer');
});

await t.check('raw prompt becomes one user message', async () => {
	const r = await c.infer({ model: 'llama3.2', prompt: 'tell me' });
	eq(r.final.text, 'Echo: tell me', 'text');
	eq(last().body.messages, [{ role: 'user', content: 'tell me' }], 'messages');
});

await t.check('error event mid-stream: backend_error with its message', async () => {
	await d.control({ errorAfterTokens: 1, errorMessage: 'slot 0 crashed' });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('a b c') });
	await d.control({ errorAfterTokens: null });
	eq([r.final.op, r.final.code], ['error', 'backend_error'], 'answer');
	assert(r.final.message.includes('slot 0 crashed'), `message: ${r.final.message}`);
});

await t.check('stream cut without finish_reason or [DONE]: incomplete', async () => {
	await d.control({ cutAfterTokens: 2 });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('a b c') });
	await d.control({ cutAfterTokens: null });
	eq([r.final.op, r.final.code], ['error', 'incomplete'], 'answer');
});

await t.check('unknown model: unknown_model naming model and backend', async () => {
	const r = await c.infer({ model: 'gpt-9', messages: msgs('x') });
	eq([r.final.op, r.final.code], ['error', 'unknown_model'], 'answer');
	assert(r.final.message.includes('gpt-9') && r.final.message.includes(d.url), `message: ${r.final.message}`);
});

await t.check('wrong key: backend_error, not retryable', async () => {
	await d.control({ apiKey: 'another' });
	const r = await c.infer({ model: 'llama3.2', messages: msgs('x') });
	await d.control({ apiKey: KEY });
	eq([r.final.op, r.final.code, r.final.retryable], ['error', 'backend_error', false], 'answer');
	assert(/HTTP 401/.test(r.final.message), `message: ${r.final.message}`);
});

await t.check('health through /v1/models with the bearer', async () => {
	c.send({ op: 'health' });
	const h = await c.next((m) => m.op === 'health');
	eq([h.backends[0].kind, h.backends[0].ok, h.backends[0].model_ok], ['openai', true, true], 'health');
	const probe = d.log().requests.find((r) => r.path === '/v1/models');
	eq(probe.authorization, 'Bearer ' + KEY, 'probe Authorization');
	cleanExit(await inf.stop());
});

await t.check('keep-alive comments hold a slow start open past the idle timeout', async () => {
	await d.control({ firstByteDelayMs: 2500, sseKeepAliveMs: 300, sseComments: false });
	const inf2 = await startInferd({ conf: { ...conf, infer_idle_timeout: 1, infer_first_byte_timeout: 1 } });
	try {
		const c2 = await inf2.connect();
		const r = await c2.infer({ model: 'llama3.2', messages: msgs('patience') });
		eq([r.final.op, r.final.text], ['done', 'Echo: patience'], `answer (${r.final.message})`);
		eq(r.final.prompt_tokens, words('patience'), 'usage');
	} finally {
		cleanExit(await inf2.stop());
	}
});

await t.done();
