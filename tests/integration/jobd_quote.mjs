// jobd's unpaid pay-first quotes against the fake spokes (tests/lib/fake-spokes.mjs):
// they do not count against max_queue, they have their own bounds (per requester and
// in all), they end after quote_ttl with an error and an untrack to invoiced, a kind-5
// cancel untracks too, and a paid job that waited through a long outage still runs.
import path from 'node:path';
import Database from 'better-sqlite3';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { feedbackOf, statusOf } from '../lib/fake-spokes.mjs';
import { fakeSpokeRigs, startJobd, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_quote.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_quote.mjs: hard timeout'); process.exit(1); }, 110000);
const { rig, finish } = fakeSpokeRigs('jobd-quote-');
const PAYFIRST = { wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1', payment_mode: 'before',
  min_price_sats: 1, price_per_1k_tokens: 10, max_tokens: 100, rate_limit_per_min: 0 };

function request(sk, text) {
  return finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [['i', text, 'text']], content: '' }, sk);
}
const tag = (ev, name) => ev.tags.find((t) => t[0] === name);
const status = (spokes, id, s) => feedbackOf(spokes.relayd.published, id).find((e) => statusOf(e) === s);
const invoiceAsks = (spokes, id) => spokes.invoiced.requests.filter((m) => m.op === 'invoice' && m.job === id);
const untracks = (spokes, id) => spokes.invoiced.requests.filter((m) => m.op === 'untrack' && m.job === id);

await T.run('unpaid quotes do not fill max_queue: a paying customer is quoted, paid and served', async () => {
  const { spokes } = await rig({ ...PAYFIRST, max_queue: 2 });	// 2 quotes per key: within the default bound
  const flood = [];
  for (let k = 0; k < 3; k++) {
    const sk = generateSecretKey();
    for (let n = 0; n < 2; n++) { const r = request(sk, `flood ${k} ${n}`); flood.push(r); spokes.relayd.inject(r); }
  }
  for (const r of flood) await spokes.waitFor(() => status(spokes, r.id, 'payment-required'), 5000, 'quote ' + r.id);
  const buyer = request(generateSecretKey(), 'I will pay');
  spokes.relayd.inject(buyer);
  const pr = await spokes.waitFor(() => status(spokes, buyer.id, 'payment-required') || status(spokes, buyer.id, 'error'), 5000, 'buyer answer');
  assert(statusOf(pr) === 'payment-required', 'buyer got ' + tag(pr, 'status').join(' '));
  spokes.invoiced.pay(buyer.id);
  await spokes.waitFor(() => spokes.relayd.published.some((e) => e.kind === 6050 && tag(e, 'e')[1] === buyer.id), 5000, 'buyer result');
});

await T.run('per requester and total bounds: an error, no invoice', async () => {
  const { spokes } = await rig({ ...PAYFIRST, max_unpaid_per_requester: 2, max_unpaid_quotes: 3 });
  const a = generateSecretKey();
  const r = [request(a, 'a1'), request(a, 'a2'), request(a, 'a3')];
  for (const x of r) spokes.relayd.inject(x);
  const err = await spokes.waitFor(() => status(spokes, r[2].id, 'error'), 5000, 'third quote refused');
  assert(/too many unpaid quotes from you/.test(tag(err, 'status')[2]), 'reason ' + tag(err, 'status')[2]);
  assert(invoiceAsks(spokes, r[2].id).length === 0, 'no invoice for the refused one');
  await spokes.waitFor(() => status(spokes, r[1].id, 'payment-required'), 5000, 'second quote');
  const b = request(generateSecretKey(), 'b1'), c = request(generateSecretKey(), 'c1');
  spokes.relayd.inject(b);
  await spokes.waitFor(() => status(spokes, b.id, 'payment-required'), 5000, 'third quote in all');
  spokes.relayd.inject(c);
  const err2 = await spokes.waitFor(() => status(spokes, c.id, 'error'), 5000, 'fourth quote in all refused');
  assert(/too many unpaid quotes waiting/.test(tag(err2, 'status')[2]), 'reason ' + tag(err2, 'status')[2]);
  assert(invoiceAsks(spokes, c.id).length === 0, 'no invoice over the total bound');
});

await T.run('kind-5 cancel of an unpaid quote tells invoiced to untrack it; a late payment is kept for a refund', async () => {
  const { spokes, jobd } = await rig(PAYFIRST);
  const sk = generateSecretKey();
  const r = request(sk, 'cancel me');
  spokes.relayd.inject(r);
  await spokes.waitFor(() => status(spokes, r.id, 'payment-required'), 5000, 'quote');
  await spokes.waitFor(() => (spokes.relayd.subscriptions.get('cancel') || [{}])[0]['#e']?.includes(r.id), 5000, 'cancel subscription');
  spokes.relayd.inject(finalizeEvent({ kind: 5, created_at: Math.floor(Date.now() / 1000), tags: [['e', r.id]], content: '' }, sk), { sub: 'cancel' });
  await spokes.waitFor(() => untracks(spokes, r.id).length === 1, 5000, 'untrack');
  // a payment that beat the untrack: recorded and acked, logged for a refund, not run
  spokes.invoiced.pay(r.id);
  await spokes.waitFor(() => spokes.invoiced.acks.includes(r.id), 5000, 'late payment acked');
  await spokes.waitFor(() => /after its quote closed unpaid/.test(jobd.stderr()), 5000, 'refund log line');
  const j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === r.id);
  assert(j.state === 'cancelled' && j.paid_msat > 0, 'ledger ' + JSON.stringify(j));
  assert(!spokes.inferd.infers.some((m) => m.job === r.id), 'a closed job ran');
});

await T.run('quote_ttl: the invoice expires within it; then error "quote expired unpaid" and untrack', async () => {
  const { spokes, jobd } = await rig({ ...PAYFIRST, quote_ttl: 5, invoice_expiry: 3600 });
  const r = request(generateSecretKey(), 'never paid');
  spokes.relayd.inject(r);
  await spokes.waitFor(() => status(spokes, r.id, 'payment-required'), 5000, 'quote');
  assert(invoiceAsks(spokes, r.id)[0].expiry === 5, 'invoice expiry ' + invoiceAsks(spokes, r.id)[0].expiry);
  const err = await spokes.waitFor(() => status(spokes, r.id, 'error'), 45000, 'quote expiry');
  assert(/quote expired unpaid/.test(tag(err, 'status')[2]), 'reason ' + tag(err, 'status')[2]);
  await spokes.waitFor(() => untracks(spokes, r.id).length === 1, 5000, 'untrack');
  const j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === r.id);
  assert(j.state === 'expired', 'state ' + j.state);
});

await T.run('a paid job queued through a 25 h outage runs on restart (never expired silently)', async () => {
  const { dir, spokes, jobd } = await rig({ ...PAYFIRST, max_concurrent_jobs: 1 }, { inferHold: true });
  const first = request(generateSecretKey(), 'busy one'), paid = request(generateSecretKey(), 'paid one');
  for (const r of [first, paid]) spokes.relayd.inject(r);
  for (const r of [first, paid]) await spokes.waitFor(() => status(spokes, r.id, 'payment-required'), 5000, 'quote');
  spokes.invoiced.pay(first.id);
  await spokes.waitFor(() => spokes.inferd.infers.some((m) => m.job === first.id), 5000, 'first runs');
  spokes.invoiced.pay(paid.id);
  await spokes.waitFor(() => spokes.invoiced.acks.includes(paid.id), 5000, 'paid acked');
  let j = (await jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === paid.id);
  assert(j.state === 'queued', 'queued behind the first: ' + j.state);
  assert((await jobd.stop()) === 0, 'jobd stopped');
  const db = new Database(path.join(dir, 'var', 'jobs.db'));
  db.prepare('UPDATE jobs SET received_ms = received_ms - ?').run(25 * 3600 * 1000);
  db.close();
  spokes.inferd.hold = false;
  const again = await startJobd({ dir, conf: { ...PAYFIRST, max_concurrent_jobs: 1 } });
  try {
    spokes.inferd.releaseAll();
    await spokes.waitFor(() => spokes.relayd.published.some((e) => e.kind === 6050 && tag(e, 'e')[1] === paid.id), 10000, 'paid job result');
    j = (await again.ctl({ op: 'jobs' })).jobs.find((x) => x.id === paid.id);
    assert(j.state === 'published' || j.state === 'acked', 'state ' + j.state);
  } finally {
    assert((await again.stop()) === 0, 'restarted jobd exited 0');
  }
});

const badExits = await finish();
await T.run('every jobd exited 0 on SIGTERM (no leaks under ASan)', async () => {
  assert(badExits.length === 0, badExits.join('; '));
});
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
