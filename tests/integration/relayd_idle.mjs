// Keep-alive and reload: a relay that answers pings stays connected while
// silent; one that answers nothing (no pong) is dropped after
// relay_idle_timeout and redialled; SIGHUP with a new relays list connects
// the added relay and closes the removed one with a close frame.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { reporter, assert, sleep, assertClean, hardTimeout, BIN } from '../lib/relayd-harness.mjs';

const F = 'relayd_idle.mjs';
hardTimeout(55000, F);
const t = reporter(F);

// A ws server that never sends anything; autoPong decides whether pings are answered.
async function mute(autoPong) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong });
  const s = { conns: 0, closes: [], wss };
  wss.on('connection', (ws) => {
    s.conns++;
    ws.on('error', () => {});
    ws.on('close', (code) => s.closes.push(code));
  });
  await new Promise(r => wss.once('listening', r));
  s.url = `ws://127.0.0.1:${wss.address().port}`;
  return s;
}

const dir = mkdtempSync(join(tmpdir(), 'relayd-idle-'));
const ponger = await mute(true), deaf = await mute(false), later = await mute(true);
const conf = join(dir, 'dvm.conf');
const writeConf = (relays) => writeFileSync(conf,
  `state_dir = ${dir}\nrelays = ${relays.join(' ')}\nrelay_idle_timeout = 5\nrelay_ping_interval = 1\n`);
writeConf([ponger.url, deaf.url]);
const proc = spawn(`${BIN}/relayd`, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
let err = '';
proc.stderr.on('data', d => { err += d; });
const exited = new Promise(r => proc.on('exit', (code, sig) => r({ code, sig })));

try {
  await t.run('deaf_relay_redialled_ponger_kept', async () => {
    await sleep(9000);
    assert(deaf.conns >= 2, `deaf relay dialled ${deaf.conns} times, want a reconnect`);
    assert(ponger.conns === 1, `answering relay dialled ${ponger.conns} times, want 1`);
    assert(/silent for 5 s/.test(err), 'no idle log line');
  });

  await t.run('sighup_switches_relays', async () => {
    writeConf([later.url]);
    proc.kill('SIGHUP');
    await sleep(1500);
    assert(later.conns === 1 && later.wss.clients.size === 1, 'added relay not connected');
    assert(ponger.wss.clients.size === 0, 'removed relay still connected');
    assert(ponger.closes.includes(1000), 'no normal close frame: ' + JSON.stringify(ponger.closes));
    const n = deaf.conns;
    await sleep(2500);
    assert(deaf.conns === n, 'removed relay redialled');
  });

  await t.run('sigterm_close_frame_exit_0', async () => {
    proc.kill('SIGTERM');
    const res = await exited;
    assertClean(res, err);
    await sleep(200);
    assert(later.closes.includes(1000), 'no close frame on SIGTERM: ' + JSON.stringify(later.closes));
  });
} finally {
  if (proc.exitCode === null) proc.kill('SIGKILL');
  for (const s of [ponger, deaf, later]) { for (const c of s.wss.clients) c.terminate(); s.wss.close(); }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(t.failed ? 1 : 0);
