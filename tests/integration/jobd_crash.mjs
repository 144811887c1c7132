// jobd crash safety against the fake spokes: kill -9 at each stage of a job
// and restart on the same ledger; the job still ends with exactly one
// result event (same id when it was already signed) and at most one invoice.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { startFakeSpokes, feedbackOf, statusOf } from '../lib/fake-spokes.mjs';
import { startJobd, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_crash.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_crash.mjs: hard timeout'); process.exit(1); }, 55000);
const cleanups = [];
const user = generateSecretKey();
const request = (text) => finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [['i', text, 'text']], content: '' }, user);
const results = (pub, id) => [...new Set(pub.filter((e) => e.kind === 6050 && e.tags.some((t) => t[0] === 'e' && t[1] === id)).map((e) => e.id))];
const paid = { wallet: 'lnbits', lnbits_url: 'http://127.0.0.1:1' };

async function rig(conf = {}, opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobd-crash-'));
  const spokes = await startFakeSpokes(path.join(dir, 'var', 'run'), opts);
  const r = { dir, spokes, conf };
  r.jobd = await startJobd({ dir, conf });
  r.restart = async () => { r.jobd = await startJobd({ dir, conf }); };
  cleanups.push(async () => { await r.jobd.stop().catch(() => {}); await spokes.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  await spokes.waitFor(() => spokes.relayd.subscriptions.has('jobs'), 5000, 'subscription');
  return r;
}

await T.run('kill -9 while processing: infer re-sent after restart, one result', async () => {
  const r = await rig({}, { inferHold: true });
  const { spokes } = r;
  const req = request('slow');
  spokes.relayd.inject(req);
  await spokes.waitFor(() => spokes.inferd.infers.length === 1, 3000, 'infer');
  await r.jobd.kill9();
  await r.restart();
  await spokes.waitFor(() => spokes.inferd.infers.length === 2, 5000, 'infer re-sent');
  assert(spokes.inferd.infers[1].job === req.id, 'same job');
  spokes.inferd.releaseAll();
  await spokes.waitFor(() => results(spokes.relayd.published, req.id).length === 1, 5000, 'result');
  await new Promise((res) => setTimeout(res, 300));
  assert(results(spokes.relayd.published, req.id).length === 1, 'exactly one result');
});

await T.run('kill -9 after the result was signed but before a relay acked: same event re-sent', async () => {
  const r = await rig();
  const { spokes } = r;
  spokes.relayd.autoOk = false;
  const req = request('unacked');
  spokes.relayd.inject(req);
  await spokes.waitFor(() => results(spokes.relayd.published, req.id).length === 1, 5000, 'result');
  const first = results(spokes.relayd.published, req.id)[0];
  const before = spokes.relayd.published.length;
  await r.jobd.kill9();
  spokes.relayd.autoOk = true;
  await r.restart();
  await spokes.waitFor(() => spokes.relayd.published.slice(before).some((e) => e.id === first), 5000, 're-publish');
  assert(results(spokes.relayd.published, req.id).length === 1, 'one result id: ' + results(spokes.relayd.published, req.id));
  assert(spokes.inferd.infers.length === 1, 'no second inference');
  await spokes.waitFor(async () => true);
  const j = await spokes.waitFor(async () => {
    const x = (await r.jobd.ctl({ op: 'jobs' })).jobs.find((y) => y.id === req.id);
    return x;
  }, 3000, 'jobs');
  const jj = await j;
  assert(jj.result_id === first, 'ledger result id');
});

await T.run('pay-first: kill -9 while waiting for payment; paid after restart runs once, one invoice', async () => {
  const r = await rig({ ...paid, payment_mode: 'before' });
  const { spokes } = r;
  const req = request('pay me first');
  spokes.relayd.inject(req);
  await spokes.waitFor(() => feedbackOf(spokes.relayd.published, req.id).some((e) => statusOf(e) === 'payment-required'), 5000, 'payment-required');
  await r.jobd.kill9();
  spokes.invoiced.pay(req.id);	// paid while jobd is down
  await r.restart();
  await spokes.waitFor(() => results(spokes.relayd.published, req.id).length === 1, 5000, 'result');
  await spokes.waitFor(() => spokes.invoiced.acks.includes(req.id), 3000, 'ack');
  assert(spokes.invoiced.invoices.size === 1, 'one invoice');
  assert(spokes.inferd.infers.length === 1, 'one inference');
  assert(new Set(feedbackOf(spokes.relayd.published, req.id).filter((e) => statusOf(e) === 'payment-required').map((e) => e.id)).size === 1, 'one payment-required event (re-sends keep its id)');
});

await T.run('pay-after: kill -9 while the invoice is being made; one invoice, one priced result', async () => {
  const r = await rig({ ...paid, payment_mode: 'after' });
  const { spokes } = r;
  spokes.invoiced.mode = 'hold';
  const req = request('invoice me later');
  spokes.relayd.inject(req);
  await spokes.waitFor(() => spokes.invoiced.requests.some((m) => m.op === 'invoice'), 5000, 'invoice asked');
  await r.jobd.kill9();
  spokes.invoiced.mode = 'auto';
  await r.restart();
  await spokes.waitFor(() => results(spokes.relayd.published, req.id).length === 1, 5000, 'result');
  const asks = spokes.invoiced.requests.filter((m) => m.op === 'invoice' && m.job === req.id);
  assert(asks.length === 2 && asks[0].amount_msat === asks[1].amount_msat, 'same invoice asked again (idempotent)');
  assert(spokes.invoiced.invoices.size === 1, 'one invoice');
  assert(spokes.inferd.infers.length === 1, 'no second inference');
  const res = spokes.relayd.published.find((e) => e.kind === 6050);
  assert(res.tags.find((t) => t[0] === 'amount')[2] === spokes.invoiced.invoices.get(req.id).bolt11, 'amount tag has the invoice');
});

await T.run('pay-after: a payment reported while jobd was down is recorded, then acked', async () => {
  const r = await rig({ ...paid, payment_mode: 'after' });
  const { spokes } = r;
  const req = request('pay later');
  spokes.relayd.inject(req);
  await spokes.waitFor(() => results(spokes.relayd.published, req.id).length === 1, 5000, 'result');
  await r.jobd.kill9();
  spokes.invoiced.pay(req.id);
  await r.restart();
  await spokes.waitFor(() => spokes.invoiced.acks.includes(req.id), 5000, 'ack');
  const j = (await r.jobd.ctl({ op: 'jobs' })).jobs.find((x) => x.id === req.id);
  assert(j.paid === true, 'paid in the ledger');
});

await T.run('offline is kept across a restart', async () => {
  const r = await rig();
  await r.jobd.ctl({ op: 'offline' });
  assert(await r.jobd.stop() === 0, 'clean exit');
  await r.restart();
  const st = await r.jobd.ctl({ op: 'status' });
  assert(st.online === false, 'still offline');
  await r.jobd.ctl({ op: 'online' });
  await r.spokes.waitFor(() => r.spokes.relayd.subscriptions.has('jobs'), 3000, 'subscribed again');
});

for (const f of cleanups) await f().catch(() => {});
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
