#!/usr/bin/env node
// relayd benchmark (make bench): frames/s from one local websocket connection
// into relayd and out to a consumer on its Unix socket, and relayd's RSS idle
// and with 10 relays connected.
//
// The sender is a small ws server that, on REQ, blasts N shape-valid events of
// ~500 bytes (distinct ids; relayd checks shape, not signatures, so they need
// not be signed). The consumer counts `event` lines on relayd.sock.
// Targets (issue 3): >= 50,000 events/s on one core; <= 5 MB RSS idle.
//
// Environment: BIN (optimised build), N (events, default 200000).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const BIN = process.env.BIN || new URL('../../bin', import.meta.url).pathname;
const N = Number(process.env.N || 200000);
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
setTimeout(() => { console.log('relayd bench: hard timeout'); process.exit(1); }, 120000).unref();

function frame(sub, i) {
  const id = i.toString(16).padStart(64, '0');
  const ev = {
    id, pubkey: 'ab'.repeat(32), created_at: 1700000000 + (i % 1000), kind: 5050,
    tags: [['i', 'what is the capital of france, answer in one word please', 'text'],
           ['param', 'model', 'llama3.2'], ['bid', '10000']],
    content: 'x'.repeat(60), sig: 'cd'.repeat(64),
  };
  return JSON.stringify(['EVENT', sub, ev]);
}

// ws servers: the blaster (sends N events on REQ "bench") and idle relays.
async function wsServer(onReq) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (d) => {
      let m; try { m = JSON.parse(d.toString()); } catch { return; }
      if (Array.isArray(m) && m[0] === 'REQ') onReq(ws, m[1]);
    });
  });
  await new Promise(r => wss.once('listening', r));
  return { wss, url: `ws://127.0.0.1:${wss.address().port}` };
}

function rssKB(pid, field = 'VmRSS') {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(s.match(new RegExp(field + ':\\s+(\\d+)'))[1]);
}

async function startRelayd(dir, relays) {
  const conf = join(dir, 'dvm.conf');
  writeFileSync(conf, `state_dir = ${dir}\nrelays = ${relays.join(' ')}\nlog_level = warn\n`);
  const p = spawn(`${BIN}/relayd`, ['-c', conf, '--notify-fd', '3'],
    { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
  await new Promise((res, rej) => { p.stdio[3].once('data', res); p.once('exit', () => rej(new Error('relayd exited'))); });
  return p;
}

async function stop(p) {
  p.kill('SIGTERM');
  await new Promise(r => p.exitCode !== null ? r() : p.once('exit', r));
}

// The sender: N pre-built websocket frames (server frames are unmasked), written
// straight to the socket in 1 MB slices, so JavaScript costs next to nothing.
if (!isMainThread) {
  const parts = [];
  let frameBytes = 0;
  for (let i = 0; i < workerData.N; i++) {
    const body = Buffer.from(frame('bench', i + 1));
    frameBytes = body.length;
    const hdr = body.length < 126 ? Buffer.from([0x81, body.length])
      : Buffer.from([0x81, 126, body.length >> 8, body.length & 255]);
    parts.push(hdr, body);
  }
  const all = Buffer.concat(parts);
  const blaster = await wsServer(async (ws, sub) => {
    if (sub !== 'bench') return;
    parentPort.postMessage({ sending: true });
    const sock = ws._socket;
    for (let off = 0; off < all.length; off += 1 << 20)
      if (!sock.write(all.subarray(off, Math.min(all.length, off + (1 << 20)))))
        await new Promise(r => sock.once('drain', r));
  });
  parentPort.postMessage({ url: blaster.url, frameBytes });
  await new Promise(() => {});
}

const dir = mkdtempSync(join(tmpdir(), 'relayd-bench-'));
const results = {};
try {
  // Idle: no relay reachable (a closed port), nothing subscribed.
  let p = await startRelayd(dir, ['ws://127.0.0.1:9']);
  await sleep(1500);
  results.rss_idle_kb = rssKB(p.pid);
  results.anon_idle_kb = rssKB(p.pid, 'RssAnon');
  await stop(p);

  // Ten idle relays connected.
  const idle = [];
  for (let i = 0; i < 10; i++) idle.push(await wsServer((ws, sub) => ws.send(JSON.stringify(['EOSE', sub]))));
  p = await startRelayd(dir, idle.map(s => s.url));
  await sleep(1500);
  results.rss_10_relays_kb = rssKB(p.pid);
  results.anon_10_kb = rssKB(p.pid, 'RssAnon');
  results.connected = idle.reduce((n, s) => n + s.wss.clients.size, 0);
  await stop(p);
  for (const s of idle) s.wss.close();

  // Throughput: one connection blasting N events, from a worker thread so the
  // sender and the consumer do not share one core.
  const worker = new Worker(new URL(import.meta.url), { workerData: { N } });
  const { url: blastUrl, frameBytes } = await new Promise(r => worker.once('message', r));
  results.frame_bytes = frameBytes;
  let sentAt = 0;
  worker.on('message', (m) => { if (m.sending) sentAt = performance.now(); });
  p = await startRelayd(dir, [blastUrl]);
  const sock = net.connect(join(dir, 'run', 'relayd', 'relayd.sock'));
  await new Promise(r => sock.once('connect', r));
  // Count event lines without decoding them: '\n' positions and a prefix check.
  const prefix = Buffer.from('{"op":"event"');
  let count = 0, last = 0, tail = Buffer.alloc(0);
  const done = new Promise((resolve) => {
    sock.on('data', (d) => {
      const b = tail.length ? Buffer.concat([tail, d]) : d;
      let i = 0, j;
      while ((j = b.indexOf(10, i)) !== -1) {
        if (b.compare(prefix, 0, prefix.length, i, i + prefix.length) === 0) count++;
        i = j + 1;
      }
      tail = b.subarray(i);
      if (count >= N) { last = performance.now(); resolve(); }
    });
  });
  sock.write(JSON.stringify({ op: 'subscribe', id: 'bench', filters: [{ kinds: [5050] }] }) + '\n');
  const t0 = process.cpuUsage();
  const dbg = process.env.DEBUG_STATUS ? setTimeout(() => {
    const c2 = net.connect(join(dir, 'run', 'relayd', 'relayd.sock'), () => c2.write('{"op":"status"}\n'));
    c2.on('data', d => { console.error('STATUS', d.toString().slice(0, 1500), 'count', count, 'buffered', 'n/a'); c2.end(); });
  }, 8000) : null;
  await Promise.race([done, sleep(process.env.DEBUG_STATUS ? 12000 : 90000)]);
  const ru = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  results.relayd_cpu_s = (Number(ru[11]) + Number(ru[12])) / 100;
  results.events = count;
  results.ms = Math.round(last - sentAt);
  results.events_per_s = Math.round(count / ((last - sentAt) / 1000));
  results.rss_after_kb = rssKB(p.pid);
  void t0;
  sock.end();
  await stop(p);
  await worker.terminate();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const ok = results.events === N;
results.events_per_cpu_s = Math.round(results.events / results.relayd_cpu_s);
// Wall-clock speed depends on the sender and consumer sharing the machine;
// events per second of relayd's own CPU time is its single-core capacity.
console.log(`relayd: ${results.events}/${N} events of ${results.frame_bytes} B in ${results.ms} ms wall = ` +
  `${results.events_per_s} events/s; relayd CPU ${results.relayd_cpu_s} s = ` +
  `${results.events_per_cpu_s} events per CPU second (target >= 50000 on one core)`);
console.log(`relayd: RSS idle ${(results.rss_idle_kb / 1024).toFixed(1)} MB ` +
  `(private ${(results.anon_idle_kb / 1024).toFixed(1)} MB; the rest is shared library pages), ` +
  `with ${results.connected} relays connected ${(results.rss_10_relays_kb / 1024).toFixed(1)} MB ` +
  `(private ${(results.anon_10_kb / 1024).toFixed(1)} MB), after the blast ` +
  `${(results.rss_after_kb / 1024).toFixed(1)} MB (target <= 5 MB idle)`);
if (process.argv.includes('--json')) console.log(JSON.stringify(results));
process.exit(ok ? 0 : 1);
