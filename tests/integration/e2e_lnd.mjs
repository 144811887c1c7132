// e2e lnd: the whole pipeline (scripts/dvm start, real relays) with
// wallet = lnd against the LND REST double over https with its test-made
// tls.cert and an invoice macaroon, normal invoices:
//   - pay-after: the result carries LND's invoice for the price formula;
//     the double "pays" it (SETTLED) and dvmctl jobs shows the job paid;
//   - pay-before: payment-required with LND's invoice first, no inference
//     before payment, the result after it;
//   - dvmctl status shows the wallet ok without a balance, and invoiced
//     never called getinfo or a balance endpoint; the macaroon is in no log
//     and (as root) the launcher handed it to invoiced's user alone.
import fs from 'node:fs';
import { World, Report, check, eq, bolt11, sleep, waitFor, words, promptTokensOf, priceMsat } from '../e2e/lib.mjs';

const rep = new Report(import.meta.url, 170000);

function noSecrets(w) {
  const out = w.pipe.child ? w.pipe.child.out : '';
  check(!out.includes(w.lnd.macaroonHex), 'the macaroon (hex) appears in the pipeline log');
  check(!w.lnd.log.some(e => e.path === '/v1/getinfo' || e.path.startsWith('/v1/balance')),
    'invoiced called getinfo or a balance endpoint');
  check(w.lnd.counters.denied === 0, `${w.lnd.counters.denied} requests refused by the LND double`);
}

async function payAfter(w) {
  const prompt = 'paid after through my own lnd node';
  const r = await w.request({ prompt });
  const res = await w.waitResult(r, 20000);
  eq(res.content, `Echo: ${prompt}`, 'result content');
  const inf = w.inferences(prompt);
  eq(inf.length, 1, 'inferences');
  const want = priceMsat(promptTokensOf(inf[0].body) + words(res.content), w.kv);
  eq(res.amount, want, 'amount');
  eq(Number(bolt11.decode(res.bolt11).millisatoshis), want, 'bolt11 amount');
  const inv = w.invoiceOf(res.bolt11);
  check(inv, 'the result bolt11 was not made by the LND double');
  eq((await w.pipe.job(r.id)).paid, false, 'paid before payment');
  w.pay(inv.hash);
  const j = await waitFor(async () => { const x = await w.pipe.job(r.id); return x && x.paid ? x : null; },
    15000, 'dvmctl jobs shows the job paid');
  check(j.paid_msat >= want, `paid_msat ${j.paid_msat} < ${want}`);
}

async function status(w) {
  const s = await waitFor(async () => { const x = await w.pipe.ctl('status'); return x && x.payments && x.payments.ok ? x : null; },
    20000, 'dvmctl status shows the wallet ok');
  eq(s.payments.backend, 'lnd', 'status payments backend');
  check(!('balance_msat' in s.payments), `a balance from an invoice macaroon: ${JSON.stringify(s.payments)}`);
  eq(s.earning, true, 'earning');
}

async function privsep(w) {
  if (process.getuid() !== 0) return;
  const st = fs.statSync(w.kv.lnd_macaroon_file);
  eq(st.mode & 0o777, 0o600, 'macaroon mode');
  const pay = Number((await import('node:child_process')).execFileSync('id', ['-u', 'sellcompute-pay'], { encoding: 'utf8' }).trim());
  eq(st.uid, pay, 'macaroon owner is invoiced\'s user');
}

async function payBefore(w) {
  const prompt = 'pay my lnd node first then answer';
  const r = await w.request({ prompt });
  const pr = await w.waitFeedback(r, 'payment-required');
  check(pr.amount > 0 && pr.bolt11, 'payment-required without amount/bolt11');
  eq(Number(bolt11.decode(pr.bolt11).millisatoshis), pr.amount, 'bolt11 amount vs amount tag');
  await sleep(1000);
  eq(w.inferences(prompt).length, 0, 'inferences before payment');
  const inv = w.invoiceOf(pr.bolt11);
  check(inv, 'the bolt11 is not an invoice of the LND double');
  w.pay(inv.hash);
  const res = await w.waitResult(r, 15000);
  eq(res.content, `Echo: ${prompt}`, 'result content');
  eq(w.inferences(prompt).length, 1, 'inferences after payment');
  const j = await waitFor(async () => { const x = await w.pipe.job(r.id); return x && x.paid ? x : null; },
    5000, 'dvmctl jobs shows the job paid');
  check(j.paid_msat >= pr.amount, `paid_msat ${j.paid_msat} < ${pr.amount}`);
}

async function world(conf, fn) {
  const w = new World({ relays: 1, wallet: 'lnd', conf });
  try {
    await w.start();
    await fn(w);
    await rep.run('every event received verifies (id, signature)', async () =>
      eq(w.client.bad.length, 0, 'events failing verification'), 1000);
  } catch (e) {
    rep.fail('setup', e.message);
  } finally {
    await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  }
}

await world({}, async (w) => {
  await rep.run('lnd pay-after: LND invoice on the result, paid when SETTLED', () => payAfter(w), 40000);
  await rep.run('lnd status: wallet ok without a balance', () => status(w), 25000);
  await rep.run('lnd: macaroon handed to invoiced alone, in no log, no getinfo/balance calls', async () => {
    await privsep(w);
    noSecrets(w);
  }, 5000);
});
await world({ payment_mode: 'before', max_tokens: 100 }, async (w) => {
  await rep.run('lnd pay-before: payment-required first, no inference before payment, result after', () => payBefore(w), 40000);
  await rep.run('lnd pay-before: macaroon in no log, no getinfo/balance calls', async () => noSecrets(w), 5000);
});
rep.done();
