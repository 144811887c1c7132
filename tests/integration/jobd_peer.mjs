// jobd checks who is on the other end of a spoke's socket (SO_PEERCRED):
// a process of another uid that binds invoiced's socket first (as any
// stage could when run/ was shared) is refused with a log line and told
// nothing; once the rightful invoiced listens there, jobd's retry connects.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startJobd, reporter, assert } from '../lib/jobd-rig.mjs';

const T = 'jobd_peer.mjs';
const t = reporter(T);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await cond()) return true;
  return false;
}

if (process.getuid() !== 0) {
  console.log(`PASS: ${T}: not root: no second uid here (the peer rule is in unit/test_jobd_peer)`);
  process.exit(0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobd-peer-'));
fs.chmodSync(dir, 0o755);
const sockDir = path.join(dir, 'var', 'run', 'invoiced');
fs.mkdirSync(sockDir, { recursive: true });
fs.chmodSync(sockDir, 0o777);	// anyone may bind here: the attack
const sock = path.join(sockDir, 'invoiced.sock');

// The impostor: nobody, listening on invoiced's socket, reporting what it hears.
const imp = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `
  const net = require('node:net');
  net.createServer((c) => c.on('data', (d) => process.stdout.write('GOT ' + d))).listen(process.argv[1],
    () => process.stdout.write('READY\\n'));`, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
let heard = '';
imp.stdout.on('data', (d) => { heard += d; });
let jobd = null, legit = null;
try {
  assert(await until(() => heard.includes('READY'), 5000), 'impostor did not start');
  jobd = await startJobd({ dir });

  await t.run('a spoke socket bound by another uid is refused with a log line, and told nothing', async () => {
    assert(await until(() => /SECURITY: invoiced: the socket belongs to uid 65534/.test(jobd.stderr()), 5000),
      'no refusal in the log: ' + jobd.stderr().split('\n').filter((l) => /invoiced/.test(l)).slice(-3).join(' | '));
    await sleep(500);
    assert(!heard.includes('GOT'), 'the impostor was sent: ' + heard);
    const st = await jobd.ctl({ op: 'status' });
    assert(st.spokes && st.spokes.invoiced === false, 'status says invoiced connected: ' + JSON.stringify(st.spokes));
  });

  await t.run('jobd retries and connects once the rightful user listens there', async () => {
    imp.kill('SIGKILL');
    fs.rmSync(sock, { force: true });
    let lines = '';
    legit = net.createServer((c) => c.on('data', (d) => { lines += d; })).listen(sock);
    assert(await until(() => lines.includes('\n'), 15000), 'jobd did not connect to the rightful socket');
    const st = await jobd.ctl({ op: 'status' });
    assert(st.spokes.invoiced === true, 'status: ' + JSON.stringify(st.spokes));
  });
} catch (e) {
  console.log(`FAIL: ${T}: setup: ${String(e && e.message || e).replace(/\n/g, ' ')}`);
  process.exitCode = 1;
} finally {
  imp.kill('SIGKILL');
  if (legit) legit.close();
  if (jobd) {
    const code = await jobd.stop();
    if (code !== 0) console.log(`FAIL: ${T}: jobd exit on SIGTERM: ${code}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
if (t.failed) process.exitCode = 1;
