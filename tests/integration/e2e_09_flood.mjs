// e2e 09: a request flood from one key (issue 8, scenario 9). 200 signed
// requests from one key are published within 2 s, then one request from
// another key: the other key is served promptly, and the flooding key gets at
// most rate_limit_per_min inferences (the Ollama double's request log counts
// them).
import { World, Report, check, eq, newKey, makeRequest, sleep, waitFor } from '../e2e/lib.mjs';

const RATE = 10;
const rep = new Report(import.meta.url, 120000);
const w = new World({ relays: 1, conf: { rate_limit_per_min: RATE, max_queue: 64 } });

async function flood() {
  const flooder = newKey();
  const tagWord = Math.random().toString(36).slice(2, 8);
  const reqs = [];
  for (let i = 0; i < 200; i++)
    reqs.push((await makeRequest({ key: flooder, prompt: `flood ${tagWord} number ${i}` })).ev);
  // Sent in 10 bursts over ~1 s without waiting for the relay's OKs (the
  // npm relay verifies signatures in JavaScript, slowly); the OKs are
  // collected afterwards so every request is known to be stored.
  const t0 = Date.now();
  const oks = [];
  for (let i = 0; i < reqs.length; i += 20) {
    for (const ev of reqs.slice(i, i + 20)) oks.push(w.client.publish(ev, w.client.urls, 20000));
    await sleep(100);
  }
  const publishMs = Date.now() - t0;
  check(publishMs < 2000, `sending the flood took ${publishMs} ms`);
  const tOther = Date.now();
  const other = await w.request({ prompt: 'I am not the flooder' });
  const refused = (await Promise.all(oks)).filter(r => !Object.values(r).every(x => x.ok)).length;
  eq(refused, 0, 'flood requests the relay did not store');
  const res = await w.waitResult(other, 15000);
  const servedMs = Date.now() - tOther;
  eq(res.content, 'Echo: I am not the flooder', 'result content');
  check(servedMs < 10000, `the other key waited ${servedMs} ms`);
  // Let whatever the flood queued drain, then count.
  let last = -1;
  await waitFor(() => {
    const n = w.ollama.log().requests.filter(q => JSON.stringify(q.body || {}).includes(`flood ${tagWord}`)).length;
    const stable = n === last && w.ollama.log().inflight === 0;
    last = n;
    return stable;
  }, 20000, 'the flood drained', 1000);
  check(last <= RATE, `the flooding key got ${last} inferences (rate limit ${RATE}/min)`);
  check(last >= 1, 'the flooding key got no inference at all (rate limit should allow some)');
  const s = await w.pipe.ctl('stats');
  const rej = Object.values(s.rejections || {}).reduce((a, b) => a + b, 0);
  check(rej >= 200 - 2 * RATE, `only ${rej} rejections counted: ${JSON.stringify(s.rejections)}`);
  console.error(`flood: published in ${publishMs} ms, other served in ${servedMs} ms, flooder inferences ${last}`);
}

try {
  await w.start();
  await rep.run('9 flood of 200 from one key: another key served promptly, flooder held to its rate limit', flood, 60000);
  await rep.run('every event received verifies (id, signature)', async () =>
    eq(w.client.bad.length, 0, 'events failing verification'), 1000);
} catch (e) {
  rep.fail('setup', e.message);
} finally {
  await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  rep.done();
}
