// e2e store: the storefront of issue 15 on the real pipeline (scripts/dvm,
// a real relay, the Ollama and LNbits doubles), nostr-tools as requester:
//   - each served model reaches the double under its own name and is priced
//     at its own price (model_prices); the processing message names it
//   - "llama3.2" resolves to "llama3.2:latest" (Ollama's names)
//   - max_tokens is capped by the model's context length minus the prompt
//   - an unserved model, asked of us: error listing what is served, no inference
//   - an unserved model, untargeted: ignored and counted (model_not_served)
//   - the NIP-89 announcement parses and lists every served model in
//     nip90Params.model.values and models[]
//   - a kind-7007 ping for us gets a 7000 "pong"
//   - heartbeats (11998) while online, none while offline
//   - a model removed from the double leaves the announcement (and the
//     served set) once inferd's probes confirm it
//   - models = * serves the completion models only (no embedding, no cloud)
import { finalizeEvent } from 'nostr-tools/pure';
import { World, Report, check, eq, tag, words, promptTokensOf, sleep, waitFor, newKey, ctlRaw } from '../e2e/lib.mjs';
import { MULTI_MODELS } from '../lib/ollama-double.mjs';

const rep = new Report(import.meta.url, 230000);
// mistral with a small context, so the context cap is visible.
const MODELS = MULTI_MODELS.map((m) => (m.name === 'mistral' ? { ...m, context_length: 200 } : m));
const PRICES = { 'llama3.2:latest': [1, 1500], 'qwen2.5:7b': [5, 4], 'mistral:latest': [3, 1.5] };
const w = new World({
  relays: 1,
  ollama: { models: MODELS, answerWithModel: true },
  conf: { models: 'llama3.2 qwen2.5:7b mistral', model_prices: 'qwen2.5:7b=5/4 mistral=3/1.5',
    infer_health_interval: 1, heartbeat_interval: 10 },
});

const price = ([min, per1k], tokens) => Math.max(min, Math.ceil(tokens * per1k / 1000)) * 1000;
const dvmEvents = (kind) => [...w.client.events.values()].filter((e) => e.pubkey === w.dvm && e.kind === kind);
const latestAnnouncement = () => dvmEvents(31990).sort((a, b) => b.created_at - a.created_at)[0];

async function eachModel() {
  for (const [asked, served] of [['llama3.2', 'llama3.2:latest'], ['qwen2.5:7b', 'qwen2.5:7b'],
    ['MISTRAL', 'mistral:latest'], ['', 'llama3.2:latest']]) {
    const prompt = `which model are you ${Math.random().toString(36).slice(2, 8)}`;
    const r = await w.request({ prompt, to: w.dvm, params: asked ? { model: asked } : {} });
    const proc = await w.waitFeedback(r, 'processing');
    check(proc.message.includes(served), `processing message "${proc.message}" does not name ${served}`);
    const res = await w.waitResult(r);
    eq(res.content, `${served}: Echo: ${prompt}`, `answer for ${asked || '(no model)'}`);
    const inf = w.inferences(prompt);
    eq(inf.length, 1, 'inferences at the double');
    eq(inf[0].body.model, served, 'model sent to the double');
    const tokens = promptTokensOf(inf[0].body) + words(res.content);
    eq(res.amount, price(PRICES[served], tokens), `price of ${served} (${tokens} tokens)`);
    if (served === 'mistral:latest')
      eq(inf[0].body.options.num_predict, 200 - Buffer.byteLength(prompt), 'max_tokens capped by the context');
    else
      eq(inf[0].body.options.num_predict, 256, 'max_tokens of a large-context model');
  }
}

async function unserved() {
  const prompt = 'please use the big one ' + Math.random();
  const r = await w.request({ prompt, to: w.dvm, params: { model: 'llama3.1:70b' } });
  const err = await w.waitFeedback(r, 'error');
  check(/"llama3\.1:70b" is not served here; served: llama3\.2:latest .*qwen2\.5:7b .*mistral:latest/.test(err.message),
    `error message: ${err.message}`);
  eq(w.inferences(prompt).length, 0, 'inferences for an unserved model');
  eq((await w.feedback(r)).filter((f) => f.status !== 'error').length, 0, 'other feedback (invoice, processing)');
}

async function untargeted() {
  const key = newKey();
  const before = (await w.pipe.ctl('stats')).rejections.model_not_served || 0;
  const a = await w.request({ key, prompt: 'not for us ' + Math.random(), params: { model: 'gpt-4o' } });
  const b = await w.request({ key, prompt: 'for us after it ' + Math.random(), params: { model: 'qwen2.5:7b' } });
  await w.waitResult(b);	/* requests are handled in order: a came first */
  eq((await w.decoded(a)).length, 0, 'events about the untargeted unserved request');
  const after = (await w.pipe.ctl('stats')).rejections.model_not_served || 0;
  check(after >= before + 1, `model_not_served ${before} -> ${after}`);
}

async function announcement() {
  const ann = await waitFor(() => {
    const e = latestAnnouncement();
    try { return e && JSON.parse(e.content).models.length === 3 ? e : null; } catch { return null; }
  }, 20000, 'an announcement with the three models');
  eq(tag(ann, 'd')[1], 'sellcompute', 'd tag');
  eq(tag(ann, 'k')[1], '5050', 'k tag');
  check(ann.content.length <= 8192, `content ${ann.content.length} bytes`);
  const c = JSON.parse(ann.content);
  const names = ['llama3.2:latest', 'qwen2.5:7b', 'mistral:latest'];
  eq(JSON.stringify(c.nip90Params.model.values), JSON.stringify(names), 'nip90Params.model.values');
  eq(JSON.stringify(c.models.map((m) => m.name)), JSON.stringify(names), 'models[].name');
  eq(c.nip90Params.model.required, false, 'model param not required');
  for (const p of ['max_tokens', 'temperature', 'top_k', 'top_p', 'frequency_penalty'])
    check(c.nip90Params[p] && c.nip90Params[p].required === false && Array.isArray(c.nip90Params[p].values), `nip90Params.${p}`);
  const q = c.models.find((m) => m.name === 'qwen2.5:7b');
  check(q.min_price_sats === 5 && q.price_per_1k_tokens === 4 && q.context_length === 32768 &&
    q.family === 'qwen2' && q.parameter_size === '7.6B' && q.quantization === 'Q4_K_M', `qwen entry ${JSON.stringify(q)}`);
  eq(c.default_model, 'llama3.2:latest', 'default_model');
  eq(c.amount, 'flexible', 'amount');
  check(c.supportsEncryption === true && c.encryptionSupported === true, 'encryption flags');
  check(/qwen2\.5:7b \(5 sats min \+ 4\/1k tok\)/.test(c.about), `about: ${c.about}`);
  const m = await w.pipe.ctl('models');
  eq(JSON.stringify(m.models.filter((x) => x.served).map((x) => x.name)), JSON.stringify(names), 'dvmctl models served');
  check(m.models.some((x) => x.name === 'nomic-embed-text:latest' && !x.served), 'embedding model listed, not served');
  const text = await ctlRaw(w.pipe.confPath, ['models']);
  check(text.code === 0 && /^qwen2\.5:7b +yes +5\+4\/1k +256 +32768 +http/m.test(text.stdout), `dvmctl models: ${text.stdout}`);
}

async function ping() {
  const key = newKey();
  const ev = finalizeEvent({ kind: 7007, created_at: Math.floor(Date.now() / 1000),
    tags: [['p', w.dvm]], content: '' }, key.sk);
  await w.client.publishOk(ev);
  const pong = await waitFor(() => w.client.about(ev.id, w.dvm).find((e) => e.kind === 7000), 15000, 'pong');
  eq(tag(pong, 'status')[1], 'pong', 'status');
  eq(tag(pong, 'p')[1], key.pk, 'p tag');
}

async function heartbeat() {
  const beat = await waitFor(() => dvmEvents(11998)[0], 20000, 'a heartbeat');
  eq(tag(beat, 'd')[1], 'sellcompute', 'heartbeat d');
  const exp = Number(tag(beat, 'expiration')[1]);
  eq(exp - beat.created_at, 10, 'expiration one interval ahead');
  check(tag(beat, 'queue') && tag(beat, 'accepting'), `queue/accepting tags ${JSON.stringify(beat.tags)}`);
  await w.pipe.ctl('offline');
  const n = dvmEvents(11998).length;
  await sleep(13000);	/* more than one heartbeat_interval */
  eq(dvmEvents(11998).length, n, 'heartbeats while offline');
  await w.pipe.ctl('online');
  await waitFor(() => dvmEvents(11998).length > n, 20000, 'a heartbeat once online again');
}

async function removed() {
  await w.ollama.control({ models: MODELS.filter((m) => m.name !== 'mistral') });
  const ann = await waitFor(() => {
    const e = latestAnnouncement();
    const c = e && JSON.parse(e.content);
    return c && !c.nip90Params.model.values.includes('mistral:latest') ? c : null;
  }, 90000, 'an announcement without mistral', 250);
  eq(JSON.stringify(ann.models.map((m) => m.name)), JSON.stringify(['llama3.2:latest', 'qwen2.5:7b']), 'models left');
  const r = await w.request({ prompt: 'mistral please', to: w.dvm, params: { model: 'mistral' } });
  const err = await w.waitFeedback(r, 'error');
  check(/not served here/.test(err.message), `error for a removed model: ${err.message}`);
}

async function star() {
  const w2 = new World({ relays: 1, wallet: false, ollama: { models: MODELS },
    conf: { models: '*', infer_health_interval: 1 } });
  try {
    await w2.start();
    const m = await waitFor(async () => {
      const x = await w2.pipe.ctl('models');
      return x.catalog ? x : null;
    }, 15000, 'a catalog at jobd');
    const served = m.models.filter((x) => x.served).map((x) => x.name).sort();
    eq(JSON.stringify(served), JSON.stringify(['llama3.2:latest', 'mistral:latest', 'qwen2.5:7b']), 'models = * serves');
    check(m.models.some((x) => x.name === 'gpt-oss:120b-cloud' && !x.served), 'cloud model not served');
  } finally {
    await w2.stopAll(rep);
  }
}

try {
  await w.start();
  await rep.run('announcement parses with nostr-tools and lists every served model', announcement, 30000);
  await rep.run('each served model reaches the double under its name, at its price; llama3.2 is llama3.2:latest', eachModel, 40000);
  await rep.run('unserved model asked of us: error listing the served ones, no inference', unserved, 20000);
  await rep.run('unserved model, untargeted: ignored and counted', untargeted, 20000);
  await rep.run('a kind-7007 ping is answered with a pong', ping, 20000);
  await rep.run('heartbeat while online, none while offline', heartbeat, 60000);
  await rep.run('a model removed from the double leaves the announcement', removed, 100000);
} catch (e) {
  rep.fail('setup', e.message);
} finally {
  await w.stopAll(rep).catch((e) => rep.fail('teardown', e.message));
}
await rep.run('models = * serves the completion models only', star, 60000).catch((e) => rep.fail('models = *', e.message));
rep.done();
