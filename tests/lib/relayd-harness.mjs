// Helpers for relayd's integration tests: spawn bin/relayd (stdio or socket),
// read its NDJSON output, wait for lines, stop it and check it exited cleanly
// (exit 0, no sanitizer report on stderr). Also a tiny PASS/FAIL reporter.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';

export const BIN = process.env.BIN || new URL('../../bin', import.meta.url).pathname;

export function reporter(file) {
  let failed = 0;
  return {
    async run(name, fn) {
      try { await fn(); console.log(`PASS: ${file}: ${name}`); } catch (e) {
        failed++;
        console.log(`FAIL: ${file}: ${name}: ${String(e && e.message || e).split('\n')[0]}`);
      }
    },
    get failed() { return failed; },
  };
}

export function assert(cond, msg) { if (!cond) throw new Error(msg); }
export const sleep = (ms) => new Promise(r => setTimeout(r, ms));

// A line source: lines[] and waitFor(pred, ms).
function lineSource(stream) {
  const lines = [];
  const waiters = [];
  createInterface({ input: stream }).on('line', (l) => {
    let o;
    try { o = JSON.parse(l); } catch { o = { op: '__unparsable', text: l }; }
    lines.push(o);
    for (const w of [...waiters]) if (w.pred(o)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(o); }
  });
  return {
    lines,
    waitFor(pred, ms = 5000, what = 'line') {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) { waiters.splice(i, 1); reject(new Error(`timeout waiting for ${what}`)); }
        }, ms);
      });
    },
  };
}

// relayd --stdio with the given relays. Returns {send, lines, waitFor, stop, proc, stderr()}.
export function startRelayd(relays, extra = [], env = {}) {
  const args = ['--stdio', ...relays.flatMap(u => ['--relay', u]), ...extra];
  const proc = spawn(`${BIN}/relayd`, args, { stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env } });
  let err = '';
  proc.stderr.on('data', d => { err += d; if (err.length > 4e6) err = err.slice(-2e6); });
  const src = lineSource(proc.stdout);
  const exited = new Promise(r => proc.on('exit', (code, sig) => r({ code, sig })));
  return {
    proc, ...src,
    stderr: () => err,
    send(o) { proc.stdin.write(JSON.stringify(o) + '\n'); },
    async status() {
      const n = src.lines.length;
      this.send({ op: 'status' });
      return src.waitFor((o) => o.op === 'status' && src.lines.indexOf(o) >= n, 5000, 'status');
    },
    // SIGTERM (or stdin EOF with eof=true); resolves {code, sig}; kills after 10 s.
    async stop(eof = false) {
      if (eof) proc.stdin.end(); else proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
    exited,
  };
}

// Assert a clean exit: code 0 and no sanitizer report.
export function assertClean(res, stderr) {
  assert(res.code === 0, `exit ${res.code} sig ${res.sig}; stderr tail: ${stderr.slice(-400)}`);
  assert(!/Sanitizer|runtime error/.test(stderr), `sanitizer report: ${stderr.slice(stderr.search(/Sanitizer|runtime error/), 300)}`);
}

// Connect to a Unix socket: {send, lines, waitFor, close}.
export async function connectSock(path) {
  const s = connect(path);
  await new Promise((res, rej) => { s.once('connect', res); s.once('error', rej); });
  const src = lineSource(s);
  return { ...src, send(o) { s.write(JSON.stringify(o) + '\n'); }, close() { s.end(); } };
}

export function makeEvent(sk, over = {}) {
  return finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [],
    content: 'test ' + Math.random(), ...over }, sk);
}
export { generateSecretKey };

// Publish with a plain ws client; resolves with the relay's OK.
export async function publishTo(url, ev) {
  const ws = new WebSocket(url);
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  const ok = new Promise((res) => ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (m[0] === 'OK' && m[1] === ev.id) res(m);
  }));
  ws.send(JSON.stringify(['EVENT', ev]));
  const m = await Promise.race([ok, sleep(5000).then(() => null)]);
  ws.close();
  if (!m) throw new Error('no OK from ' + url);
  return m;
}

// Hard timeout for the whole test file.
export function hardTimeout(ms, file) {
  setTimeout(() => { console.log(`FAIL: ${file}: hard timeout`); process.exit(1); }, ms).unref();
}
