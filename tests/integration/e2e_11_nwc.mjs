// e2e 11: the same product paid through Nostr Wallet Connect (NIP-47): the
// NWC wallet double (tests/lib/nwc-wallet.mjs) on its own real relay, with
// invoiced holding the nostr+walletconnect:// URI. Pay-after: the result
// carries the wallet's invoice for the price formula; paying it at the
// wallet (a payment_received notification) marks the job paid. Pay-first is
// covered with LNbits in e2e_03; here the wallet backend is what changes.
import { World, Report, check, eq, bolt11, waitFor, words, promptTokensOf, priceMsat } from '../e2e/lib.mjs';

const rep = new Report(import.meta.url, 120000);
const w = new World({ relays: 1, wallet: 'nwc' });

async function payAfterNwc() {
  const prompt = 'paid through wallet connect';
  const r = await w.request({ prompt });
  const res = await w.waitResult(r, 20000);
  eq(res.content, `Echo: ${prompt}`, 'result content');
  const inf = w.inferences(prompt);
  eq(inf.length, 1, 'inferences');
  const want = priceMsat(promptTokensOf(inf[0].body) + words(res.content), w.kv);
  eq(res.amount, want, 'amount');
  eq(Number(bolt11.decode(res.bolt11).millisatoshis), want, 'bolt11 amount');
  const inv = w.invoices().find(x => x.bolt11 === res.bolt11);
  check(inv, 'the result bolt11 was not made by the NWC wallet');
  const j0 = await w.pipe.job(r.id);
  eq(j0.paid, false, 'paid before payment');
  w.pay(inv.hash);
  const j = await waitFor(async () => { const x = await w.pipe.job(r.id); return x && x.paid ? x : null; },
    15000, 'dvmctl jobs shows the job paid');
  check(j.paid_msat >= want, `paid_msat ${j.paid_msat} < ${want}`);
  const s = await w.pipe.ctl('status');
  eq(s.payments.backend, 'nwc', 'status payments backend');
}

try {
  await w.start();
  await rep.run('NWC wallet, pay-after: invoice from the wallet, paid via payment_received', payAfterNwc, 40000);
  await rep.run('every event received verifies (id, signature)', async () =>
    eq(w.client.bad.length, 0, 'events failing verification'), 1000);
} catch (e) {
  rep.fail('setup', e.message);
} finally {
  await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  rep.done();
}
