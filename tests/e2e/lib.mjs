// tests/e2e/lib.mjs: the end-to-end harness (issue 8).
//
// It starts what a user would have: real Nostr relays (tests/lib/relay.mjs,
// as child processes so they can be killed and restarted), the Ollama and
// LNbits doubles and the hostile relay (tests/lib/*.mjs), a temp dvm.conf,
// and the whole pipeline through `scripts/dvm start -c <conf>` with
// DVM_BIN=$BIN. The requester side is nostr-tools: it signs requests,
// encrypts them with NIP-04 or NIP-44, verifies every event it receives and
// decrypts results.
//
// Everything started here is a child in its own process group and is killed
// (SIGKILL to the group) when the test process exits, however it exits; a
// watchdog ends a scenario file that runs too long with a FAIL line.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync,
         rmSync, chmodSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import WebSocket from 'ws';
import { generateSecretKey, getPublicKey, finalizeEvent, verifyEvent }
  from 'nostr-tools/pure';
import * as nip04 from 'nostr-tools/nip04';
import * as nip44 from 'nostr-tools/nip44';
import { bytesToHex } from 'nostr-tools/utils';
import bolt11 from 'bolt11';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.BIN || join(ROOT, 'bin');
export const LIB = join(ROOT, 'tests', 'lib');
export const now = () => Math.floor(Date.now() / 1000);
export const sleep = (ms) => new Promise(r => setTimeout(r, ms));
export { bolt11, verifyEvent };

const KEEP = !!process.env.E2E_KEEP;	/* keep temp dirs for debugging */
const DEBUG = !!process.env.E2E_DEBUG;	/* copy every child's output to stderr */

/* ---------- children and teardown ---------- */

const children = new Set();
const tmpdirs = [];

function killGroup(p, sig) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  try { process.kill(-p.pid, sig); } catch { try { p.kill(sig); } catch {} }
}

export function killAll() {
  for (const c of children) killGroup(c.proc, 'SIGKILL');
  children.clear();
  if (!KEEP) for (const d of tmpdirs) try { rmSync(d, { recursive: true, force: true }); } catch {}
  tmpdirs.length = 0;
}
process.on('exit', killAll);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { killAll(); process.exit(1); });

export function mktemp(tag = 'e2e') {
  const d = mkdtempSync(join(tmpdir(), `sc-${tag}.`));
  chmodSync(d, 0o755);	/* stages may run as their own users when root */
  tmpdirs.push(d);
  return d;
}

// Start a child in its own process group, its output appended to logFile
// and kept in memory for waitOutput().
export function startChild(name, cmd, args, { env = {}, logFile, cwd = ROOT } = {}) {
  const proc = spawn(cmd, args, { cwd, env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const c = { name, proc, out: '', logFile, exited: null };
  const sink = (buf) => {
    const s = buf.toString();
    c.out += s;
    if (c.out.length > 4e6) c.out = c.out.slice(-2e6);
    if (logFile) try { appendFileSync(logFile, s); } catch {}
    if (DEBUG) process.stderr.write(s.replace(/^/gm, `[${name}] `));
  };
  proc.stdout.on('data', sink);
  proc.stderr.on('data', sink);
  c.exitedP = new Promise(r => proc.on('exit', (code, sig) => {
    c.exited = { code, sig }; children.delete(c); r(c.exited);
  }));
  children.add(c);
  return c;
}

export async function waitOutput(c, re, ms, what) {
  const t0 = Date.now();
  for (;;) {
    const m = c.out.match(re);
    if (m) return m;
    if (c.exited) throw new Error(`${c.name} exited (${JSON.stringify(c.exited)}) before ${what}; output tail: ${c.out.slice(-600)}`);
    if (Date.now() - t0 > ms) throw new Error(`timeout ${ms} ms waiting for ${what} from ${c.name}; output tail: ${c.out.slice(-600)}`);
    await sleep(25);
  }
}

export async function stopChild(c, sig = 'SIGTERM', ms = 5000) {
  if (!c || c.exited) return c && c.exited;
  killGroup(c.proc, sig);
  const r = await Promise.race([c.exitedP, sleep(ms).then(() => null)]);
  if (r) return r;
  killGroup(c.proc, 'SIGKILL');
  await c.exitedP;
  return { code: null, sig: 'timeout' };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

// Poll fn() until it returns a truthy value; fn may throw (retried).
export async function waitFor(fn, ms, what, every = 50) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() - t0 > ms)
      throw new Error(`timeout ${ms} ms: ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(every);
  }
}

/* ---------- reporting ---------- */

export class Report {
  constructor(file, watchdogMs = 170000) {
    this.file = basename(file);
    this.passed = 0;
    this.failed = 0;
    this.timer = setTimeout(() => {
      this.fail('watchdog', `the whole file ran over ${watchdogMs / 1000} s`);
      killAll();
      process.exit(1);
    }, watchdogMs);
    this.timer.unref();
  }
  pass(name) { this.passed++; console.log(`PASS: ${this.file}: ${name}`); }
  fail(name, why) {
    this.failed++;
    console.log(`FAIL: ${this.file}: ${name}: ${String(why).replace(/\s+/g, ' ').slice(0, 1500)}`);
  }
  // Run one scenario with a hard timeout; an exception is its FAIL line.
  async run(name, fn, ms = 60000) {
    let timer;
    try {
      await Promise.race([fn(), new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`scenario timed out after ${ms} ms`)), ms);
      })]);
      this.pass(name);
      return true;
    } catch (e) {
      this.fail(name, e && e.stack && DEBUG ? e.stack : (e && e.message) || e);
      return false;
    } finally { clearTimeout(timer); }
  }
  done() { clearTimeout(this.timer); killAll(); process.exit(this.failed ? 1 : 0); }
}

export function check(cond, why) { if (!cond) throw new Error(why); }
export function eq(a, b, what) {
  if (a !== b) throw new Error(`${what}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}

/* ---------- relays ---------- */

// A real relay as a child process; kill() and restart() keep port and db.
export async function startRelay({ db, port = 0, dir = mktemp('relay') } = {}) {
  const r = { port, db: db || join(dir, `relay-${Math.random().toString(36).slice(2)}.db`), dir };
  r.start = async () => {
    r.child = startChild(`relay:${r.port || 'new'}`, process.execPath,
      [join(LIB, 'relay.mjs'), '--port', String(r.port), '--db', r.db]);
    const m = await waitOutput(r.child, /READY (ws:\/\/\S+)/, 15000, 'relay READY');
    r.url = m[1];
    r.port = Number(r.url.split(':').pop());
    return r;
  };
  r.kill = () => stopChild(r.child, 'SIGKILL');
  r.stop = () => stopChild(r.child, 'SIGTERM');
  r.restart = async () => { await r.kill(); return r.start(); };
  return r.start();
}

/* ---------- requester (nostr-tools) ---------- */

export function newKey() {
  const sk = generateSecretKey();
  return { sk, pk: getPublicKey(sk), skHex: bytesToHex(sk) };
}

const isNip04 = (s) => typeof s === 'string' && /\?iv=[A-Za-z0-9+/=]{24}$/.test(s);

export async function encryptFor(scheme, key, toPk, text) {
  if (scheme === 'nip04') return await nip04.encrypt(key.sk, toPk, text);
  return nip44.encrypt(text, nip44.getConversationKey(key.sk, toPk));
}

// Decrypt a payload from `fromPk` to `key`, detecting the scheme by shape
// (NIP-04 has "?iv=" 28 characters from the end). Returns {scheme, text}.
export async function decryptFrom(key, fromPk, payload) {
  if (isNip04(payload)) return { scheme: 'nip04', text: await nip04.decrypt(key.sk, fromPk, payload) };
  return { scheme: 'nip44', text: nip44.decrypt(payload, nip44.getConversationKey(key.sk, fromPk)) };
}

export const tag = (ev, name) => (ev.tags || []).find(t => t[0] === name);
export const tags = (ev, name) => (ev.tags || []).filter(t => t[0] === name);

// One websocket client per relay URL, reconnecting every 200 ms while the
// relay is down; it subscribes to every kind-6xxx result and 7000 feedback
// (and kind 31990) since the harness started and keeps all of them. Every
// received event is verified (id and signature); a bad one is kept in
// `bad` for the scenarios to assert on.
export class Client {
  constructor(urls) {
    this.urls = [...urls];
    this.conns = new Map();
    this.events = new Map();	/* id -> event (first copy) */
    this.seenOn = new Map();	/* id -> Set(url) */
    this.bad = [];
    this.keys = new Map();	/* pk -> key, to decrypt */
    this.since = now() - 5;
    this.waiters = new Set();
    this.closed = false;
  }
  async connect() {
    await Promise.all(this.urls.map(u => this.open(u)));
    return this;
  }
  addRelay(url) { if (!this.urls.includes(url)) { this.urls.push(url); return this.open(url); } }
  open(url) {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const ws = new WebSocket(url);
      const conn = { ws, url, pending: new Map(), ready: false };
      this.conns.set(url, conn);
      ws.on('open', () => {
        conn.ready = true;
        ws.send(JSON.stringify(['REQ', 'e2e', { kinds: [6050, 6051, 7000, 31990, 11998, 5], since: this.since }]));
        resolve();
      });
      ws.on('message', (d) => this.onMessage(conn, d));
      ws.on('error', () => {});
      ws.on('close', () => {
        conn.ready = false;
        for (const [, p] of conn.pending) p({ ok: false, message: 'connection closed' });
        conn.pending.clear();
        resolve();
        if (!this.closed) setTimeout(() => { if (!this.closed) this.open(url); }, 200);
      });
    });
  }
  onMessage(conn, data) {
    let m;
    try { m = JSON.parse(data.toString()); } catch { return; }
    if (!Array.isArray(m)) return;
    if (m[0] === 'OK') {
      const p = conn.pending.get(m[1]);
      if (p) { conn.pending.delete(m[1]); p({ ok: m[2] === true, message: m[3] }); }
    } else if (m[0] === 'EVENT' && m[2] && typeof m[2] === 'object') {
      const ev = m[2];
      if (!verifyEvent(ev)) { this.bad.push({ url: conn.url, ev }); return; }
      if (!this.seenOn.has(ev.id)) this.seenOn.set(ev.id, new Set());
      this.seenOn.get(ev.id).add(conn.url);
      if (!this.events.has(ev.id)) {
        this.events.set(ev.id, ev);
        for (const w of this.waiters) w();
      }
    }
  }
  // Publish to the given relays (default: all); resolves with {url: {ok, message}}.
  async publish(ev, urls = this.urls, ms = 5000) {
    const res = {};
    await Promise.all(urls.map(async (u) => {
      const c = this.conns.get(u);
      if (!c || !c.ready) { res[u] = { ok: false, message: 'not connected' }; return; }
      res[u] = await new Promise((resolve) => {
        const t = setTimeout(() => { c.pending.delete(ev.id); resolve({ ok: false, message: 'timeout' }); }, ms);
        c.pending.set(ev.id, (r) => { clearTimeout(t); resolve(r); });
        c.ws.send(JSON.stringify(['EVENT', ev]));
      });
    }));
    return res;
  }
  async publishOk(ev, urls = this.urls) {
    const r = await this.publish(ev, urls);
    for (const [u, x] of Object.entries(r))
      if (!x.ok) throw new Error(`relay ${u} refused ${ev.kind} ${ev.id.slice(0, 8)}: ${x.message}`);
    return ev;
  }
  async waitConnected(ms = 10000) {
    return waitFor(() => [...this.conns.values()].every(c => c.ready), ms, 'client reconnected');
  }
  // Events from `dvm` that reference request `id` with an e tag.
  about(id, dvm) {
    return [...this.events.values()].filter(ev => ev.pubkey === dvm &&
      (ev.tags || []).some(t => t[0] === 'e' && t[1] === id));
  }
  // Wait until pred(list) over about(id) is truthy; returns its value.
  async waitAbout(id, dvm, pred, ms, what) {
    const t0 = Date.now();
    for (;;) {
      const v = await pred(this.about(id, dvm));
      if (v) return v;
      const left = ms - (Date.now() - t0);
      if (left <= 0) {
        // The status's message too: a bare "error" says nothing about why.
        const got = this.about(id, dvm).map(e => { const st = tag(e, 'status') || [];
          return `${e.kind}:${st[1] || ''}${st[2] ? ` "${String(st[2]).slice(0, 160)}"` : ''}`; });
        throw new Error(`timeout ${ms} ms waiting for ${what} on job ${id.slice(0, 8)}; got [${got.join(', ')}]`);
      }
      await new Promise(r => { const w = () => { this.waiters.delete(w); clearTimeout(t); r(); };
        const t = setTimeout(w, Math.min(left, 100)); this.waiters.add(w); });
    }
  }
  close() {
    this.closed = true;
    for (const c of this.conns.values()) try { c.ws.terminate(); } catch {}
  }
}

// Build and sign a kind-5050 request. opts: prompt, key, params {k: v},
// bid (msat), to (provider pk: p tag), encrypt ('nip04'|'nip44', needs to),
// relays (relays tag), expiration (unix s), created_at, extraTags, kind.
export async function makeRequest(o) {
  const key = o.key || newKey();
  const inner = [['i', o.prompt, o.inputType || 'text']];
  for (const [k, v] of Object.entries(o.params || {})) inner.push(['param', k, String(v)]);
  let tagsOut = [], content = '';
  if (o.encrypt) {
    content = await encryptFor(o.encrypt, key, o.to, JSON.stringify(inner));
    tagsOut.push(['p', o.to], ['encrypted']);
  } else {
    tagsOut = inner;
    if (o.to) tagsOut.push(['p', o.to]);
  }
  if (o.bid !== undefined) tagsOut.push(['bid', String(o.bid)]);
  if (o.relays) tagsOut.push(['relays', ...o.relays]);
  if (o.expiration !== undefined) tagsOut.push(['expiration', String(o.expiration)]);
  for (const t of o.extraTags || []) tagsOut.push(t);
  const ev = finalizeEvent({ kind: o.kind || 5050, created_at: o.created_at || now(),
    tags: tagsOut, content }, key.sk);
  return { ev, key, id: ev.id };
}

export function makeDeletion(key, ids, reason = 'cancel') {
  return finalizeEvent({ kind: 5, created_at: now(), content: reason,
    tags: [...ids.map(id => ['e', id]), ['k', '5050']] }, key.sk);
}

// Read a feedback or result event: the status tag and amount in clear, or,
// when it carries ["encrypted"], the decrypted content (a plain text, or an
// NDVM-style JSON tag list holding status/amount/content).
export async function readEvent(ev, key) {
  const out = { kind: ev.kind, id: ev.id, encrypted: !!tag(ev, 'encrypted'), scheme: null };
  let tagList = ev.tags;
  let content = ev.content;
  if (out.encrypted && ev.content) {
    const d = await decryptFrom(key, ev.pubkey, ev.content);
    out.scheme = d.scheme;
    content = d.text;
    if (ev.kind === 7000 && !tag(ev, 'status')) {
      try {
        const inner = JSON.parse(d.text);
        if (Array.isArray(inner) && inner.every(Array.isArray)) {
          tagList = [...ev.tags, ...inner];
          const c = inner.find(t => t[0] === 'content');
          content = c ? c[1] : '';
        }
      } catch {}
    }
  }
  const st = tagList.find(t => t[0] === 'status');
  const am = tagList.find(t => t[0] === 'amount');
  out.status = st ? st[1] : null;
  out.message = st ? (st[2] || '') : '';
  out.amount = am ? Number(am[1]) : null;
  out.bolt11 = am ? am[2] || null : null;
  out.content = content;
  out.tags = tagList;
  return out;
}

/* ---------- the pipeline ---------- */

export function ctlRaw(confPath, args, ms = 5000) {
  return new Promise((resolve) => {
    execFile(join(BIN, 'dvmctl'), ['-c', confPath, ...args], { timeout: ms },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

export async function ctl(confPath, ...args) {
  const r = await ctlRaw(confPath, [...args, '--json']);
  if (r.code !== 0) throw new Error(`dvmctl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
  try { return JSON.parse(r.stdout); } catch { throw new Error(`dvmctl ${args.join(' ')} printed no JSON: ${r.stdout.slice(0, 300)}`); }
}

export function writeConf(path, kv) {
  const lines = ['# written by tests/e2e/lib.mjs'];
  for (const [k, v] of Object.entries(kv)) {
    if (v === undefined || v === null) continue;
    lines.push(`${k} = ${Array.isArray(v) ? v.join(' ') : v}`);
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

// The stages under the launcher, by name: {relayd: pid, ...}. A stage is a
// descendant of the launcher (or in its process group) named after its
// program; zombies are skipped.
export function stagePids(launcherPid) {
  const procs = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try { stat = readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    procs.set(Number(d), { comm: stat.slice(stat.indexOf('(') + 1, close),
      state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]) });
  }
  const under = (pid) => {
    for (let i = 0; i < 20 && pid > 1; i++) {
      if (pid === launcherPid) return true;
      const p = procs.get(pid);
      if (!p) return false;
      pid = p.ppid;
    }
    return false;
  };
  const out = {};
  for (const [pid, p] of procs) {
    if (p.state === 'Z' || !['relayd', 'jobd', 'inferd', 'invoiced'].includes(p.comm)) continue;
    if (p.pgrp === launcherPid || under(pid)) out[p.comm] = pid;
  }
  return out;
}

export class Pipeline {
  // relays: URLs; conf: extra/overriding dvm.conf keys.
  constructor({ relays, conf = {}, tagName = 'dvm' }) {
    this.dir = mktemp(tagName);
    this.confPath = join(this.dir, 'dvm.conf');
    this.log = join(this.dir, 'dvm.log');
    this.kv = {
      state_dir: join(this.dir, 'state'),
      relays,
      relay_backoff_max: 2,
      relay_idle_timeout: 20,
      relay_ping_interval: 5,
      max_request_age: 120,
      require_p_tag: 'no',
      infer_health_interval: 1,
      chunk_interval_ms: 50,
      partial_interval_ms: 200,
      invoice_poll_fast_ms: 200,
      invoice_poll_slow_ms: 400,
      max_concurrent_jobs: 4,
      name: 'e2e-dvm',
      about: 'end-to-end test provider',
      ...conf,
    };
  }
  async start(readyMs = 45000) {
    // The pane listens on a TCP port: a free one, never a fixed 8090 that another run holds.
    if (this.kv.pane_port === undefined) this.kv.pane_port = await freePort();
    writeConf(this.confPath, this.kv);
    this.child = startChild('dvm', 'sh', [join(ROOT, 'scripts', 'dvm'), 'start', '-c', this.confPath],
      { env: { DVM_BIN: BIN }, logFile: this.log });
    this.status = await waitFor(async () => {
      if (this.child.exited) return { exited: this.child.exited };
      const s = await ctl(this.confPath, 'status');
      return s.online && s.relays && s.relays.connected >= (this.minConnected ?? this.kv.relays.length) &&
        s.spokes && s.spokes.relayd && s.spokes.inferd && s.spokes.invoiced ? s : null;
    }, readyMs, 'pipeline online with every relay connected', 200).catch((e) => {
      throw new Error(`${e.message}; launcher output tail: ${this.child.out.slice(-800)}`);
    });
    if (this.status.exited)
      throw new Error(`scripts/dvm exited ${JSON.stringify(this.status.exited)}: ${this.child.out.slice(-800)}`);
    this.pubkey = this.status.pubkey;
    return this;
  }
  ctl(...a) { return ctl(this.confPath, ...a); }
  pids() { return stagePids(this.child.proc.pid); }
  async kill9(stage) {
    const pid = this.pids()[stage];
    if (!pid) throw new Error(`no ${stage} process under the launcher`);
    process.kill(pid, 'SIGKILL');
    return pid;
  }
  // Wait until `stage` runs again with a new pid and jobd says it is connected.
  async waitBack(stage, oldPid, ms = 20000) {
    await waitFor(() => { const p = this.pids()[stage]; return p && p !== oldPid; }, ms, `${stage} restarted`);
    await waitFor(async () => {
      const s = await this.ctl('status');
      return stage === 'jobd' ? s.online : s.spokes && s.spokes[stage];
    }, ms, `${stage} connected again`, 100);
  }
  // relayd's own status, asked on its socket (we run as its user or root):
  // per-relay states and the drop counters are not in jobd's answer.
  relaydStatus(ms = 3000) {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(join(this.kv.state_dir, 'run', 'relayd', 'relayd.sock'));
      let buf = '';
      const t = setTimeout(() => { s.destroy(); reject(new Error(`relayd status: no answer in ${ms} ms`)); }, ms);
      s.on('connect', () => s.write('{"op":"status"}\n'));
      s.on('data', (d) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          let m;
          try { m = JSON.parse(line); } catch { continue; }
          if (m.op === 'status') { clearTimeout(t); s.destroy(); resolve(m); return; }
        }
      });
      s.on('error', (e) => { clearTimeout(t); reject(e); });
    });
  }
  async relayState(url) {
    const st = await this.relaydStatus();
    const r = (st.relays || []).find(x => x.url === url || x.url === url + '/');
    return r ? r.state : null;
  }
  async jobs(limit = 1000) { return (await this.ctl('jobs', '--limit', String(limit))).jobs; }
  async job(id) { return (await this.jobs()).find(j => j.id === id); }
  // Sanitizer reports from any stage, printed into the launcher's stream.
  sanitizerErrors() {
    const t = this.child ? this.child.out : '';
    const m = t.match(/.*(ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:).*/g);
    return m || [];
  }
  async stop() {
    if (!this.child) return null;
    // SIGTERM to the launcher alone (not its group): it stops the stages in
    // reverse order itself; the group is killed only if that takes too long.
    const c = this.child;
    if (c.exited) return c.exited;
    try { c.proc.kill('SIGTERM'); } catch {}
    const r = await Promise.race([c.exitedP, sleep(20000).then(() => null)]);
    if (r) return r;
    killGroup(c.proc, 'SIGKILL');
    await c.exitedP;
    return { code: null, sig: 'stop timeout (20 s)' };
  }
}

/* ---------- a whole world: relays, doubles, pipeline, requester ---------- */

import { startOllamaDouble } from '../lib/ollama-double.mjs';
import { startLnbitsDouble } from '../lib/lnbits-double.mjs';
import { startHostileRelay } from '../lib/hostile-relay.mjs';
import { startNwcWallet } from '../lib/nwc-wallet.mjs';
import { startLndDouble } from '../lib/lnd-double.mjs';
export { startOllamaDouble, startLnbitsDouble, startHostileRelay, startNwcWallet, startLndDouble };

export const MODEL = 'llama3.2';

// The double's token counting (tests/lib/ollama-double.mjs): whitespace-
// separated words over every message content (chat) or system + prompt
// (generate).
export function words(s) {
  if (typeof s !== 'string') return 0;
  const w = s.trim().split(/\s+/);
  return w[0] === '' ? 0 : w.length;
}
export function promptTokensOf(body) {
  if (Array.isArray(body.messages)) return body.messages.reduce((n, m) => n + words(m.content), 0);
  return words(body.system) + words(body.prompt);
}

// Price formula of issue 6, in msat.
export function priceMsat(tokens, kv) {
  const sats = Math.max(kv.min_price_sats, Math.ceil(tokens / 1000 * kv.price_per_1k_tokens));
  return sats * 1000;
}

export class World {
  // o: relays (number of real relays), hostile (bool or opts), conf, ollama
  // (double opts), wallet (true: LNbits double; 'nwc', 'lnd': those doubles),
  // lnbits, nwc, lnd (their opts),
  // minConnected (relays that must be up before the scenarios start).
  constructor(o = {}) { this.o = o; }
  async start() {
    const o = this.o;
    this.dir = mktemp('world');
    this.relays = [];
    for (let i = 0; i < (o.relays ?? 1); i++) this.relays.push(await startRelay({ dir: this.dir }));
    if (o.hostile) this.hostile = await startHostileRelay(o.hostile === true ? {} : o.hostile);
    this.ollama = await startOllamaDouble({ models: [MODEL], ...(o.ollama || {}) });
    const kv = {
      infer_backend: 'ollama',
      infer_urls: this.ollama.url,
      model: MODEL,
      max_tokens: 256,
      min_price_sats: 1,
      price_per_1k_tokens: 1500,	/* ceil(tokens * 1.5) sats: rounding is visible */
      infer_connect_timeout: 2,
      infer_first_byte_timeout: 10,
      infer_idle_timeout: 5,
      infer_total_timeout: 30,
    };
    if (o.wallet === 'nwc') {
      // The wallet service lives on its own relay, as it would in the wild.
      this.nwcRelay = await startRelay({ dir: this.dir });
      this.nwc = await startNwcWallet({ relayUrl: this.nwcRelay.url, network: 'regtest', ...(o.nwc || {}) });
      const uriFile = join(this.dir, 'nwc.uri');
      writeFileSync(uriFile, this.nwc.uri + '\n', { mode: 0o600 });
      Object.assign(kv, { wallet: 'nwc', nwc_uri_file: uriFile, lightning_network: 'regtest',
        payment_mode: 'after', invoice_expiry: 600 });
    } else if (o.wallet === 'lnd') {
      // LND's REST port over https with its own self-signed tls.cert.
      this.lnd = await startLndDouble({ network: 'regtest', dir: this.dir, ...(o.lnd || {}) });
      const macFile = join(this.dir, 'invoice.macaroon');
      writeFileSync(macFile, this.lnd.macaroon, { mode: 0o600 });
      Object.assign(kv, { wallet: 'lnd', lnd_url: this.lnd.url, lnd_macaroon_file: macFile,
        lnd_tls_cert_file: this.lnd.certFile, lightning_network: 'regtest', payment_mode: 'after',
        invoice_expiry: 600 });
    } else if (o.wallet !== false) {
      this.lnbits = await startLnbitsDouble({ network: 'regtest', ...(o.lnbits || {}) });
      const keyFile = join(this.dir, 'lnbits.key');
      writeFileSync(keyFile, this.lnbits.apiKey + '\n', { mode: 0o600 });
      Object.assign(kv, { wallet: 'lnbits', lnbits_url: this.lnbits.url,
        lnbits_api_key_file: keyFile, lightning_network: 'regtest', payment_mode: 'after',
        invoice_expiry: 600 });
    } else {
      Object.assign(kv, { wallet: 'none', payment_mode: 'free' });
    }
    Object.assign(kv, o.conf || {});
    this.kv = kv;
    const urls = [...this.relays.map(r => r.url), ...(this.hostile ? [this.hostile.url] : [])];
    this.pipe = new Pipeline({ relays: urls, conf: kv });
    this.pipe.minConnected = o.minConnected ?? this.relays.length;
    await this.pipe.start();
    this.dvm = this.pipe.pubkey;
    this.client = await new Client(this.relays.map(r => r.url)).connect();
    return this;
  }

  // Publish a request (see makeRequest) to the real relays (or `relays`).
  async request(o = {}, relays) {
    const r = await makeRequest({ prompt: o.prompt ?? `what is ${Math.random().toString(36).slice(2, 8)}?`, ...o });
    this.client.keys.set(r.key.pk, r.key);
    if (o.publish !== false) await this.client.publishOk(r.ev, relays || this.client.urls);
    return r;
  }

  // Every decoded feedback/result for job r (list of readEvent()).
  async decoded(r) {
    const out = [];
    for (const ev of this.client.about(r.id, this.dvm)) {
      if (ev.kind !== 7000 && ev.kind !== r.ev.kind + 1000) continue;
      const p = tag(ev, 'p');
      if (!p || p[1] !== r.key.pk) continue;
      out.push({ ...(await readEvent(ev, r.key)), created_at: ev.created_at, raw: ev });
    }
    return out;
  }
  async waitFeedback(r, status, ms = 15000) {
    return this.client.waitAbout(r.id, this.dvm, async () =>
      (await this.decoded(r)).find(d => d.kind === 7000 && d.status === status),
      ms, `feedback "${status}"`);
  }
  async waitResult(r, ms = 15000) {
    return this.client.waitAbout(r.id, this.dvm, async () =>
      (await this.decoded(r)).find(d => d.kind === r.ev.kind + 1000), ms, 'result');
  }
  async results(r) { return (await this.decoded(r)).filter(d => d.kind === r.ev.kind + 1000); }
  async feedback(r, status) { return (await this.decoded(r)).filter(d => d.kind === 7000 && (!status || d.status === status)); }

  // Inference requests that carried this job's prompt (the double's log).
  inferences(prompt) {
    return this.ollama.log().requests.filter(q => q.body && q.method === 'POST' &&
      /\/(api\/chat|api\/generate|v1\/chat\/completions)$/.test(q.path) &&
      JSON.stringify(q.body).includes(JSON.stringify(prompt).slice(1, -1)));
  }
  // Invoices at the wallet double whose memo or amount identify nothing by
  // themselves: match by the bolt11 we saw, or count them all.
  // Invoices the wallet double made, as {bolt11, hash}.
  invoices() {
    if (this.nwc) return [...this.nwc.txs.values()].map(t => ({ bolt11: t.invoice, hash: t.payment_hash }));
    if (this.lnd) return [...this.lnd.invoices.values()].map(i => ({ bolt11: i.payment_request, hash: i.hash.toString('hex') }));
    return [...this.lnbits.payments.values()];
  }
  pay(hash) { return (this.nwc || this.lnd || this.lnbits).pay(hash); }
  invoiceOf(bolt) { return this.invoices().find(p => p.bolt11 === bolt); }

  async stopAll(rep) {
    // The pipeline must stop cleanly: launcher exit 0, no sanitizer report.
    let why = null;
    // A world with a failure leaves its pipeline log on stderr (tests/run keeps
    // it beside the output), so a failure seen only in CI can be read.
    if (rep && rep.failed > 0 && this.pipe && this.pipe.child)
      process.stderr.write(`--- pipeline log tail (${this.pipe.confPath}):\n${this.pipe.child.out.slice(-12000)}\n`);
    try {
      const alive = this.pipe.pids();
      const r = await this.pipe.stop();
      const san = this.pipe.sanitizerErrors();
      if (san.length) why = `sanitizer report: ${san.slice(0, 3).join(' | ')}`;
      else if (!r || r.code !== 0) why = `scripts/dvm exited ${JSON.stringify(r)}; log tail: ${this.pipe.child.out.slice(-600)}`;
      else if (Object.keys(alive).length !== 4) why = `stages alive before stop: ${JSON.stringify(alive)}`;
    } catch (e) { why = e.message; }
    if (rep) why ? rep.fail('clean shutdown, no sanitizer report', why) : rep.pass('clean shutdown, no sanitizer report');
    this.client && this.client.close();
    for (const r of this.relays || []) await r.kill();
    if (this.hostile) await this.hostile.close();
    if (this.ollama) await this.ollama.close();
    if (this.lnbits) await this.lnbits.close();
    if (this.nwc) await this.nwc.close();
    if (this.lnd) await this.lnd.close();
    if (this.nwcRelay) await this.nwcRelay.kill();
  }
}
