// e2e hold: payment_mode = hold (escrow) through the whole pipeline
// (scripts/dvm start, real relays, inferd on the Ollama double), for the
// LND REST double and the NWC wallet double with hold invoices:
//   - success: payment-required says held and refunded on failure; paid ->
//     processing "payment held"; result; the wallet settles with a preimage
//     whose sha256 is the invoice's hash; dvmctl jobs/stats show settled;
//     the preimage is in no public event;
//   - failure: inference fails -> error "refunded", the wallet cancelled,
//     never settled;
//   - buyer cancel (kind 5) after the payment is held -> cancelled, refunded;
//   - hold_max_seconds: inference hangs -> failed at the deadline, cancelled;
//   - kill -9 of jobd and of invoiced after accept, and while their settle
//     is refused by the wallet: after the restarts, one result and settled;
//   - an unpaid quote expires: the job closes, the hold invoice is cancelled
//     (LND: CANCELED, a late payment impossible), nothing runs or settles.
import crypto from 'node:crypto';
import { World, Report, check, eq, sleep, waitFor, makeDeletion, ctlRaw } from '../e2e/lib.mjs';

const rep = new Report(import.meta.url, 900000);

// The wallet double's view of a hash: open, held, settled, cancelled; and the preimage once settled.
function walletState(w, hash) {
  if (w.lnd) return { OPEN: 'open', ACCEPTED: 'held', SETTLED: 'settled', CANCELED: 'cancelled' }[w.lnd.state(hash)];
  const t = w.nwc.txs.get(hash);
  return t && { pending: 'open', accepted: 'held', settled: 'settled', failed: 'cancelled' }[t.state];
}
function preimageOf(w, hash) {
  if (w.lnd) { const i = w.lnd.invoices.get(hash); return i && i.state === 'SETTLED' ? Buffer.from(i.preimage).toString('hex') : null; }
  const t = w.nwc.txs.get(hash);
  return t && t.state === 'settled' ? t.preimage : null;
}
const settles = (w) => (w.lnd ? w.lnd.log.filter(e => e.path === '/v2/invoices/settle').length : w.nwc.counters.settles);

async function quoted(w, prompt) {
  const r = await w.request({ prompt });
  const pr = await w.waitFeedback(r, 'payment-required');
  check(/held/.test(pr.content || pr.message || JSON.stringify(pr)) && /refund/.test(JSON.stringify(pr)),
    `payment-required does not say held and refunded: ${JSON.stringify(pr.content ?? pr)}`);
  const inv = w.invoiceOf(pr.bolt11);
  check(inv, 'the bolt11 is not an invoice of the wallet double');
  return { r, pr, hash: inv.hash };
}

async function escrowOf(w, id) {
  const j = await w.pipe.job(id);
  return j ? j.escrow : undefined;
}

function noPreimage(w, r, pre) {
  const b64 = Buffer.from(pre, 'hex').toString('base64');
  for (const ev of w.client.about(r.id, w.dvm)) {
    const s = JSON.stringify(ev);
    check(!s.includes(pre) && !s.includes(b64), `a public event carries the preimage: ${ev.kind}`);
  }
  check(!w.pipe.child.out.includes(pre), 'the preimage is in the pipeline log');
}

async function success(w) {
  const prompt = 'held then settled';
  const { r, hash } = await quoted(w, prompt);
  eq(walletState(w, hash), 'open', 'wallet state before payment');
  w.pay(hash);
  const pf = await w.waitFeedback(r, 'processing');
  check(JSON.stringify(pf).includes('payment held'), `processing without "payment held": ${JSON.stringify(pf)}`);
  const res = await w.waitResult(r, 20000);
  eq(res.content, `Echo: ${prompt}`, 'result content');
  await waitFor(async () => (await escrowOf(w, r.id)) === 'settled', 20000, 'dvmctl jobs shows escrow settled');
  eq(walletState(w, hash), 'settled', 'wallet state');
  const pre = preimageOf(w, hash);
  eq(crypto.createHash('sha256').update(Buffer.from(pre, 'hex')).digest('hex'), hash, 'sha256(preimage)');
  const j = await w.pipe.job(r.id);
  check(j.paid_msat > 0 && j.paid, `not paid after settle: ${JSON.stringify(j)}`);
  const st = await w.pipe.ctl('stats');
  check(st.escrow && st.escrow.settled >= 1, `stats without settled: ${JSON.stringify(st).slice(0, 400)}`);
  const table = await ctlRaw(w.pipe.confPath, ['jobs']);
  check(table.stdout.includes(`${r.id.slice(0, 12)}`) && /\[payment settled\]/.test(table.stdout),
    `dvmctl jobs table without the settled payment: ${table.stdout.slice(0, 400)}`);
  const stt = await ctlRaw(w.pipe.confPath, ['stats']);
  check(/held payments \(escrow\)[\s\S]*settled/.test(stt.stdout), `dvmctl stats without escrow: ${stt.stdout.slice(0, 400)}`);
  eq((await w.results(r)).length, 1, 'results');
  noPreimage(w, r, pre);
}

async function refunded(w, r, hash, before) {
  const e = await w.waitFeedback(r, 'error', 60000);
  check(/refunded/.test(JSON.stringify(e)), `error feedback does not say refunded: ${JSON.stringify(e)}`);
  await waitFor(async () => (await escrowOf(w, r.id)) === 'refunded', 30000, 'dvmctl jobs shows escrow refunded');
  eq(walletState(w, hash), 'cancelled', 'wallet state');
  eq(settles(w), before, 'settle calls');
  eq((await w.results(r)).length, 0, 'results');
}

async function failure(w) {
  await w.ollama.control({ failStatus: 500 });
  try {
    const { r, hash } = await quoted(w, 'this inference fails');
    const before = settles(w);
    w.pay(hash);
    await refunded(w, r, hash, before);
  } finally { await w.ollama.control({ failStatus: 0 }); }
}

async function buyerCancel(w) {
  await w.ollama.control({ hang: true });
  try {
    const { r, hash } = await quoted(w, 'cancelled by its buyer');
    const before = settles(w);
    w.pay(hash);
    await w.waitFeedback(r, 'processing');
    await w.client.publishOk(makeDeletion(r.key, [r.id]));
    await refunded(w, r, hash, before);
    const j = await w.pipe.job(r.id);
    eq(j.state, 'cancelled', 'job state');
  } finally { await w.ollama.control({ hang: false }); }
}

async function holdMax(w) {
  await w.ollama.control({ hang: true });
  try {
    const { r, hash } = await quoted(w, 'held too long');
    const before = settles(w);
    w.pay(hash);
    await refunded(w, r, hash, before);
    check(/held/.test(JSON.stringify(await w.feedback(r, 'error'))), 'error feedback does not name the hold time');
  } finally { await w.ollama.control({ hang: false }); }
}

async function killJobdAfterAccept(w) {
  await w.ollama.control({ firstByteDelayMs: 3000 });
  try {
    const { r, hash } = await quoted(w, 'jobd dies while the payment is held');
    w.pay(hash);
    await waitFor(() => walletState(w, hash) === 'held', 5000, 'held');
    await w.waitFeedback(r, 'processing');
    const old = await w.pipe.kill9('jobd');
    await w.pipe.waitBack('jobd', old, 25000);
    await w.ollama.control({ firstByteDelayMs: 0 });
    await w.waitResult(r, 30000);
    await waitFor(async () => (await escrowOf(w, r.id)) === 'settled', 30000, 'settled after the restart');
    eq(walletState(w, hash), 'settled', 'wallet state');
    await sleep(1000);
    eq((await w.results(r)).length, 1, 'results');
  } finally { await w.ollama.control({ firstByteDelayMs: 0 }); }
}

async function killInvoicedSettling(w) {
  const { r, hash } = await quoted(w, 'invoiced dies while settling');
  w.pay(hash);
  await w.waitResult(r, 20000);
  // The settle is refused by the wallet for a while: invoiced keeps asking.
  if (w.lnd) w.lnd.fail(1000, '500'); else w.nwc.fail(1000, 'INTERNAL');
  await waitFor(async () => (await escrowOf(w, r.id)) === 'settle', 20000, 'settle decided');
  const old = await w.pipe.kill9('invoiced');
  if (w.lnd) w.lnd.fail(0); else w.nwc.fail(0);
  await w.pipe.waitBack('invoiced', old, 25000);
  await waitFor(async () => (await escrowOf(w, r.id)) === 'settled', 40000, 'settled after the restart');
  eq(walletState(w, hash), 'settled', 'wallet state');
  eq((await w.results(r)).length, 1, 'results');
}

async function killInvoicedAfterAccept(w) {
  await w.ollama.control({ firstByteDelayMs: 3000 });
  try {
    const { r, hash } = await quoted(w, 'invoiced dies while the payment is held');
    w.pay(hash);
    await w.waitFeedback(r, 'processing');
    const old = await w.pipe.kill9('invoiced');
    await w.pipe.waitBack('invoiced', old, 25000);
    await w.ollama.control({ firstByteDelayMs: 0 });
    await w.waitResult(r, 30000);
    await waitFor(async () => (await escrowOf(w, r.id)) === 'settled', 40000, 'settled after the restart');
    eq(walletState(w, hash), 'settled', 'wallet state');
    eq((await w.results(r)).length, 1, 'results');
  } finally { await w.ollama.control({ firstByteDelayMs: 0 }); }
}

async function killJobdSettling(w) {
  const { r, hash } = await quoted(w, 'jobd dies while the settle is refused');
  w.pay(hash);
  await w.waitResult(r, 20000);
  if (w.lnd) w.lnd.fail(1000, '500'); else w.nwc.fail(1000, 'INTERNAL');
  await waitFor(async () => (await escrowOf(w, r.id)) === 'settle', 20000, 'settle decided');
  const old = await w.pipe.kill9('jobd');
  await w.pipe.waitBack('jobd', old, 25000);
  if (w.lnd) w.lnd.fail(0); else w.nwc.fail(0);
  await waitFor(async () => (await escrowOf(w, r.id)) === 'settled', 40000, 'settled after the restart');
  eq(walletState(w, hash), 'settled', 'wallet state');
  await sleep(1000);
  eq((await w.results(r)).length, 1, 'results');
}

// Never paid: the quote ends, the job closes, the hold invoice is cancelled.
async function unpaidExpiry(w) {
  const { r, hash } = await quoted(w, 'never paid');
  const before = settles(w);
  const e = await w.waitFeedback(r, 'error', 120000);
  check(/expired/.test(JSON.stringify(e)), `error feedback: ${JSON.stringify(e)}`);
  await waitFor(async () => (await escrowOf(w, r.id)) === 'voided', 60000, 'dvmctl jobs shows escrow voided');
  if (w.lnd) {
    eq(w.lnd.state(hash), 'CANCELED', 'LND state');
    let threw = false;
    try { w.pay(hash); } catch { threw = true; }
    check(threw, 'a cancelled hold invoice could still be paid');
  }
  eq(settles(w), before, 'settle calls');
  eq(w.inferences('never paid').length, 0, 'inferences');
}

async function world(wallet, fn) {
  const conf = { payment_mode: 'hold', hold_max_seconds: 30, invoice_expiry: 60, max_tokens: 100, infer_total_timeout: 120,
    infer_first_byte_timeout: 120, infer_idle_timeout: 120 };
  const w = new World({ relays: 1, wallet, conf, nwc: { holds: true } });
  try {
    await w.start();
    await fn(w);
  } catch (e) {
    rep.fail(`${wallet} setup`, e.message);
  } finally {
    await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  }
}

for (const wallet of ['lnd', 'nwc']) {
  await world(wallet, async (w) => {
    await rep.run(`${wallet} hold success: held, result, settled with the preimage of the hash`, () => success(w), 60000);
    await rep.run(`${wallet} hold failure: inference fails, refunded, never settled`, () => failure(w), 90000);
    await rep.run(`${wallet} hold buyer cancel after accept: refunded`, () => buyerCancel(w), 90000);
    await rep.run(`${wallet} hold_max_seconds: refunded at the deadline`, () => holdMax(w), 90000);
    await rep.run(`${wallet} hold kill -9 jobd after accept: one result, settled`, () => killJobdAfterAccept(w), 90000);
    await rep.run(`${wallet} hold kill -9 invoiced while settling: settled after restart`, () => killInvoicedSettling(w), 90000);
    await rep.run(`${wallet} hold kill -9 invoiced after accept: one result, settled`, () => killInvoicedAfterAccept(w), 90000);
    await rep.run(`${wallet} hold kill -9 jobd while settling: settled after restart`, () => killJobdSettling(w), 90000);
    await rep.run(`${wallet} hold unpaid quote expiry: job closed, invoice cancelled`, () => unpaidExpiry(w), 200000);
  });
}
rep.done();
