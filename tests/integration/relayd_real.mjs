// relayd against a real relay (@nostr-relay/core), nostr-tools publishing:
// events arrive once, two relays with the same event forward it once,
// publish reports OK (accepted and refused), fetch gives events then one eose,
// status counts, SIGTERM exits 0 under the sanitizers.
import { startRelay } from '../lib/relay.mjs';
import { reporter, assert, sleep, startRelayd, assertClean, makeEvent,
  generateSecretKey, publishTo, hardTimeout } from '../lib/relayd-harness.mjs';

const F = 'relayd_real.mjs';
hardTimeout(55000, F);
const t = reporter(F);
const sk = generateSecretKey();
const r1 = await startRelay({});
const r2 = await startRelay({});
const rd = startRelayd([r1.url, r2.url]);
let ev1;

try {
  await t.run('connects_to_both', async () => {
    await rd.waitFor(o => o.op === 'relay' && o.url === r1.url && o.state === 'connected', 8000, 'r1 connected');
    await rd.waitFor(o => o.op === 'relay' && o.url === r2.url && o.state === 'connected', 8000, 'r2 connected');
  });

  await t.run('events_arrive_once', async () => {
    rd.send({ op: 'subscribe', id: 'jobs', filters: [{ kinds: [5050] }] });
    await rd.waitFor(o => o.op === 'eose' && o.sub === 'jobs' && o.relay === r1.url, 5000, 'eose r1');
    await rd.waitFor(o => o.op === 'eose' && o.sub === 'jobs' && o.relay === r2.url, 5000, 'eose r2');
    ev1 = makeEvent(sk, { kind: 5050, content: 'one' });
    await publishTo(r1.url, ev1);
    const got = await rd.waitFor(o => o.op === 'event' && o.event.id === ev1.id, 5000, 'event');
    assert(got.sub === 'jobs' && got.relay === r1.url, 'wrong sub/relay ' + JSON.stringify(got).slice(0, 200));
    assert(JSON.stringify(got.event) === JSON.stringify(ev1), 'event altered');
    const other = makeEvent(sk, { kind: 1 });
    await publishTo(r1.url, other);
    await sleep(500);
    assert(rd.lines.filter(o => o.op === 'event' && o.event.id === ev1.id).length === 1, 'ev1 not exactly once');
    assert(!rd.lines.some(o => o.op === 'event' && o.event.id === other.id), 'kind 1 forwarded');
  });

  await t.run('two_relays_same_event_forwarded_once', async () => {
    const ev = makeEvent(sk, { kind: 5050, content: 'both' });
    await publishTo(r1.url, ev);
    await publishTo(r2.url, ev);
    await rd.waitFor(o => o.op === 'event' && o.event.id === ev.id, 5000, 'event');
    await sleep(700);
    const n = rd.lines.filter(o => o.op === 'event' && o.event.id === ev.id).length;
    assert(n === 1, `forwarded ${n} times`);
    const st = await rd.status();
    assert(st.counters.duplicates >= 1, 'no duplicate counted: ' + JSON.stringify(st.counters));
  });

  await t.run('publish_ok_accepted', async () => {
    const ev = makeEvent(sk, { kind: 6050, content: 'result' });
    rd.send({ op: 'publish', event: ev });
    const oks = [];
    for (const url of [r1.url, r2.url])
      oks.push(await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.relay === url, 5000, 'ok ' + url));
    for (const o of oks) assert(o.accepted === true && o.final === true, 'not accepted: ' + JSON.stringify(o));
    const stored = await r1.relay.findEvents([{ ids: [ev.id] }]);
    assert(stored.length === 1, 'relay did not store the event');
  });

  await t.run('publish_refused_reports_message', async () => {
    const ev = makeEvent(sk, { kind: 6050, content: 'orig' });
    const bad = { ...ev, sig: ev.sig.slice(0, -2) + (ev.sig.endsWith('00') ? '11' : '00') };
    rd.send({ op: 'publish', event: bad, relays: [r1.url] });
    const o = await rd.waitFor(o => o.op === 'ok' && o.id === bad.id && o.relay === r1.url, 5000, 'ok');
    assert(o.accepted === false && o.final === true, 'expected a final refusal: ' + JSON.stringify(o));
    assert(typeof o.message === 'string' && o.message.length > 0, 'no relay message');
  });

  await t.run('fetch_events_then_eose', async () => {
    rd.send({ op: 'fetch', id: 'f1', filters: [{ ids: [ev1.id] }], timeout_ms: 4000 });
    const e = await rd.waitFor(o => o.op === 'event' && o.sub === 'f1', 5000, 'fetch event');
    assert(e.event.id === ev1.id, 'wrong event');
    const eose = await rd.waitFor(o => o.op === 'eose' && o.sub === 'f1', 5000, 'fetch eose');
    assert(eose.relay === undefined, 'fetch eose must have no relay');
    const idxE = rd.lines.indexOf(e), idxEose = rd.lines.indexOf(eose);
    assert(idxE < idxEose, 'eose before event');
    await sleep(300);
    assert(rd.lines.filter(o => o.op === 'event' && o.sub === 'f1').length === 1, 'fetch event not once');
    assert(rd.lines.filter(o => o.op === 'eose' && o.sub === 'f1').length === 1, 'eose not once');
  });

  await t.run('bad_lines_counted_not_fatal', async () => {
    rd.proc.stdin.write('not json\n{"op":"subscribe","id":5,"filters":[]}\n{"op":"nope"}\n');
    const st = await rd.status();
    assert(st.counters.bad_lines === 3, 'bad_lines ' + st.counters.bad_lines);
    assert(st.relays.length === 2 && st.relays.every(r => r.state === 'connected'), 'relays not connected');
  });

  await t.run('echo_subscribe_prints_stored_then_exits', async () => {
    // `echo '{"op":"subscribe",...}' | relayd --stdio --relay URL`
    const one = startRelayd([r1.url]);
    one.send({ op: 'subscribe', id: 'x', filters: [{ ids: [ev1.id] }] });
    const res = await one.stop(true);
    assertClean(res, one.stderr());
    const e = one.lines.find(o => o.op === 'event' && o.sub === 'x');
    assert(e && e.event.id === ev1.id, 'stored event not printed before exit');
    assert(one.lines.some(o => o.op === 'eose' && o.sub === 'x'), 'no eose before exit');
  });

  await t.run('sigterm_clean_exit', async () => {
    const res = await rd.stop();
    assertClean(res, rd.stderr());
    assert(rd.lines.some(o => o.op === 'relay' && o.state === 'closed'), 'no closed state reported');
  });
} finally {
  if (rd.proc.exitCode === null) rd.proc.kill('SIGKILL');
  await r1.close();
  await r2.close();
}
process.exit(t.failed ? 1 : 0);
