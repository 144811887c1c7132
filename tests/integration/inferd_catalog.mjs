// inferd_catalog.mjs: the catalog op (docs/PROTOCOL.md) against the Ollama
// double listing several models (capabilities, an embedding-only model, a
// cloud model) on the native API and on the OpenAI-compatible one; routing
// by model: a job goes to a backend that has its model, failing over among
// those; a model another backend lacks never reaches it.
import { startOllamaDouble, MULTI_MODELS } from '../lib/ollama-double.mjs';
import { startInferd, suite, assert, eq, cleanExit, until } from '../lib/inferd-rig.mjs';

const t = suite('inferd_catalog.mjs', 55000);
const a = await startOllamaDouble({ models: MULTI_MODELS, answerWithModel: true });
const b = await startOllamaDouble({ models: ['llama3.2'], answerWithModel: true });
t.cleanup(() => a.close());
t.cleanup(() => b.close());
const msgs = (s) => [{ role: 'user', content: s }];
const chats = (d) => d.log().requests.filter((r) => r.path === '/api/chat' || r.path === '/v1/chat/completions');

async function catalog(c) {
	const n = c.msgs.length;
	c.send({ op: 'catalog' });
	return c.next((m) => m.op === 'catalog' && c.msgs.indexOf(m) >= n);
}

await t.check('ollama: catalog lists every model with its details, capabilities and backends', async () => {
	const inf = await startInferd({ conf: { infer_urls: `${a.url} ${b.url}` } });
	try {
		const c = await inf.connect();
		const cat = await until(async () => {
			const x = await catalog(c);
			return x.models.length === 5 ? x : null;
		}, 5000, 'five models');
		const by = Object.fromEntries(cat.models.map((m) => [m.name, m]));
		const q = by['qwen2.5:7b'];
		eq([q.family, q.parameter_size, q.quantization, q.context_length, q.completion, q.cloud],
			['qwen2', '7.6B', 'Q4_K_M', 32768, true, false], 'qwen entry');
		eq(by['nomic-embed-text:latest'].completion, false, 'embedding model completes');
		eq(by['gpt-oss:120b-cloud'].cloud, true, 'cloud model');
		eq(by['llama3.2:latest'].backends, [a.url, b.url], 'llama3.2 backends');
		eq(q.backends, [a.url], 'qwen backends');
	} finally {
		cleanExit(await inf.stop());
	}
});

await t.check('routing: each model goes only to a backend that has it', async () => {
	await a.control({ resetLog: true });
	await b.control({ resetLog: true });
	const inf = await startInferd({ conf: { infer_urls: `${b.url} ${a.url}` } });
	try {
		const c = await inf.connect();
		await until(async () => (await catalog(c)).models.length === 5, 5000, 'catalog');
		for (let i = 0; i < 3; i++) {
			const r = await c.infer({ model: 'qwen2.5:7b', messages: msgs('q ' + i) });
			eq([r.final.op, r.final.backend, r.final.text], ['done', a.url, `qwen2.5:7b: Echo: q ${i}`], `qwen job ${i}`);
		}
		eq(chats(b).length, 0, 'requests to the backend without qwen');
		const e = await c.infer({ model: 'nomic-embed-text', messages: msgs('embed me') });
		eq([e.final.op, e.final.code], ['error', 'backend_error'], 'embedding model asked to chat');
	} finally {
		cleanExit(await inf.stop());
	}
});

await t.check('openai: /v1/models ids are the catalog, every one a completion model', async () => {
	const inf = await startInferd({ conf: { infer_backend: 'openai', infer_urls: a.url } });
	try {
		const c = await inf.connect();
		const cat = await until(async () => {
			const x = await catalog(c);
			return x.models.length === 5 ? x : null;
		}, 5000, 'five ids');
		assert(cat.models.every((m) => m.completion && !m.cloud && m.backends[0] === a.url), 'entries ' + JSON.stringify(cat.models));
		const r = await c.infer({ model: 'mistral:latest', messages: msgs('hi') });
		eq([r.final.op, r.final.text], ['done', 'mistral:latest: Echo: hi'], 'answer');
	} finally {
		cleanExit(await inf.stop());
	}
});

await t.done();
