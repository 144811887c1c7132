// e2e 03: pay-first (payment_mode = before), scenario 3 of issue 8:
//   - payment-required with amount + bolt11 first, no inference before
//     payment (the Ollama double's request log proves it), result after paying;
//   - a bid below the quote: error feedback naming the price, no inference,
//     no invoice;
//   - the invoice expires unpaid: error feedback, no inference, no result.
import { World, Report, check, eq, tag, bolt11, sleep, waitFor, words, priceMsat } from '../e2e/lib.mjs';

const rep = new Report(import.meta.url, 120000);
// invoice_expiry has a floor of 60 s; for the expiry case the wallet double's
// clock runs `skew` ms behind, so its invoices (stamped with that clock)
// expire a few seconds after they are made, in real time.
let skew = 0;
const w = new World({ relays: 1, conf: { payment_mode: 'before', max_tokens: 100, invoice_expiry: 60 },
  lnbits: { now: () => Date.now() - skew } });

async function payFirst() {
  const prompt = 'pay me first then I will answer';
  const r = await w.request({ prompt });
  const pr = await w.waitFeedback(r, 'payment-required');
  check(pr.amount > 0 && pr.bolt11, `payment-required without amount/bolt11: ${JSON.stringify(tag(pr.raw, 'amount'))}`);
  eq(Number(bolt11.decode(pr.bolt11).millisatoshis), pr.amount, 'bolt11 amount vs amount tag');
  // quote = max(min, ceil((input estimate + max_tokens)/1000 * rate)): at
  // least the max_tokens part.
  check(pr.amount >= priceMsat(w.kv.max_tokens, w.kv), `quote ${pr.amount} msat below the max_tokens part`);
  await sleep(1000);
  eq(w.inferences(prompt).length, 0, 'inferences before payment');
  eq((await w.results(r)).length, 0, 'results before payment');
  const inv = w.invoiceOf(pr.bolt11);
  check(inv, 'the bolt11 is not an invoice of the wallet double');
  w.lnbits.pay(inv.hash);
  const res = await w.waitResult(r, 15000);
  eq(res.content, `Echo: ${prompt}`, 'result content');
  eq(w.inferences(prompt).length, 1, 'inferences after payment');
  const j = await waitFor(async () => { const x = await w.pipe.job(r.id); return x && x.paid ? x : null; },
    5000, 'dvmctl jobs shows the job paid');
  check(j.paid_msat >= pr.amount, `paid_msat ${j.paid_msat} < ${pr.amount}`);
  check(words(res.content) <= w.kv.max_tokens, 'answer longer than the quote covers');
}

async function bidTooLow() {
  const prompt = 'I only want to pay one millisat';
  const inv0 = w.invoices().length;
  const r = await w.request({ prompt, bid: 1 });
  const er = await w.waitFeedback(r, 'error');
  // The message names the price: at least the max_tokens part of the quote
  // (in sats, or in msat).
  const floor = priceMsat(w.kv.max_tokens, w.kv) / 1000;
  const nums = (er.message.match(/\d+/g) || []).map(Number);
  check(nums.some(n => n >= floor), `error feedback does not state a price of at least ${floor} sats: "${er.message}"`);
  await sleep(800);
  eq(w.inferences(prompt).length, 0, 'inferences for a bid below the quote');
  eq(w.invoices().length, inv0, 'invoices for a bid below the quote');
  eq((await w.feedback(r, 'payment-required')).length, 0, 'payment-required for a bid below the quote');
}

async function expiry() {
  const prompt = 'this invoice will expire unpaid';
  skew = 52000;
  const r = await w.request({ prompt });
  const pr = await w.waitFeedback(r, 'payment-required');
  skew = 0;
  const exp = bolt11.decode(pr.bolt11).timeExpireDate;
  check(exp - Date.now() / 1000 < 15, `the invoice expires in ${exp - Date.now() / 1000} s: the clock skew did not apply`);
  const inv = w.invoiceOf(pr.bolt11);
  check(inv, 'unknown invoice');
  await sleep(Math.max(0, exp * 1000 - Date.now()) + 200);
  w.lnbits.expire(inv.hash);	/* LNbits' state for an expired incoming invoice */
  const er = await w.waitFeedback(r, 'error', 15000);
  check(er.message.length > 0, 'error without a message');
  const j = await waitFor(async () => { const x = await w.pipe.job(r.id); return x && ['expired', 'error'].includes(x.state) ? x : null; },
    5000, 'dvmctl jobs shows the job expired');
  eq(j.paid, false, 'expired job paid');
  await sleep(500);
  eq(w.inferences(prompt).length, 0, 'inferences for an expired invoice');
  eq((await w.results(r)).length, 0, 'results for an expired invoice');
}

try {
  await w.start();
  await rep.run('3 pay-first: payment-required first, no inference before payment, result after paying', payFirst, 30000);
  await rep.run('3 bid below the quote: error feedback with the price, no inference, no invoice', bidTooLow, 20000);
  await rep.run('3 invoice expiry: error feedback, job expired, no inference, no result', expiry, 30000);
  await rep.run('every event received verifies (id, signature)', async () =>
    eq(w.client.bad.length, 0, 'events failing verification'), 1000);
} catch (e) {
  rep.fail('setup', e.message);
} finally {
  await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  rep.done();
}
