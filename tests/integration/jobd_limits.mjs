// jobd limits and recoveries against the fake spokes: rate limiting,
// tag and size caps, refuse_unpaid_after, partial results, retryable
// inference errors, a refused invoice in pay-after, the relays tag, status.
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { feedbackOf, statusOf } from '../lib/fake-spokes.mjs';
import { fakeSpokeRigs, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_limits.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_limits.mjs: hard timeout'); process.exit(1); }, 58000);
const { rig, finish } = fakeSpokeRigs('jobd-limits-');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const mk = (sk, tags, content = '') => finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags, content }, sk);
const resultOf = (pub, id) => pub.find((e) => e.kind === 6050 && e.tags.some((t) => t[0] === 'e' && t[1] === id));
const errorOf = (s, id) => s.waitFor(() => feedbackOf(s.relayd.published, id).find((e) => statusOf(e) === 'error'), 3000, 'error feedback');
const tag = (e, n) => e.tags.find((t) => t[0] === n);

await T.run('rate limit: a flood from one key gets nothing past the bucket; another key is served', async () => {
  const { spokes, jobd } = await rig({ rate_limit_per_min: 3 });
  const flood = generateSecretKey(), other = generateSecretKey();
  const evs = Array.from({ length: 8 }, (_, i) => mk(flood, [['i', `flood ${i}`, 'text']]));
  for (const e of evs) spokes.relayd.inject(e);
  const ok = mk(other, [['i', 'calm', 'text']]);
  spokes.relayd.inject(ok);
  await spokes.waitFor(() => resultOf(spokes.relayd.published, ok.id), 5000, 'other key served');
  await sleep(300);
  const answered = evs.filter((e) => spokes.relayd.published.some((p) => p.tags.some((t) => t[0] === 'e' && t[1] === e.id)));
  assert(answered.length === 3, 'answered ' + answered.length);
  const st = await jobd.ctl({ op: 'stats' });
  assert(st.rejections.rate_limited === 5, 'rate_limited ' + JSON.stringify(st.rejections));
});

await T.run('caps: too many tags and too large input are answered with the limit', async () => {
  const { spokes } = await rig({ max_tags: 4, max_prompt_bytes: 100 });
  const u = generateSecretKey();
  const a = mk(u, [['i', 'x'], ['t', '1'], ['t', '2'], ['t', '3'], ['t', '4']]);
  const b = mk(u, [['i', 'y'.repeat(60)], ['i', 'z'.repeat(60)]]);
  spokes.relayd.inject(a);
  spokes.relayd.inject(b);
  assert(/too many tags \(at most 4\)/.test(tag(await errorOf(spokes, a.id), 'status')[2]), 'tags');
  assert(/input too large: 122 bytes \(at most 100\)/.test(tag(await errorOf(spokes, b.id), 'status')[2]), 'size');
});

await T.run('refuse_unpaid_after: the Nth unpaid result blocks the next request', async () => {
  const { spokes } = await rig({ wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1', payment_mode: 'after', refuse_unpaid_after: 2 });
  const u = generateSecretKey();
  for (const t of ['a', 'b']) {
    const e = mk(u, [['i', t]]);
    spokes.relayd.inject(e);
    await spokes.waitFor(() => resultOf(spokes.relayd.published, e.id), 5000, 'result');
  }
  const c = mk(u, [['i', 'c']]);
  spokes.relayd.inject(c);
  assert(/2 unpaid results/.test(tag(await errorOf(spokes, c.id), 'status')[2]), 'refused');
  const other = mk(generateSecretKey(), [['i', 'd']]);
  spokes.relayd.inject(other);
  await spokes.waitFor(() => resultOf(spokes.relayd.published, other.id), 5000, 'someone else served');
});

await T.run('partial results: streamed text goes out as partial feedback, then the full result', async () => {
  const { spokes } = await rig({ partial_results: 'yes', partial_interval_ms: 1000 }, { chunks: true });
  const e = mk(generateSecretKey(), [['i', 'stream me']]);
  spokes.relayd.inject(e);
  await spokes.waitFor(() => resultOf(spokes.relayd.published, e.id), 5000, 'result');
  const parts = feedbackOf(spokes.relayd.published, e.id).filter((x) => statusOf(x) === 'partial');
  // chunks 30 ms apart with a 1000 ms interval: the first at once, the rest at the end
  assert(parts.length === 2, 'partials ' + parts.length);
  assert(parts.map((p) => p.content).join('') === 'echo: stream me', 'partial content ' + JSON.stringify(parts.map((p) => p.content)));
  const pub = spokes.relayd.published;
  assert(pub.indexOf(parts[1]) < pub.indexOf(resultOf(pub, e.id)), 'partials before the result');
  assert(spokes.inferd.infers[0].stream === true, 'stream requested');
});

await T.run('retryable inference error is retried; a permanent one is an error feedback', async () => {
  const { spokes } = await rig();
  spokes.inferd.fail = { code: 'backend_down', message: 'connection refused', retryable: true };
  spokes.inferd.failNext = 1;
  const e = mk(generateSecretKey(), [['i', 'retry me']]);
  spokes.relayd.inject(e);
  await spokes.waitFor(() => resultOf(spokes.relayd.published, e.id), 6000, 'result after retry');
  assert(spokes.inferd.infers.filter((m) => m.job === e.id).length === 2, 'infer sent twice');
  spokes.inferd.fail = { code: 'unknown_model', message: "model 'llama3.2' not found at http://x", retryable: false };
  spokes.inferd.failAlways = true;
  const f = mk(generateSecretKey(), [['i', 'no model']]);
  spokes.relayd.inject(f);
  assert(tag(await errorOf(spokes, f.id), 'status')[2] === 'model not available', 'error text');
});

await T.run('pay-after with a wallet that refuses, or stays down: error feedback, no free result', async () => {
  const { spokes, jobd } = await rig({ wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1', payment_mode: 'after' });
  spokes.invoiced.mode = 'refuse';
  const e = mk(generateSecretKey(), [['i', 'no wallet']]);
  spokes.relayd.inject(e);
  assert(tag(await errorOf(spokes, e.id), 'status')[2] === 'cannot create an invoice (wallet error); the job is closed', 'error text');
  spokes.invoiced.mode = 'down';
  const f = mk(generateSecretKey(), [['i', 'wallet down']]);
  spokes.relayd.inject(f);
  const er = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, f.id).find((x) => statusOf(x) === 'error'), 12000, 'error after retries');
  assert(/wallet unavailable/.test(tag(er, 'status')[2]), 'down text');
  assert(spokes.invoiced.requests.filter((m) => m.op === 'invoice' && m.job === f.id).length === 4, 'asked 1 + 3 retries');
  await sleep(200);
  assert(!resultOf(spokes.relayd.published, e.id) && !resultOf(spokes.relayd.published, f.id), 'no free result');
  const j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === f.id);
  assert(j.state === 'error' && j.completion_tokens === 20, 'ledger: error, the work recorded ' + JSON.stringify(j));
});

await T.run('relays tag: results and feedback are also sent to the requested relays', async () => {
  const { spokes } = await rig();
  const e = mk(generateSecretKey(), [['i', 'where'], ['relays', 'wss://x.example,wss://y.example', 'wss://z.example']]);
  spokes.relayd.inject(e);
  await spokes.waitFor(() => resultOf(spokes.relayd.published, e.id), 5000, 'result');
  const pubs = spokes.relayd.received.filter((m) => m.op === 'publish' && m.event.kind === 6050);
  assert(JSON.stringify(pubs[0].relays) === JSON.stringify(['wss://x.example', 'wss://y.example', 'wss://z.example']), 'relays ' + JSON.stringify(pubs[0].relays));
});

await T.run('malformed spoke lines are counted and dropped; jobd keeps serving', async () => {
  const { spokes, jobd } = await rig();
  spokes.relayd.send({ op: 'bogus' });
  spokes.relayd.send({ op: 'event', relay: 'wss://x' });			// no sub, no event
  spokes.relayd.send({ op: 'ok', id: 'x', accepted: 'yes' });		// wrong type
  spokes.relayd.send({ op: 'event', relay: 'wss://x', sub: 'jobs', event: { id: 1 } });	// not an event
  spokes.relayd.send({ op: 'event', relay: 'wss://x', sub: 'jobs', event: { kind: 5050, junk: true, tags: 'no' } });
  const e = mk(generateSecretKey(), [['i', 'still here']]);
  spokes.relayd.inject(e);
  await spokes.waitFor(() => resultOf(spokes.relayd.published, e.id), 5000, 'result');
  const st = await jobd.ctl({ op: 'status' });
  assert(st.bad_lines.relayd === 3, 'bad_lines ' + JSON.stringify(st.bad_lines));
  const stats = await jobd.ctl({ op: 'stats' });
  assert(stats.rejections.malformed === 2, 'malformed events ' + JSON.stringify(stats.rejections));
});

await T.run('burst of 120 requests: each gets one result or "busy", started in arrival order', async () => {
  const { spokes, jobd } = await rig({ max_concurrent_jobs: 4, max_queue: 40, rate_limit_per_min: 0 });
  const evs = Array.from({ length: 120 }, (_, i) => mk(generateSecretKey(), [['i', `burst ${i}`]]));
  for (const e of evs) spokes.relayd.inject(e);
  const outcome = (e) => resultOf(spokes.relayd.published, e.id) ? 'result'
    : feedbackOf(spokes.relayd.published, e.id).some((x) => statusOf(x) === 'error') ? 'busy' : null;
  await spokes.waitFor(() => evs.every(outcome), 20000, 'every request answered');
  const results = evs.filter((e) => outcome(e) === 'result');
  assert(results.length >= 44 && results.length < 120, 'served ' + results.length);
  for (const e of evs) {
    const fb = feedbackOf(spokes.relayd.published, e.id);
    assert(new Set(spokes.relayd.published.filter((p) => p.kind === 6050 && p.tags.some((t) => t[0] === 'e' && t[1] === e.id)).map((p) => p.id)).size <= 1, 'one result');
    if (outcome(e) === 'busy') assert(fb.length === 1 && tag(fb[0], 'status')[2] === 'busy, retry later', 'busy only');
  }
  const order = spokes.inferd.infers.map((m) => m.job);
  const want = results.map((e) => e.id);
  assert(JSON.stringify(order) === JSON.stringify(want), 'FIFO');
  const st = await jobd.ctl({ op: 'status' });
  assert(st.running === 0 && st.queue === 0 && st.open_jobs === 0, 'drained ' + JSON.stringify([st.running, st.queue, st.open_jobs]));
});

await T.run('status: spokes, relays, inference, payments, earning', async () => {
  const { jobd, spokes } = await rig({ wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1' });
  await spokes.waitFor(async () => true);
  const st = await spokes.waitFor(async () => { const s = await jobd.ctl({ op: 'status' }); return s.inference.ok && s.payments.ok && s.relays.connected ? s : null; }, 5000, 'health');
  const s = await st;
  assert(s.earning === true && s.payment_mode === 'after' && s.wallet === 'lnbits', 'earning ' + JSON.stringify(s));
  assert(s.relays.total === 1 && s.relays.list[0].url === 'wss://fake.relay', 'relays');
  assert(s.inference.model_ok === true && s.payments.balance_msat === 1000, 'inference/payments');
  assert(s.spokes.relayd && s.spokes.inferd && s.spokes.invoiced, 'spokes');
});

const badExits = await finish();
await T.run('every jobd exited 0 on SIGTERM (no leaks under ASan)', async () => assert(badExits.length === 0, badExits.join('; ')));
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
