// inferd_stream.mjs: inferd against the Ollama double: streaming and
// non-streaming chat, raw-prompt generate, exact option mapping on the
// wire, chunk coalescing, max_tokens -> done_reason length, health, bad
// lines, clean exit under the sanitizers.
import fs from 'node:fs';
import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startInferd, suite, assert, eq, cleanExit, words, sleep } from '../lib/inferd-rig.mjs';

const t = suite('inferd_stream.mjs', 50000);
const d = await startOllamaDouble({ tokenDelayMs: 30 });
t.cleanup(() => d.close());
const inf = await startInferd({ conf: { infer_urls: d.url, chunk_interval_ms: 100, keep_alive: '300' } });
t.cleanup(() => inf.proc.kill('SIGKILL'));
const c = await inf.connect();
const user = 'the quick brown fox jumps over the lazy dog again';

await t.check('streaming chat: chunks add up to the text, counts exact', async () => {
	const r = await c.infer({ model: 'llama3.2', messages: [{ role: 'system', content: 'be kind' },
		{ role: 'user', content: user }] });
	const want = 'Echo: ' + user;
	eq(r.final.op, 'done', 'op');
	eq(r.final.text, want, 'text');
	eq(r.text, want, 'concatenated chunks');
	eq(r.final.prompt_tokens, 2 + words(user), 'prompt_tokens');
	eq(r.final.completion_tokens, words(want), 'completion_tokens');
	eq(r.final.done_reason, 'stop', 'done_reason');
	eq(r.final.model, 'llama3.2', 'model');
	eq(r.final.backend, d.url, 'backend');
	assert(Number.isInteger(r.final.ms) && r.final.ms > 0, 'ms');
	// 11 tokens 30 ms apart over ~330 ms: coalescing at 100 ms gives a handful, not 11,
	// never two lines of one job closer than chunk_interval_ms (but for the
	// last, which flushes the rest right before done).
	assert(r.chunks.length >= 2 && r.chunks.length <= 6, `chunk lines: ${r.chunks.length}`);
	const at = r.chunks.map((m) => c.times[c.msgs.indexOf(m)]);
	for (let i = 1; i < at.length - 1; i++)
		assert(at[i] - at[i - 1] >= 60, `chunks ${at[i] - at[i - 1]} ms apart`);
	const req = d.log().requests.filter((x) => x.path === '/api/chat').pop();
	eq(req.accept, 'application/x-ndjson', 'Accept header');
	eq(req.body.stream, true, 'stream to backend');
	eq(req.body.keep_alive, 300, 'keep_alive as seconds');
	eq(req.body.messages, [{ role: 'system', content: 'be kind' }, { role: 'user', content: user }], 'messages');
});

await t.check('options mapped exactly, defaults from the config, no load-time options', async () => {
	const r = await c.infer({ model: 'llama3.2', messages: [{ role: 'user', content: 'a b c' }],
		options: { max_tokens: 2, temperature: 0.2, top_k: 5, top_p: 0.5, frequency_penalty: 0.3,
			presence_penalty: 0.4, repeat_penalty: 1.2, seed: 7, stop: ['zz'] } });
	eq(r.final.done_reason, 'length', 'done_reason');
	eq(r.final.text, 'Echo: a', 'text cut by num_predict');
	eq(r.final.completion_tokens, 2, 'completion_tokens');
	const body = d.log().requests.filter((x) => x.path === '/api/chat').pop().body;
	eq(body.options, { num_predict: 2, temperature: 0.2, top_k: 5, top_p: 0.5, frequency_penalty: 0.3,
		presence_penalty: 0.4, repeat_penalty: 1.2, seed: 7, stop: ['zz'] }, 'options');
	await c.infer({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }] });
	const body2 = d.log().requests.filter((x) => x.path === '/api/chat').pop().body;
	// dvm.conf defaults: max_tokens 512, temperature 0.7, top_k 40, top_p 0.9, frequency_penalty 0.5.
	eq(body2.options, { num_predict: 512, temperature: 0.7, top_k: 40, top_p: 0.9, frequency_penalty: 0.5 },
	    'default options');
	assert(!('num_ctx' in body2.options), 'num_ctx sent');
});

await t.check('stream:false sends no chunk, only done', async () => {
	const r = await c.infer({ model: 'llama3.2', stream: false, messages: [{ role: 'user', content: 'quiet please' }] });
	eq(r.final.op, 'done', 'op');
	eq(r.final.text, 'Echo: quiet please', 'text');
	eq(r.chunks.length, 0, 'chunks');
});

await t.check('raw prompt goes to /api/generate', async () => {
	const before = d.log().requests.filter((x) => x.path === '/api/generate').length;
	const r = await c.infer({ model: 'llama3.2', prompt: 'once upon a time' });
	eq(r.final.text, 'Echo: once upon a time', 'text');
	eq(r.final.prompt_tokens, 4, 'prompt_tokens');
	eq(r.final.completion_tokens, 5, 'completion_tokens');
	const reqs = d.log().requests.filter((x) => x.path === '/api/generate');
	eq(reqs.length, before + 1, 'generate requests');
	eq(reqs.pop().body.prompt, 'once upon a time', 'prompt');
});

await t.check('final chunk carrying text is kept', async () => {
	await d.control({ textInDone: true });
	const r = await c.infer({ model: 'llama3.2', messages: [{ role: 'user', content: 'tail end' }] });
	await d.control({ textInDone: false });
	eq(r.final.text, 'Echo: tail end', 'text');
	eq(r.text, 'Echo: tail end', 'chunks');
	eq(r.final.completion_tokens, 3, 'completion_tokens');
});

await t.check('inferd.sock has mode 0660', async () => {
	eq((fs.statSync(inf.sock).mode & 0o777).toString(8), '660', 'mode');
});

await t.check('health reports the backend, its models and the model check', async () => {
	c.send({ op: 'health' });
	const h = await c.next((m) => m.op === 'health');
	eq(h.backends.length, 1, 'backends');
	const b = h.backends[0];
	eq([b.url, b.kind, b.ok, b.model_ok, b.inflight, b.max_inflight], [d.url, 'ollama', true, true, 0, 4], 'backend');
	eq(b.models, ['llama3.2:latest'], 'models');
	const paths = d.log().requests.map((x) => x.path);
	assert(paths.includes('/api/version') && paths.includes('/api/tags'), 'probe paths');
});

await t.check('bad lines are dropped; a bad infer naming a job gets bad_request', async () => {
	const job = 'f'.repeat(64);
	c.send('this is not json');
	c.send({ op: 'frobnicate' });
	c.send({ no: 'op' });
	c.send({ op: 'infer', job, model: 'llama3.2', messages: [{ role: 'user', content: 'x' }],
		options: { temperature: '0.7' } });
	const e = await c.final(job);
	eq([e.op, e.code, e.retryable], ['error', 'bad_request', false], 'answer');
	assert(/temperature/.test(e.message), `message: ${e.message}`);
	const r = await c.infer({ model: 'llama3.2', messages: [{ role: 'user', content: 'still here' }] });
	eq(r.final.text, 'Echo: still here', 'connection still works');
});

await t.check('SIGTERM: exit 0, clean under the sanitizers', async () => {
	await sleep(50);
	cleanExit(await inf.stop());
});

await t.done();
