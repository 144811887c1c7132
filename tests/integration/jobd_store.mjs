// jobd's storefront against the fake spokes (tests/lib/fake-spokes.mjs),
// with inferd's catalog sent by hand (docs/PROTOCOL.md, op catalog):
//   - the catalog reaches the announcement (models, nip90Params.model.values)
//   - pay-first: the quote uses the chosen model's price, and a SIGHUP that
//     changes prices leaves a given quote as it was (new quotes use the new price)
//   - a queued job whose model leaves the catalog ends with "model X is no
//     longer available", without inference or invoice
import fs from 'node:fs';
import path from 'node:path';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { feedbackOf, statusOf } from '../lib/fake-spokes.mjs';
import { fakeSpokeRigs, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_store.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_store.mjs: hard timeout'); process.exit(1); }, 55000);
const { rig, finish } = fakeSpokeRigs('jobd-store-');

const user = generateSecretKey();
const request = (tags) => finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags, content: '' }, user);
const tag = (ev, name) => ev.tags.find((t) => t[0] === name);
const model = (name, ctx = 8192) => ({ name, family: 'llama', parameter_size: '3B', quantization: 'Q4_K_M',
  context_length: ctx, completion: true, cloud: false, backends: ['http://fake'] });
const catalog = (...names) => ({ op: 'catalog', models: names.map((n) => model(n)) });
const paid = { wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1' };

await T.run('the catalog reaches the announcement: every served model, with its price', async () => {
  const { spokes } = await rig({ models: 'llama3.2 qwen2.5:7b', model_prices: 'qwen2.5:7b=5/4' });
  spokes.inferd.send(catalog('llama3.2:latest', 'qwen2.5:7b', 'mistral:latest'));
  const ann = await spokes.waitFor(() => spokes.relayd.published.find((e) => e.kind === 31990), 5000, 'announcement');
  const c = JSON.parse(ann.content);
  assert(JSON.stringify(c.nip90Params.model.values) === '["llama3.2:latest","qwen2.5:7b"]', 'values ' + JSON.stringify(c.nip90Params.model.values));
  const q = c.models.find((m) => m.name === 'qwen2.5:7b');
  assert(q && q.min_price_sats === 5 && q.price_per_1k_tokens === 4 && q.context_length === 8192, 'qwen ' + JSON.stringify(q));
  assert(tag(ann, 'd')[1] === 'sellcompute', 'd tag');
});

await T.run('pay-first: quote at the model\'s price, kept across a SIGHUP that changes it', async () => {
  const conf = { ...paid, payment_mode: 'before', max_tokens: 100, models: 'llama3.2 qwen2.5:7b',
    model_prices: 'qwen2.5:7b=50/10' };
  const { dir, spokes, jobd } = await rig(conf);
  const req = request([['i', 'quote me', 'text'], ['param', 'model', 'qwen2.5:7b'], ['p', jobd.pubkey]]);
  spokes.relayd.inject(req);
  const pr = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req.id).find((e) => statusOf(e) === 'payment-required'), 5000, 'payment-required');
  // max(50, ceil((8 + 100) * 10 / 1000)) = 50 sats
  assert(tag(pr, 'amount')[1] === '50000', 'quote ' + JSON.stringify(tag(pr, 'amount')));
  const file = path.join(dir, 'dvm.conf');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('qwen2.5:7b=50/10', 'qwen2.5:7b=70/10'));
  jobd.proc.kill('SIGHUP');
  await spokes.waitFor(() => /config reloaded/.test(jobd.stderr()), 5000, 'reload');
  spokes.invoiced.pay(req.id);
  const res = await spokes.waitFor(() => spokes.relayd.published.find((e) => e.kind === 6050 && tag(e, 'e')[1] === req.id), 5000, 'result');
  assert(tag(res, 'amount')[1] === '50000', 'result amount after the reload ' + JSON.stringify(tag(res, 'amount')));
  const inf = spokes.inferd.infers.find((m) => m.job === req.id);
  assert(inf.model === 'qwen2.5:7b', 'model sent to inferd: ' + inf.model);
  const st = await jobd.ctl({ op: 'stats' });
  const q = st.models && st.models['qwen2.5:7b'];
  assert(q && q.jobs === 1 && q.sats_invoiced === 50 && q.tokens === 30, 'stats per model ' + JSON.stringify(st.models));
  const req2 = request([['i', 'quote me again', 'text'], ['param', 'model', 'qwen2.5:7b'], ['p', jobd.pubkey]]);
  spokes.relayd.inject(req2);
  const pr2 = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req2.id).find((e) => statusOf(e) === 'payment-required'), 5000, 'payment-required 2');
  assert(tag(pr2, 'amount')[1] === '70000', 'new quote ' + JSON.stringify(tag(pr2, 'amount')));
});

await T.run('pay-after: the bid is checked against the chosen model\'s minimum', async () => {
  const { spokes, jobd } = await rig({ ...paid, payment_mode: 'after', models: 'llama3.2 qwen2.5:7b',
    model_prices: 'qwen2.5:7b=50/10' });
  const low = request([['i', 'cheap', 'text'], ['param', 'model', 'qwen2.5:7b'], ['bid', '10000'], ['p', jobd.pubkey]]);
  const ok = request([['i', 'cheap', 'text'], ['bid', '10000'], ['p', jobd.pubkey]]);
  spokes.relayd.inject(low);
  spokes.relayd.inject(ok);
  const er = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, low.id).find((e) => statusOf(e) === 'error'), 5000, 'error');
  assert(/below the minimum price of 50 sats/.test(tag(er, 'status')[2]), 'message ' + tag(er, 'status')[2]);
  await spokes.waitFor(() => spokes.relayd.published.find((e) => e.kind === 6050 && tag(e, 'e')[1] === ok.id), 5000, 'the default model within the same bid');
});

await T.run('a queued job whose model leaves the catalog: error, no inference, no invoice', async () => {
  const { spokes, jobd } = await rig({ ...paid, payment_mode: 'after', max_concurrent_jobs: 1,
    models: 'llama3.2 qwen2.5:7b' }, { inferHold: true });
  spokes.inferd.send(catalog('llama3.2:latest', 'qwen2.5:7b'));
  await spokes.waitFor(async () => (await jobd.ctl({ op: 'models' })).catalog, 3000, 'catalog at jobd');
  const first = request([['i', 'first', 'text'], ['p', jobd.pubkey]]);
  const second = request([['i', 'second', 'text'], ['param', 'model', 'qwen2.5:7b'], ['p', jobd.pubkey]]);
  spokes.relayd.inject(first);
  await spokes.waitFor(() => spokes.inferd.infers.find((m) => m.job === first.id), 5000, 'first infer');
  spokes.relayd.inject(second);
  await spokes.waitFor(async () => ((await jobd.ctl({ op: 'jobs' })).jobs.find((j) => j.id === second.id) || {}).state === 'queued', 5000, 'second queued');
  spokes.inferd.send(catalog('llama3.2:latest'));
  await spokes.waitFor(async () => !(await jobd.ctl({ op: 'models' })).models.some((m) => m.name === 'qwen2.5:7b' && m.served), 3000, 'qwen gone at jobd');
  spokes.inferd.release(first.id);
  const er = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, second.id).find((e) => statusOf(e) === 'error'), 5000, 'error');
  assert(tag(er, 'status')[2] === 'model qwen2.5:7b is no longer available', 'message ' + tag(er, 'status')[2]);
  assert(!spokes.inferd.infers.some((m) => m.job === second.id), 'inference for the second job');
  assert(!spokes.invoiced.requests.some((m) => m.job === second.id), 'invoice for the second job');
});

const badExits = await finish();
await T.run('every jobd exited 0 on SIGTERM (no leaks under ASan)', async () => {
  assert(badExits.length === 0, badExits.join('; '));
});
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
