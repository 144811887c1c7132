// e2e 04: requests that must be ignored, and a hostile relay (issue 8,
// scenarios 4 and 6). The pipeline is configured with one real relay and
// the adversarial relay of tests/lib/hostile-relay.mjs, which sends its junk
// catalogue (malformed JSON, 1 MB frames, non-arrays, wrong types, bad ids,
// binary frames, deep nesting, a random burst) on connect and on every REQ.
//   4  expired (NIP-40) and stale (created_at too old) requests, injected
//      through the hostile relay because the real relay refuses them, and a
//      request addressed to another provider: no feedback, no inference
//   6  forged signatures, wrong ids, a junk flood: every daemon alive with
//      the same pid, counters show the drops, a valid request that follows
//      is served exactly once
import { World, Report, check, eq, now, newKey, makeRequest, sleep, waitFor } from '../e2e/lib.mjs';
import { finalizeEvent } from 'nostr-tools/pure';

const rep = new Report(import.meta.url, 120000);
const w = new World({ relays: 1, hostile: { burst: 300 }, minConnected: 1 });

const relaydStatus = () => w.pipe.relaydStatus();

const sumDropped = (st) => {
  const c = st.counters || {};
  let n = typeof c.dropped === 'number' ? c.dropped : 0;
  if (c.dropped && typeof c.dropped === 'object') n = Object.values(c.dropped).reduce((a, b) => a + b, 0);
  for (const r of st.relays || [])
    if (r.dropped && typeof r.dropped === 'object') n = Math.max(n, Object.values(r.dropped).reduce((a, b) => a + b, 0));
  return n;
};

async function ignored() {
  const st0 = await w.pipe.ctl('stats');
  const expired = await makeRequest({ prompt: 'expired request must be ignored', expiration: now() - 30, created_at: now() - 40 });
  const stale = await makeRequest({ prompt: 'stale request must be ignored', created_at: now() - 3600 });
  const other = await makeRequest({ prompt: 'addressed to someone else', to: newKey().pk });
  w.hostile.inject(expired.ev);
  w.hostile.inject(stale.ev);
  await w.client.publishOk(other.ev);
  for (const r of [expired, stale, other]) w.client.keys.set(r.key.pk, r.key);
  // A valid request after them: once it is served, they were looked at.
  const ok = await w.request({ prompt: 'a valid request after the ignored ones' });
  await w.waitResult(ok, 20000);
  await sleep(500);
  for (const [name, r] of [['expired', expired], ['stale', stale], ['other provider', other]]) {
    eq(w.client.about(r.id, w.dvm).length, 0, `events answering the ${name} request`);
    eq(w.inferences(r.ev.tags[0][1]).length, 0, `inferences for the ${name} request`);
  }
  const st1 = await w.pipe.ctl('stats');
  const rej = (s) => Object.values(s.rejections || {}).reduce((a, b) => a + b, 0);
  check(rej(st1) >= rej(st0) + 3, `rejections counted ${rej(st0)} -> ${rej(st1)}: ${JSON.stringify(st1.rejections)}`);
  const jobs = await w.pipe.jobs();
  for (const r of [expired, stale, other]) {
    const j = jobs.find(x => x.id === r.id);
    check(!j || !['queued', 'processing', 'inferred', 'invoiced', 'published'].includes(j.state),
      `ignored request became a job in state ${j && j.state}`);
  }
}

async function hostile() {
  const pids0 = w.pipe.pids();
  eq(Object.keys(pids0).length, 4, `stages running (${JSON.stringify(pids0)})`);
  const rs0 = await relaydStatus();
  const st0 = await w.pipe.ctl('stats');
  // Forged signature: a valid request with another event's signature.
  const a = await makeRequest({ prompt: 'forged signature request' });
  const b = await makeRequest({ prompt: 'donor of a signature' });
  const forged = { ...a.ev, sig: b.ev.sig };
  // Wrong id: well-formed 64-hex id that is not the hash of the event.
  const c = await makeRequest({ prompt: 'wrong id request' });
  const wrongId = { ...c.ev, id: b.ev.id.replace(/^./, x => (x === '0' ? '1' : '0')) };
  // Signed but with id and sig of a different content.
  const d = await makeRequest({ prompt: 'tampered content request' });
  const tampered = { ...d.ev, content: 'changed after signing' };
  for (const ev of [forged, wrongId, tampered]) w.hostile.inject(ev);
  w.hostile.junk();
  await w.hostile.flood(1500);
  // A big but valid-looking 5050 with a 1 MB prompt from a real key.
  const huge = finalizeEvent({ kind: 5050, created_at: now(), content: '',
    tags: [['i', 'x'.repeat(1024 * 1024), 'text']] }, newKey().sk);
  w.hostile.inject(huge);
  const ok = await w.request({ prompt: 'a valid request after the hostile flood' }, []);
  w.hostile.inject(ok.ev);
  await w.client.publishOk(ok.ev);
  const res = await w.waitResult(ok, 20000);
  eq(res.content, 'Echo: a valid request after the hostile flood', 'result content');
  await sleep(800);
  eq((await w.results(ok)).length, 1, 'results for the valid request');
  eq(w.inferences('a valid request after the hostile flood').length, 1, 'inferences for the valid request');
  for (const [name, p] of [['forged', 'forged signature request'], ['wrong id', 'wrong id request'],
    ['tampered', 'tampered content request'], ['1 MB', 'x'.repeat(64)]])
    eq(w.inferences(p).length, 0, `inferences for the ${name} request`);
  const pids1 = w.pipe.pids();
  eq(JSON.stringify(pids1), JSON.stringify(pids0), 'stage pids (a stage died or restarted)');
  const rs1 = await relaydStatus();
  check(sumDropped(rs1) > sumDropped(rs0), `relayd dropped counters did not grow: ${JSON.stringify(rs1.counters)}`);
  const st1 = await w.pipe.ctl('stats');
  const rej = (s) => Object.values(s.rejections || {}).reduce((x, y) => x + y, 0);
  check(rej(st1) >= rej(st0) + 2, `jobd rejections did not count the forged events: ${JSON.stringify(st0.rejections)} -> ${JSON.stringify(st1.rejections)}`);
  const s = await w.pipe.ctl('status');
  check(s.online && s.spokes.relayd && s.spokes.inferd && s.spokes.invoiced, `status after the flood: ${JSON.stringify(s.spokes)}`);
}

try {
  await w.start();
  await waitFor(() => w.hostile.clientCount() > 0, 10000, 'relayd connected to the hostile relay');
  await rep.run('4 expired (NIP-40), stale and other-provider requests ignored: no feedback, no inference', ignored, 30000);
  await rep.run('6 hostile relay: daemons alive, drops counted, forged/wrong-id ignored, valid request served once', hostile, 40000);
  await rep.run('every event received verifies (id, signature)', async () =>
    eq(w.client.bad.length, 0, 'events failing verification'), 1000);
} catch (e) {
  rep.fail('setup', e.message);
} finally {
  await w.stopAll(rep).catch(e => rep.fail('teardown', e.message));
  rep.done();
}
