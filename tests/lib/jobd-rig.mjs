// Start and drive bin/jobd for tests: a temp state_dir with a fresh key, a
// dvm.conf from the given keys, readiness through --notify-fd, the control
// socket, and kill -9 for crash tests.
//
//   const j = await startJobd({ dir, conf: { payment_mode: 'before' } });
//   j.pubkey, j.sk (Uint8Array), await j.ctl({ op: 'status' }), j.kill9(),
//   await j.stop() (SIGTERM, resolves with the exit code), j.stderr()
//
//   const { rig, finish } = fakeSpokeRigs('jobd-flows-');
//   const { dir, spokes, jobd } = await rig(conf, fakeSpokeOpts);  jobd on
//   the fake spokes (tests/lib/fake-spokes.mjs), its jobs subscription made;
//   const badExits = await finish();  stop all: one line per jobd that did
//   not exit 0 on SIGTERM (a leak under ASan, say)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { startFakeSpokes } from './fake-spokes.mjs';

export async function startJobd({ dir, conf = {}, sk = null, bin = process.env.BIN || 'bin' }) {
  const state = path.join(dir, 'var');
  fs.mkdirSync(path.join(state, 'run'), { recursive: true });
  const keyFile = path.join(state, 'key');
  if (!sk) {
    if (fs.existsSync(keyFile)) sk = Uint8Array.from(Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'hex'));
    else sk = generateSecretKey();
  }
  if (!fs.existsSync(keyFile)) fs.writeFileSync(keyFile, Buffer.from(sk).toString('hex') + '\n', { mode: 0o600 });
  const lines = { state_dir: state, relays: 'wss://fake.relay', wallet: 'none', ...conf };
  const confFile = path.join(dir, 'dvm.conf');
  fs.writeFileSync(confFile, Object.entries(lines).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  let err = '';
  const proc = spawn(path.join(bin, 'jobd'), ['-c', confFile, '--notify-fd', '3', '-v'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  proc.on('error', (e) => { err += String(e); });
  proc.stderr.on('data', (d) => { err += d; if (process.env.JOBD_DEBUG) process.stderr.write(d); });
  const exited = new Promise((res) => proc.on('exit', (code, sig) => res(code === null ? sig : code)));
  await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error('jobd not ready: ' + err)), 10000);
    proc.stdio[3].on('data', () => { clearTimeout(t); res(); });
    proc.on('exit', (c) => { clearTimeout(t); rej(new Error('jobd exited ' + c + ': ' + err)); });
  });
  const ctlPath = path.join(state, 'run', 'control.sock');
  const ctl = (obj) => new Promise((res, rej) => {
    const c = net.createConnection(ctlPath);
    let buf = '';
    const t = setTimeout(() => { c.destroy(); rej(new Error('control timeout')); }, 5000);
    c.on('connect', () => c.write(JSON.stringify(obj) + '\n'));
    c.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) { clearTimeout(t); c.destroy(); res(JSON.parse(buf.slice(0, i))); }
    });
    c.on('error', (e) => { clearTimeout(t); rej(e); });
  });
  return {
    proc, sk, pubkey: getPublicKey(sk), state, ctl, exited,
    stderr: () => err,
    kill9: async () => { proc.kill('SIGKILL'); await exited; },
    stop: async () => { proc.kill('SIGTERM'); const t = setTimeout(() => proc.kill('SIGKILL'), 8000); const c = await exited; clearTimeout(t); return c; },
  };
}

// A tiny PASS/FAIL reporter in the tests/run format.
export function reporter(file) {
  let failed = 0;
  return {
    async run(name, fn) {
      try { await fn(); console.log(`PASS: ${file}: ${name}`); }
      catch (e) { failed++; console.log(`FAIL: ${file}: ${name}: ${String(e && e.message || e).replace(/\n/g, ' ')}`); }
    },
    get failed() { return failed; },
  };
}

export function assert(cond, msg) { if (!cond) throw new Error(msg || 'assertion failed'); }

export function fakeSpokeRigs(prefix) {
  const cleanups = [];
  const badExits = [];
  async function rig(conf = {}, opts = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const spokes = await startFakeSpokes(path.join(dir, 'var', 'run'), opts);
    const jobd = await startJobd({ dir, conf });
    await spokes.waitFor(() => spokes.relayd.subscriptions.has('jobs'), 5000, 'jobs subscription');
    cleanups.push(async () => {
      const code = await jobd.stop();
      await spokes.close();
      if (code !== 0) badExits.push(`${code}: ${jobd.stderr().split('\n').filter((l) => /ERROR|Sanitizer|leak/.test(l)).slice(0, 3).join(' | ')}`);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return { dir, spokes, jobd };
  }
  async function finish() {
    for (const f of cleanups) await f().catch((e) => badExits.push(String(e)));
    return badExits;
  }
  return { rig, finish };
}
