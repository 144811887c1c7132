// e2e 01: one pipeline in pay-after mode on two real relays, started through
// scripts/dvm; nostr-tools as the requester. Scenarios of issue 8:
//   1  plain request, pay-after: processing, a 6050 with the double's answer,
//      e/p/request/amount tags, amount = the price formula on the double's
//      token counts, the bolt11 decodes to it; paid at the double -> dvmctl
//      jobs shows it paid
//   2  NIP-04 and NIP-44 requests answered in the same scheme
//   5  the same request on two relays: one inference, one invoice, one result id
//  12  partial_results = yes: partial feedback before the result, a prefix of
//      the final text and at most partial_max_percent (50) of it: the whole
//      answer comes only with its invoice (issue 13 point 11)
//  11  cancellation (kind 5) mid-inference after partials: the transfer is
//      aborted, and the job is invoiced for the text it was sent (its
//      result), priced at 4 bytes a token (issue 13 point 11)
//   8  a relay killed and restarted: a request published right after is served
import { World, Report, check, eq, tag, tags, words, promptTokensOf, priceMsat,
         bolt11, sleep, waitFor, makeDeletion } from '../e2e/lib.mjs';

const rep = new Report(import.meta.url, 170000);
const w = new World({ relays: 2, conf: { partial_results: 'yes', partial_interval_ms: 150 } });

function idx(w_, ev) { return [...w_.client.events.keys()].indexOf(ev.id); }

async function plainPayAfter() {
  const prompt = 'Say hello to the end to end suite please';
  const inv0 = w.invoices().length;
  const r = await w.request({ prompt, to: w.dvm });
  const proc = await w.waitFeedback(r, 'processing');
  const res = await w.waitResult(r);
  check(idx(w, proc.raw) < idx(w, res.raw), 'processing feedback did not arrive before the result');
  eq(res.content, `Echo: ${prompt}`, 'result content');
  eq(res.raw.kind, 6050, 'result kind');
  const e = tag(res.raw, 'e'); check(e && e[1] === r.id, `e tag ${JSON.stringify(e)} is not the request id`);
  const p = tag(res.raw, 'p'); check(p && p[1] === r.key.pk, `p tag ${JSON.stringify(p)} is not the requester`);
  const rq = tag(res.raw, 'request');
  check(rq, 'no request tag');
  eq(JSON.parse(rq[1]).id, r.id, 'request tag holds the request');
  const inf = w.inferences(prompt);
  eq(inf.length, 1, 'inferences at the double');
  const pt = promptTokensOf(inf[0].body), ct = words(`Echo: ${prompt}`);
  const want = priceMsat(pt + ct, w.kv);
  check(res.amount !== null && res.bolt11, `no amount tag with a bolt11: ${JSON.stringify(tag(res.raw, 'amount'))}`);
  eq(res.amount, want, `amount (prompt ${pt} + completion ${ct} tokens)`);
  const dec = bolt11.decode(res.bolt11);
  eq(Number(dec.millisatoshis), want, 'bolt11 amount');
  eq(w.invoices().length, inv0 + 1, 'invoices created at the wallet');
  const inv = w.invoiceOf(res.bolt11);
  check(inv, 'the result bolt11 is not an invoice of the wallet double');
  let j = await w.pipe.job(r.id);
  check(j, 'job not in dvmctl jobs');
  eq(j.paid, false, 'paid before payment');
  eq(j.prompt_tokens, pt, 'ledger prompt_tokens');
  eq(j.completion_tokens, ct, 'ledger completion_tokens');
  eq(j.price_msat, want, 'ledger price_msat');
  w.lnbits.pay(inv.hash);
  j = await waitFor(async () => { const x = await w.pipe.job(r.id); return x && x.paid ? x : null; },
    10000, 'dvmctl jobs shows the job paid');
  check(j.paid_msat >= want, `paid_msat ${j.paid_msat} < ${want}`);
}

async function encrypted(scheme) {
  const prompt = `secret question number ${scheme} about turtles`;
  const r = await w.request({ prompt, to: w.dvm, encrypt: scheme });
  const res = await w.waitResult(r);
  check(res.encrypted, 'result has no encrypted tag');
  eq(res.scheme, scheme, 'result encryption scheme');
  eq(res.content, `Echo: ${prompt}`, 'decrypted result');
  check(res.amount > 0 && res.bolt11, 'encrypted result has no amount/bolt11');
  // Neither the prompt nor the answer may travel in clear in any event.
  for (const ev of w.client.about(r.id, w.dvm)) {
    check(!JSON.stringify(ev).includes('turtles'), `kind ${ev.kind} event carries the prompt in clear`);
    check(!tag(ev, 'i') && !tag(ev, 'request'), `kind ${ev.kind} event has a clear i/request tag`);
  }
  const fb = await w.feedback(r);
  check(fb.length > 0, 'no feedback for the encrypted job');
  for (const f of fb) check(f.encrypted, `feedback "${f.status}" not encrypted`);
}

async function twoRelays() {
  const prompt = 'one request seen on two relays at once';
  const inv0 = w.invoices().length;
  const r = await w.request({ prompt });	/* published to both relays */
  const res = await w.waitResult(r);
  await sleep(1500);	/* time for a second (wrong) answer to show up */
  const results = await w.results(r);
  eq(results.length, 1, 'distinct result events');
  eq(w.inferences(prompt).length, 1, 'inferences');
  eq(w.invoices().length, inv0 + 1, 'invoices');
  const on = w.client.seenOn.get(res.id);
  eq(on && on.size, 2, 'relays carrying the result');
}

async function partials() {
  const prompt = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
  await w.ollama.control({ tokenDelayMs: 40 });
  try {
    const r = await w.request({ prompt });
    const res = await w.waitResult(r, 20000);
    const parts = await w.feedback(r, 'partial');
    check(parts.length >= 2, `only ${parts.length} partial feedback events`);
    for (const p of parts) check(idx(w, p.raw) < idx(w, res.raw), 'a partial arrived after the result');
    const joined = parts.map(p => p.content).join('');
    eq(res.content, `Echo: ${prompt}`, 'result content');
    check(res.content.startsWith(joined), `partials are not a prefix of the result: "${joined}"`);
    check(joined.length <= Math.floor(res.content.length * 50 / 100),
      `partials gave away ${joined.length} of ${res.content.length} bytes before the invoice`);
  } finally { await w.ollama.control({ tokenDelayMs: 0 }); }
}

async function cancel() {
  const prompt = Array.from({ length: 60 }, (_, i) => `slow${i}`).join(' ');
  await w.ollama.control({ tokenDelayMs: 100 });
  try {
    const inv0 = w.invoices().length;
    const r = await w.request({ prompt });
    await w.waitFeedback(r, 'processing');
    await w.waitFeedback(r, 'partial', 10000);
    await w.client.publishOk(makeDeletion(r.key, [r.id]));
    const res = await w.waitResult(r, 10000);
    const q = await waitFor(() => { const x = w.inferences(prompt)[0]; return x.endedMs ? x : null; }, 5000,
      'the transfer to the double ended');
    check(q.clientClosed, `transfer not aborted (outcome ${q.outcome}, ${q.tokensSent} tokens sent)`);
    check(q.tokensSent < 60, `the whole answer was streamed (${q.tokensSent} tokens)`);
    await sleep(1000);
    const sent = (await w.feedback(r, 'partial')).map(p => p.content).join('');
    eq(res.content, sent, 'the result of a job stopped after partials is the text sent');
    const want = priceMsat(Math.ceil(Buffer.byteLength(prompt) / 4) + Math.ceil(Buffer.byteLength(sent) / 4), w.kv);
    eq(res.amount, want, 'amount for the text sent');
    eq(w.invoices().length, inv0 + 1, 'one invoice for the job stopped after partials');
    eq((await w.results(r)).length, 1, 'results');
  } finally { await w.ollama.control({ tokenDelayMs: 0 }); }
}

async function relayRestart() {
  const a = w.relays[0];
  await a.kill();
  await waitFor(async () => (await w.pipe.relayState(a.url)) !== 'connected', 10000, 'relayd sees the relay down');
  await sleep(600);
  await a.start();	/* same port, same db */
  await w.client.waitConnected();
  const prompt = 'published right after the relay came back';
  const r = await w.request({ prompt }, [a.url]);	/* only to the restarted relay */
  const res = await w.waitResult(r, 20000);
  eq(res.content, `Echo: ${prompt}`, 'result content');
  await waitFor(() => w.client.seenOn.get(res.id).has(a.url), 5000, 'the result on the restarted relay');
  await waitFor(async () => (await w.pipe.relayState(a.url)) === 'connected', 10000, 'relayd reconnected');
}

try {
  await w.start();
  await rep.run('1 pay-after: processing, 6050 with e/p/request/amount, price formula, bolt11, paid', plainPayAfter, 30000);
  await rep.run('2 NIP-04 request answered with NIP-04', () => encrypted('nip04'), 20000);
  await rep.run('2 NIP-44 request answered with NIP-44', () => encrypted('nip44'), 20000);
  await rep.run('5 same request on two relays: one inference, one invoice, one result id', twoRelays, 20000);
  await rep.run('12 partial_results: partial feedback before the result, at most half of it', partials, 30000);
  await rep.run('11 kind-5 cancellation after partials: transfer aborted, invoiced for the text sent', cancel, 30000);
  await rep.run('8 relay killed and restarted: a request published right after is served', relayRestart, 30000);
  await rep.run('every event received verifies (id, signature)', async () =>
    eq(w.client.bad.length, 0, 'events failing verification'), 1000);
} catch (e) {
  rep.fail('setup', e.message);
} finally {
  await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  rep.done();
}
