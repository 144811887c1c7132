// relayd against an adversarial relay (tests/lib/hostile-relay.mjs): malformed
// JSON, 1 MB frames (whole and fragmented), non-arrays, wrong types, unknown
// message types, bad events, binary frames, junk bursts and a flood. relayd
// (socket mode, config file) stays up, counts drops by reason, forwards none
// of the garbage and still forwards the valid events that follow (including
// an expired one: relayd checks shape only, jobd judges the rest).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHostileRelay } from '../lib/hostile-relay.mjs';
import { reporter, assert, sleep, assertClean, connectSock, makeEvent,
  generateSecretKey, hardTimeout, BIN } from '../lib/relayd-harness.mjs';

const F = 'relayd_hostile.mjs';
hardTimeout(55000, F);
const t = reporter(F);
const dir = mkdtempSync(join(tmpdir(), 'relayd-hostile-'));
const sk = generateSecretKey();
const h = await startHostileRelay({ burst: 300, authChallenge: 'hostile-challenge' });
const conf = join(dir, 'dvm.conf');
writeFileSync(conf, `state_dir = ${dir}\nrelays = ${h.url}\nrelay_max_frame = 262144\n`);
const proc = spawn(`${BIN}/relayd`, ['-c', conf, '--notify-fd', '3'],
  { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
let err = '';
proc.stderr.on('data', d => { err += d; if (err.length > 4e6) err = err.slice(-2e6); });
const exited = new Promise(r => proc.on('exit', (code, sig) => r({ code, sig })));
const sockPath = join(dir, 'run', 'relayd', 'relayd.sock');
let c;

try {
  await t.run('ready_and_socket_0660', async () => {
    await new Promise((res, rej) => {
      proc.stdio[3].once('data', res);
      setTimeout(() => rej(new Error('no readiness on --notify-fd')), 5000);
    });
    const mode = statSync(sockPath).mode & 0o777;
    assert(mode === 0o660, 'socket mode ' + mode.toString(8));
    c = await connectSock(sockPath);
  });

  await t.run('garbage_dropped_by_reason', async () => {
    c.send({ op: 'subscribe', id: 'jobs', filters: [{ kinds: [5050] }] });
    await c.waitFor(o => o.op === 'eose' && o.sub === 'jobs', 10000, 'eose after junk');
    c.send({ op: 'status' });
    const st = await c.waitFor(o => o.op === 'status', 5000, 'status');
    const d = st.relays[0].dropped;
    for (const reason of ['malformed_json', 'not_array', 'bad_type', 'unknown_type', 'bad_event',
      'oversize', 'binary', 'unknown_sub'])
      assert(d[reason] > 0, `no ${reason} drop counted: ${JSON.stringify(d)}`);
    assert(d.oversize >= 3, 'oversize ' + d.oversize + ' (two whole and one fragmented 1 MB frame per batch)');
    assert(st.relays[0].state === 'connected', 'relay not connected: ' + st.relays[0].state);
    assert(!c.lines.some(o => o.op === 'event'), 'garbage forwarded as an event');
  });

  await t.run('late_client_gets_relay_states_and_challenge', async () => {
    const c2 = await connectSock(sockPath);
    const st = await c2.waitFor(o => o.op === 'relay', 5000, 'relay state');
    assert(st.url === h.url && st.state === 'connected', JSON.stringify(st));
    const ch = await c2.waitFor(o => o.op === 'auth_challenge', 5000, 'pending challenge');
    assert(ch.relay === h.url && ch.challenge === 'hostile-challenge', JSON.stringify(ch));
    c2.close();
  });

  await t.run('valid_events_after_junk_forwarded', async () => {
    const ev = makeEvent(sk, { kind: 5050, content: 'real' });
    const expired = makeEvent(sk, { kind: 5050, content: 'stale',
      tags: [['expiration', String(Math.floor(Date.now() / 1000) - 10)]] });
    h.junk();
    h.inject(ev);
    h.inject(expired);
    await c.waitFor(o => o.op === 'event' && o.event.id === ev.id, 10000, 'valid event');
    await c.waitFor(o => o.op === 'event' && o.event.id === expired.id, 5000, 'expired event');
    assert(c.lines.filter(o => o.op === 'event').length === 2, 'extra events forwarded');
  });

  await t.run('events_outside_the_filter_dropped', async () => {
    const other = makeEvent(sk, { kind: 1, content: 'not asked for' });
    const marker = makeEvent(sk, { kind: 5050, content: 'marker' });
    h.inject(other);
    h.inject(marker);
    await c.waitFor(o => o.op === 'event' && o.event.id === marker.id, 5000, 'marker');
    assert(!c.lines.some(o => o.op === 'event' && o.event.id === other.id), 'kind 1 forwarded');
    c.send({ op: 'status' });
    const n = c.lines.length;
    const st = await c.waitFor(o => o.op === 'status' && c.lines.indexOf(o) >= n - 1, 5000, 'status');
    assert(st.relays[0].dropped.no_match >= 1, 'no_match not counted: ' + JSON.stringify(st.relays[0].dropped));
  });

  await t.run('forged_copy_does_not_hide_real_event', async () => {
    const real = makeEvent(sk, { kind: 5050, content: 'raced' });
    const forged = { ...real, sig: real.sig.slice(0, -4) + (real.sig.endsWith('0000') ? '1111' : '0000') };
    h.inject(forged);
    h.inject(real);
    await c.waitFor(o => o.op === 'event' && o.event.id === real.id && o.event.sig === real.sig, 5000, 'real event');
    assert(c.lines.some(o => o.op === 'event' && o.event.sig === forged.sig), 'forged copy not forwarded (jobd judges it)');
    h.inject(real);
    await new Promise(r => setTimeout(r, 500));
    assert(c.lines.filter(o => o.op === 'event' && o.event.sig === real.sig).length === 1, 'real event twice');
  });

  await t.run('flood_then_still_forwarding', async () => {
    await h.flood(2000);
    const ev = makeEvent(sk, { kind: 5050, content: 'after flood' });
    h.inject(ev);
    await c.waitFor(o => o.op === 'event' && o.event.id === ev.id, 10000, 'event after flood');
    c.send({ op: 'status' });
    const n = c.lines.length;
    const st = await c.waitFor(o => o.op === 'status' && c.lines.indexOf(o) >= n - 1, 5000, 'status');
    assert(st.counters.dropped > 500, 'dropped only ' + st.counters.dropped);
    assert(st.counters.events_forwarded === 6, 'forwarded ' + st.counters.events_forwarded);
  });

  await t.run('publish_through_hostile_relay_ok', async () => {
    const ev = makeEvent(sk, { kind: 6050, content: 'pub' });
    c.send({ op: 'publish', event: ev });
    const o = await c.waitFor(o => o.op === 'ok' && o.id === ev.id, 5000, 'ok');
    assert(o.accepted === true && o.final === true, JSON.stringify(o));
    assert(h.received.some(m => m.msg[0] === 'EVENT' && m.msg[1].id === ev.id), 'EVENT not sent');
  });

  await t.run('sigterm_clean_exit', async () => {
    c.close();
    proc.kill('SIGTERM');
    const k = setTimeout(() => proc.kill('SIGKILL'), 10000);
    const res = await exited;
    clearTimeout(k);
    assertClean(res, err);
  });
} finally {
  if (proc.exitCode === null) proc.kill('SIGKILL');
  await h.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(t.failed ? 1 : 0);
