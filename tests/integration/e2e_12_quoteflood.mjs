// e2e 12: pay-first under a flood of unpaid quotes (issue 13, point 1). Six
// fresh keys each ask for two quotes and never pay (one a third): 13 open quotes, three
// times max_queue. A flooding key's fourth open quote is refused (its own
// bound, no invoice); a paying customer still gets payment-required (not
// "busy"), pays, and gets the answer.
import { World, Report, check, eq, newKey } from '../e2e/lib.mjs';

const rep = new Report(import.meta.url, 120000);
// max_unpaid_per_requester (3) and max_unpaid_quotes (200) at their defaults.
const w = new World({ relays: 1, conf: { payment_mode: 'before', max_tokens: 50, max_queue: 4 } });

async function flood() {
  const keys = Array.from({ length: 6 }, () => newKey());
  const asked = [];
  for (const key of keys)
    for (let n = 0; n < 2; n++) asked.push(await w.request({ key, prompt: `never paid ${n}` }));
  for (const r of asked) {
    const pr = await w.waitFeedback(r, 'payment-required');
    check(pr.bolt11, 'a flood quote without an invoice');
  }
  const third = await w.request({ key: keys[0], prompt: 'a third unpaid quote' });
  await w.waitFeedback(third, 'payment-required');
  const inv0 = w.invoices().length;
  const fourth = await w.request({ key: keys[0], prompt: 'a fourth unpaid quote' });
  const er = await w.waitFeedback(fourth, 'error');
  check(/too many unpaid quotes from you/.test(er.message), `fourth quote: "${er.message}"`);
  eq(w.invoices().length, inv0, 'invoices made for a refused quote');

  const prompt = 'I am paying, please answer';
  const buyer = await w.request({ prompt });
  const first = await w.client.waitAbout(buyer.id, w.dvm, async () => {
    const d = (await w.decoded(buyer)).find((x) => x.status === 'payment-required' || x.status === 'error');
    return d || null;
  }, 15000);
  eq(first.status, 'payment-required', `the paying customer got "${first.message}"`);
  w.lnbits.pay(w.invoiceOf(first.bolt11).hash);
  const res = await w.waitResult(buyer, 15000);
  eq(res.content, `Echo: ${prompt}`, 'result content');
}

try {
  await w.start();
  await rep.run('13 unpaid quotes from six keys: a paying customer is quoted, paid and served', flood, 60000);
} catch (e) {
  rep.fail('setup', e.message);
} finally {
  await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  rep.done();
}
