// relayd survives a relay outage: the relay process is killed, an event is
// stored in its database while it is down, the relay restarts on the same
// port; relayd reconnects, re-sends the REQ with since = last caught-up time
// minus relay_since_slack, and the event posted during the outage arrives
// (once). An older backdated event is outside that window and does not.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay } from '../lib/relay.mjs';
import { reporter, assert, sleep, startRelayd, assertClean, makeEvent,
  generateSecretKey, publishTo, hardTimeout } from '../lib/relayd-harness.mjs';

const F = 'relayd_outage.mjs';
hardTimeout(55000, F);
const t = reporter(F);
const dir = mkdtempSync(join(tmpdir(), 'relayd-outage-'));
const db = join(dir, 'relay.db');
const relayJs = new URL('../lib/relay.mjs', import.meta.url).pathname;

function relayProc(port) {
  const p = spawn(process.execPath, [relayJs, '--port', String(port), '--db', db],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise((res, rej) => {
    let buf = '';
    p.stdout.on('data', d => { buf += d; const m = buf.match(/READY (\S+)/); if (m) res(m[1]); });
    p.on('exit', () => rej(new Error('relay exited')));
  });
  return { p, ready };
}
const stopProc = (p) => new Promise(r => { if (p.exitCode !== null) return r(); p.on('exit', r); p.kill('SIGTERM'); });

const sk = generateSecretKey();
let rp = relayProc(0);
const url = await rp.ready;
const port = Number(new URL(url).port);
const rd = startRelayd([url], [], { DVM_RELAY_SINCE_SLACK: '60' });

try {
  await t.run('subscribed_live', async () => {
    await rd.waitFor(o => o.op === 'relay' && o.state === 'connected', 8000, 'connected');
    rd.send({ op: 'subscribe', id: 'jobs', filters: [{ kinds: [5050] }] });
    await rd.waitFor(o => o.op === 'eose' && o.sub === 'jobs', 5000, 'eose');
    const ev = makeEvent(sk, { kind: 5050, content: 'before' });
    await publishTo(url, ev);
    await rd.waitFor(o => o.op === 'event' && o.event.id === ev.id, 5000, 'live event');
  });

  let during, old;
  await t.run('relay_down_reported', async () => {
    await stopProc(rp.p);
    await rd.waitFor(o => o.op === 'relay' && o.state === 'backoff', 5000, 'backoff state');
    // Store while the public port is down: a second relay on the same database.
    const side = await startRelay({ db });
    during = makeEvent(sk, { kind: 5050, content: 'during the outage' });
    old = makeEvent(sk, { kind: 5050, content: 'backdated', created_at: Math.floor(Date.now() / 1000) - 3600 });
    const r1 = await side.store(during), r2 = await side.store(old);
    await side.close();
    assert(r1.success && r2.success, 'side relay did not store');
  });

  await t.run('reconnects_and_delivers_outage_event', async () => {
    rp = relayProc(port);
    await rp.ready;
    const n = rd.lines.length;
    await rd.waitFor(o => o.op === 'relay' && o.state === 'connected' && rd.lines.indexOf(o) >= n,
      15000, 'reconnect');
    const got = await rd.waitFor(o => o.op === 'event' && o.event.id === during.id, 5000, 'outage event');
    assert(got.sub === 'jobs', 'wrong sub');
    await rd.waitFor(o => o.op === 'eose' && o.sub === 'jobs' && rd.lines.indexOf(o) >= n, 5000, 'eose after reconnect');
    await sleep(300);
    assert(!rd.lines.some(o => o.op === 'event' && o.event.id === old.id),
      'backdated event delivered: the re-REQ had no since');
    assert(rd.lines.filter(o => o.op === 'event' && o.event.id === during.id).length === 1, 'not once');
    const st = await rd.status();
    assert(st.counters.duplicates >= 1, 'the replayed pre-outage event was not deduped: ' + JSON.stringify(st.counters));
  });

  await t.run('stdin_eof_finishes_publish_then_exits', async () => {
    const ev = makeEvent(sk, { kind: 6050, content: 'last words' });
    rd.send({ op: 'publish', event: ev });
    const res = await rd.stop(true);
    assertClean(res, rd.stderr());
    const ok = rd.lines.find(o => o.op === 'ok' && o.id === ev.id);
    assert(ok && ok.accepted === true && ok.final === true, 'no ok before exit: ' + JSON.stringify(ok));
  });
} finally {
  if (rd.proc.exitCode === null) rd.proc.kill('SIGKILL');
  await stopProc(rp.p);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(t.failed ? 1 : 0);
