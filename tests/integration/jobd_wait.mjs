// jobd against the fake spokes (tests/lib/fake-spokes.mjs), issue 13
// points 3, 10 and 11: a paid or promised job waits for inference up to
// inference_deadline (one "waiting" feedback, then the result, or past the
// deadline an error that says what became of the payment, also across a
// restart); a job keeps the payment mode it started with across a SIGHUP;
// pay-after partials stop short of the answer, and a cancel after partials
// is still invoiced for what was sent.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { startFakeSpokes, feedbackOf, statusOf } from '../lib/fake-spokes.mjs';
import { startJobd, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_wait.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_wait.mjs: hard timeout'); process.exit(1); }, 110000);
const cleanups = [];
const badExits = [];
const user = generateSecretKey();
const request = (text, tags = []) => finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000),
  tags: [['i', text, 'text'], ...tags], content: '' }, user);
const cancel = (id) => finalizeEvent({ kind: 5, created_at: Math.floor(Date.now() / 1000), tags: [['e', id]], content: '' }, user);
const resultOf = (pub, id) => pub.find((e) => e.kind === 6050 && e.tags.some((t) => t[0] === 'e' && t[1] === id));
const tag = (ev, name) => ev.tags.find((t) => t[0] === name);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const paid = { wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1', min_price_sats: 3, price_per_1k_tokens: 100 };
const WAITING = 'waiting for the inference backend';
const waitingOf = (pub, id) => feedbackOf(pub, id).filter((e) => statusOf(e) === 'processing' && tag(e, 'status')[2] === WAITING);
const errorOf = (s, id, ms = 10000) => s.waitFor(() => feedbackOf(s.relayd.published, id).find((e) => statusOf(e) === 'error'), ms, 'error feedback');

async function rig(conf = {}, opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobd-wait-'));
  const spokes = await startFakeSpokes(path.join(dir, 'var', 'run'), opts);
  const r = { dir, spokes, conf };
  r.jobd = await startJobd({ dir, conf });
  r.restart = async () => { r.jobd = await startJobd({ dir, conf: r.conf }); };
  // rewrite dvm.conf with changes and SIGHUP; resolves once jobd says it reloaded
  r.reload = async (changes) => {
    r.conf = { ...r.conf, ...changes };
    const f = path.join(dir, 'dvm.conf');
    const lines = fs.readFileSync(f, 'utf8').split('\n').filter((l) => l && !(l.split(' = ')[0] in changes));
    for (const [k, v] of Object.entries(changes)) lines.push(`${k} = ${v}`);
    fs.writeFileSync(f, lines.join('\n') + '\n');
    const before = r.jobd.stderr().split('config reloaded').length;
    r.jobd.proc.kill('SIGHUP');
    await spokes.waitFor(() => r.jobd.stderr().split('config reloaded').length > before, 5000, 'reload');
  };
  cleanups.push(async () => {
    const code = await r.jobd.stop();
    await spokes.close();
    if (code !== 0) badExits.push(`${code}: ${r.jobd.stderr().split('\n').filter((l) => /ERROR|Sanitizer|leak/.test(l)).slice(0, 3).join(' | ')}`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await spokes.waitFor(() => spokes.relayd.subscriptions.has('jobs'), 5000, 'subscription');
  return r;
}

// Pay a pay-first job once its invoice exists.
async function payFirst(spokes, id) {
  await spokes.waitFor(() => spokes.invoiced.invoices.get(id), 5000, 'invoice');
  spokes.invoiced.pay(id);
}

await T.run('3: a paid job outlives 7 s of backend trouble, says once that it waits, then gets its result', async () => {
  const { spokes } = await rig({ ...paid, payment_mode: 'before' });
  // non-retryable first (a cold model load), then still failing past the old 1+2+4 s
  spokes.inferd.fail = { code: 'timeout_first_byte', message: 'no byte from http://10.0.0.1 in 300 s', retryable: false };
  spokes.inferd.failNext = 4;
  const req = request('patience');
  spokes.relayd.inject(req);
  await payFirst(spokes, req.id);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 30000, 'result after waiting');
  assert(res.content === 'echo: patience', 'content ' + res.content);
  const infers = spokes.inferd.infers.filter((m) => m.job === req.id).length;
  assert(infers === 5, 'asked 4 times in vain, then once more: ' + infers);
  assert(waitingOf(spokes.relayd.published, req.id).length === 1, 'one waiting feedback: ' +
    feedbackOf(spokes.relayd.published, req.id).map((e) => tag(e, 'status').slice(1).join(':')).join(', '));
  assert(!feedbackOf(spokes.relayd.published, req.id).some((e) => statusOf(e) === 'error'), 'no error feedback');
});

await T.run('3: past inference_deadline a paid job fails saying the payment was kept', async () => {
  const { spokes, jobd } = await rig({ ...paid, payment_mode: 'before', inference_deadline: 5 });
  spokes.inferd.fail = { code: 'backend_down', message: 'connection refused', retryable: true };
  spokes.inferd.failAlways = true;
  const req = request('never answered');
  spokes.relayd.inject(req);
  await payFirst(spokes, req.id);
  const er = await errorOf(spokes, req.id, 20000);
  assert(tag(er, 'status')[2] === 'inference unavailable; your payment was kept, contact the operator',
    'error text: ' + tag(er, 'status')[2]);
  assert(spokes.inferd.infers.filter((m) => m.job === req.id).length > 1, 'retried while waiting');
  assert(waitingOf(spokes.relayd.published, req.id).length === 1, 'one waiting feedback');
  const j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === req.id);
  assert(j.state === 'error' && j.paid_msat > 0, 'ledger: ' + JSON.stringify(j));
});

await T.run('3: the request\'s own fault (bad_request) still fails at once, with the payment\'s fate', async () => {
  const { spokes } = await rig({ ...paid, payment_mode: 'before' });
  spokes.inferd.fail = { code: 'bad_request', message: 'options.top_k out of range', retryable: false };
  spokes.inferd.failAlways = true;
  const req = request('bad');
  spokes.relayd.inject(req);
  await payFirst(spokes, req.id);
  const er = await errorOf(spokes, req.id);
  assert(tag(er, 'status')[2] === 'request refused by the inference backend; your payment was kept, contact the operator',
    'error text: ' + tag(er, 'status')[2]);
  assert(spokes.inferd.infers.filter((m) => m.job === req.id).length === 1, 'asked once');
});

await T.run('3: after a restart a waiting job keeps its original deadline', async () => {
  const r = await rig({ ...paid, payment_mode: 'after', inference_deadline: 5 });
  const { spokes } = r;
  spokes.inferd.fail = { code: 'busy', message: 'all backends busy', retryable: true };
  spokes.inferd.failAlways = true;
  const req = request('across a crash');
  spokes.relayd.inject(req);
  await spokes.waitFor(() => waitingOf(spokes.relayd.published, req.id).length === 1, 5000, 'waiting');
  await r.jobd.kill9();
  await sleep(6000);	// the deadline passes while jobd is down
  const before = spokes.inferd.infers.length;
  await r.restart();
  const er = await errorOf(spokes, req.id);
  assert(tag(er, 'status')[2] === 'inference unavailable; nothing was charged', 'error text: ' + tag(er, 'status')[2]);
  const after = spokes.inferd.infers.filter((m, i) => i >= before && m.job === req.id).length;
  assert(after === 1, 'no new waiting after the restart: ' + after + ' infers');
});

for (const [name, change] of [['wallet = none', { wallet: 'none' }], ['pay-first', { payment_mode: 'before' }]]) {
  await T.run(`10: a SIGHUP from pay-after to ${name} mid-inference: the job is still invoiced`, async () => {
    const r = await rig({ ...paid, payment_mode: 'after' }, { inferHold: true });
    const { spokes } = r;
    const req = request('keep my mode');
    spokes.relayd.inject(req);
    await spokes.waitFor(() => spokes.inferd.running.has(req.id), 5000, 'infer');
    await r.reload(change);
    spokes.inferd.release(req.id);
    const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
    const inv = spokes.invoiced.requests.filter((m) => m.op === 'invoice' && m.job === req.id);
    assert(inv.length === 1 && inv[0].amount_msat === 3000, 'one invoice for the real price: ' + JSON.stringify(inv));
    assert(tag(res, 'amount') && tag(res, 'amount')[1] === '3000', 'result carries the amount');
    // and a new job follows the new config
    const next = request('new mode');
    spokes.relayd.inject(next);
    if (change.wallet === 'none') {
      await spokes.waitFor(() => spokes.inferd.running.has(next.id), 5000, 'next infer');
      spokes.inferd.release(next.id);
      const res2 = await spokes.waitFor(() => resultOf(spokes.relayd.published, next.id), 5000, 'free result');
      assert(!tag(res2, 'amount'), 'a new job is free');
    } else {
      await spokes.waitFor(() => feedbackOf(spokes.relayd.published, next.id).some((e) => statusOf(e) === 'payment-required'), 5000, 'quote');
      assert(!spokes.inferd.infers.some((m) => m.job === next.id), 'a new job waits for payment');
    }
  });
}

await T.run('11: pay-after partials carry at most partial_max_percent of the answer, never all of it', async () => {
  const { spokes } = await rig({ ...paid, payment_mode: 'after', partial_results: 'yes' }, { chunks: true });
  const req = request('a longer prompt, so that the answer has some length to it');
  spokes.relayd.inject(req);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
  const sent = feedbackOf(spokes.relayd.published, req.id).filter((e) => statusOf(e) === 'partial').map((e) => e.content).join('');
  assert(sent.length > 0, 'some partial was sent');
  assert(res.content.startsWith(sent), 'partials are a prefix of the result');
  assert(sent.length <= Math.floor(res.content.length * 50 / 100), `partials ${sent.length} of ${res.content.length} bytes`);
});

await T.run('11: pay-first partials still stream the whole answer (it is paid)', async () => {
  const { spokes } = await rig({ ...paid, payment_mode: 'before', partial_results: 'yes' }, { chunks: true });
  const req = request('paid stream');
  spokes.relayd.inject(req);
  await payFirst(spokes, req.id);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
  const sent = feedbackOf(spokes.relayd.published, req.id).filter((e) => statusOf(e) === 'partial').map((e) => e.content).join('');
  assert(sent === res.content, 'partials add up to the result');
});

await T.run('11: a pay-after job cancelled after partials is invoiced for what was sent', async () => {
  const { spokes, jobd } = await rig({ ...paid, payment_mode: 'after', partial_results: 'yes' }, { chunks: true, inferHold: true });
  const prompt = 'stop me halfway through the answer please';
  const req = request(prompt);
  spokes.relayd.inject(req);
  const part = await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req.id).find((e) => statusOf(e) === 'partial'), 5000, 'partial');
  await spokes.waitFor(() => spokes.relayd.subscriptions.get('cancel'), 3000, 'cancel subscription');
  await sleep(100);	// the second chunk too (held back: the share was already sent)
  spokes.relayd.inject(cancel(req.id), { sub: 'cancel' });
  await spokes.waitFor(() => spokes.inferd.cancels.includes(req.id), 3000, 'inferd cancel');
  const inv = await spokes.waitFor(() => spokes.invoiced.requests.find((m) => m.op === 'invoice' && m.job === req.id), 5000, 'invoice');
  const sent = feedbackOf(spokes.relayd.published, req.id).filter((e) => statusOf(e) === 'partial').map((e) => e.content).join('');
  assert(sent.startsWith(part.content), 'partials');
  // 4 bytes a token for prompt and delivered text, at 100 sats/1k, the minimum 3 sats applies
  const tokens = Math.ceil(Buffer.byteLength(prompt) / 4) + Math.ceil(Buffer.byteLength(sent) / 4);
  const want = Math.max(3, Math.ceil(tokens * 100 / 1000)) * 1000;
  assert(inv.amount_msat === want, `invoice ${inv.amount_msat} msat, want ${want}`);
  const res = await spokes.waitFor(() => resultOf(spokes.relayd.published, req.id), 5000, 'result');
  assert(res.content === sent, 'the result is what was sent: ' + res.content);
  assert(tag(res, 'amount')[1] === String(want), 'the result carries the invoice');
  const j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === req.id);
  assert(j.price_msat === want, 'ledger price ' + JSON.stringify(j));
});

await T.run('11: a pay-after cancel before any partial is a plain cancel, no invoice', async () => {
  const { spokes, jobd } = await rig({ ...paid, payment_mode: 'after', partial_results: 'yes' }, { inferHold: true });
  const req = request('cancel early');
  spokes.relayd.inject(req);
  await spokes.waitFor(() => spokes.inferd.running.has(req.id), 5000, 'infer');
  await spokes.waitFor(() => spokes.relayd.subscriptions.get('cancel'), 3000, 'cancel subscription');
  spokes.relayd.inject(cancel(req.id), { sub: 'cancel' });
  await spokes.waitFor(() => spokes.inferd.cancels.includes(req.id), 3000, 'inferd cancel');
  const j = await spokes.waitFor(async () => (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === req.id && x.state === 'cancelled'), 3000, 'cancelled');
  assert(j && !spokes.invoiced.requests.some((m) => m.op === 'invoice' && m.job === req.id), 'no invoice');
});

for (const f of cleanups) await f().catch((e) => badExits.push(String(e)));
await T.run('every jobd exited 0 on SIGTERM (no leaks under ASan)', async () => {
  assert(badExits.length === 0, badExits.join('; '));
});
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
