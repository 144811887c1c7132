// Publishing through relayd: a rate-limited: refusal is retried (ok final
// false, then final true after publish_retries); a relay that never answers
// gives "timeout: no OK"; an event for a relay that is down is queued and
// sent when it comes up; a listed relay outside the config is connected for
// that one event (and a fetch), then closed.
import net from 'node:net';
import { startHostileRelay } from '../lib/hostile-relay.mjs';
import { reporter, assert, sleep, startRelayd, assertClean, makeEvent,
  generateSecretKey, hardTimeout } from '../lib/relayd-harness.mjs';

const F = 'relayd_publish.mjs';
hardTimeout(58000, F);
const t = reporter(F);
const sk = generateSecretKey();
const quiet = { junkOnConnect: false, junkOnReq: false };

async function freePort() {
  const s = net.createServer();
  await new Promise(r => s.listen(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise(r => s.close(r));
  return p;
}

const limited = await startHostileRelay({ ...quiet, okReply: 'rate-limited: slow down' });
const silent = await startHostileRelay({ ...quiet, okReply: 'silent' });
const extra = await startHostileRelay({ ...quiet });
const downPort = await freePort();
const downUrl = `ws://127.0.0.1:${downPort}`;
let late;
const rd = startRelayd([limited.url, silent.url, downUrl], [],
  { DVM_PUBLISH_RETRIES: '1', DVM_RELAY_BACKOFF_MAX: '2', DVM_RELAY_ALLOW_PRIVATE: 'yes' });
const sent = (h, id) => h.received.filter(m => m.msg[0] === 'EVENT' && m.msg[1].id === id).length;

try {
  await rd.waitFor(o => o.op === 'relay' && o.url === limited.url && o.state === 'connected', 8000, 'connected');
  await rd.waitFor(o => o.op === 'relay' && o.url === silent.url && o.state === 'connected', 8000, 'connected');
  const ev = makeEvent(sk, { kind: 6050, content: 'publish me' });
  rd.send({ op: 'publish', event: ev });

  await t.run('rate_limited_retried_then_final', async () => {
    const first = await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.relay === limited.url, 5000, 'first ok');
    assert(first.accepted === false && first.final === false && first.message === 'rate-limited: slow down',
      JSON.stringify(first));
    const fin = await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.relay === limited.url && o.final, 8000, 'final ok');
    assert(fin.accepted === false, JSON.stringify(fin));
    assert(sent(limited, ev.id) === 2, `EVENT sent ${sent(limited, ev.id)} times, want 1 + publish_retries`);
  });

  await t.run('queued_for_down_relay_sent_on_connect', async () => {
    const st = await rd.status();
    const d = st.relays.find(r => r.url === downUrl);
    assert(d && d.state !== 'connected' && d.queued === 1, JSON.stringify(d));
    late = await startHostileRelay({ ...quiet, port: downPort });
    const ok = await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.relay === downUrl, 10000, 'ok from late relay');
    assert(ok.accepted === true && ok.final === true, JSON.stringify(ok));
    assert(sent(late, ev.id) === 1, 'late relay got it ' + sent(late, ev.id) + ' times');
  });

  await t.run('listed_extra_relay_connected_for_one_event', async () => {
    const ev2 = makeEvent(sk, { kind: 6050, content: 'to extra' });
    rd.send({ op: 'publish', event: ev2, relays: [extra.url] });
    const ok = await rd.waitFor(o => o.op === 'ok' && o.id === ev2.id && o.relay === extra.url, 8000, 'ok extra');
    assert(ok.accepted === true && ok.final === true, JSON.stringify(ok));
    await sleep(1000);
    assert(extra.clientCount() === 0, 'extra relay still connected');
    const st = await rd.status();
    assert(!st.relays.some(r => r.url === extra.url), 'extra relay still listed');
  });

  await t.run('fetch_from_listed_relay', async () => {
    const stored = makeEvent(sk, { kind: 5050, content: 'input' });
    extra.inject(stored);
    rd.send({ op: 'fetch', id: 'in1', filters: [{ ids: [stored.id] }], relays: [extra.url], timeout_ms: 5000 });
    const e = await rd.waitFor(o => o.op === 'event' && o.sub === 'in1', 8000, 'fetched');
    assert(e.event.id === stored.id && e.relay === extra.url, JSON.stringify(e).slice(0, 200));
    await rd.waitFor(o => o.op === 'eose' && o.sub === 'in1', 8000, 'fetch eose');
    await sleep(800);
    assert(extra.clientCount() === 0, 'extra relay still connected after fetch');
  });

  await t.run('unsubscribe_sends_close', async () => {
    rd.send({ op: 'subscribe', id: 'u1', filters: [{ kinds: [7] }] });
    await rd.waitFor(o => o.op === 'eose' && o.sub === 'u1' && o.relay === limited.url, 5000, 'eose');
    rd.send({ op: 'unsubscribe', id: 'u1' });
    await sleep(500);
    assert(limited.received.some(m => m.msg[0] === 'CLOSE' && m.msg[1] === 'u1'), 'no CLOSE sent');
    const ev = makeEvent(sk, { kind: 7 });
    limited.sendRaw(JSON.stringify(['EVENT', 'u1', ev]));
    await sleep(300);
    assert(!rd.lines.some(o => o.op === 'event' && o.sub === 'u1'), 'event for a closed subscription forwarded');
  });

  await t.run('silent_relay_times_out', async () => {
    // 10 s without OK, retried once (publish_retries = 1): final after ~20 s.
    const fin = await rd.waitFor(o => o.op === 'ok' && o.id === ev.id && o.relay === silent.url, 25000, 'timeout ok');
    assert(fin.accepted === false && fin.final === true && fin.message === 'timeout: no OK', JSON.stringify(fin));
    assert(sent(silent, ev.id) === 2, `silent relay got ${sent(silent, ev.id)} EVENTs, want 2`);
  });

  await t.run('clean_exit', async () => {
    assertClean(await rd.stop(), rd.stderr());
  });
} finally {
  if (rd.proc.exitCode === null) rd.proc.kill('SIGKILL');
  for (const h of [limited, silent, extra, late]) if (h) await h.close();
}
process.exit(t.failed ? 1 : 0);
