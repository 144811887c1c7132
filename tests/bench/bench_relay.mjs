// BENCHMARK TOOL ONLY, NOT A RELAY TO RUN: a minimal NIP-01 relay for
// bench.mjs row 4, so that the relay is not the bottleneck of "100 jobs in
// flight". It checks NO signatures and NO ids (the real test relay,
// tests/lib/relay.mjs, verifies every event in JavaScript, 100 requests one
// after another, which is what the old row measured). It keeps every event
// in memory, answers EVENT with OK, REQ with the stored matches and EOSE and
// then live matches, CLOSE by dropping the subscription. Filters: ids,
// authors, kinds, #<letter>, since, until, limit. Runs in a worker thread so
// the requesters in the main thread do not delay it.
//
//   const r = await startBenchRelay();  // { url, close() }
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { WebSocketServer } from 'ws';

function matches(f, ev) {
  if (f.ids && !f.ids.includes(ev.id)) return false;
  if (f.authors && !f.authors.includes(ev.pubkey)) return false;
  if (f.kinds && !f.kinds.includes(ev.kind)) return false;
  if (f.since !== undefined && ev.created_at < f.since) return false;
  if (f.until !== undefined && ev.created_at > f.until) return false;
  for (const k of Object.keys(f)) {
    if (k[0] !== '#' || k.length !== 2) continue;
    if (!ev.tags.some(t => t[0] === k[1] && f[k].includes(t[1]))) return false;
  }
  return true;
}

function serve() {
  const events = [];
  const clients = new Set();
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', ws => {
    const subs = new Map();
    const c = { ws, subs };
    clients.add(c);
    ws.on('error', () => {});
    ws.on('close', () => clients.delete(c));
    ws.on('message', data => {
      let m;
      try { m = JSON.parse(data); } catch { return; }
      if (!Array.isArray(m)) return;
      if (m[0] === 'EVENT' && m[1] && typeof m[1] === 'object') {
        const ev = m[1];
        events.push(ev);
        ws.send(JSON.stringify(['OK', ev.id, true, '']));
        for (const o of clients)
          for (const [sub, fs] of o.subs)
            if (fs.some(f => matches(f, ev))) o.ws.send(JSON.stringify(['EVENT', sub, ev]));
      } else if (m[0] === 'REQ' && typeof m[1] === 'string') {
        const fs = m.slice(2).filter(f => f && typeof f === 'object');
        subs.set(m[1], fs);
        const lim = Math.min(...fs.map(f => f.limit ?? Infinity));
        let out = events.filter(ev => fs.some(f => matches(f, ev)));
        if (Number.isFinite(lim)) out = out.slice(-lim);
        for (const ev of out) ws.send(JSON.stringify(['EVENT', m[1], ev]));
        ws.send(JSON.stringify(['EOSE', m[1]]));
      } else if (m[0] === 'CLOSE') {
        subs.delete(m[1]);
      }
    });
  });
  wss.on('listening', () => parentPort.postMessage({ url: `ws://127.0.0.1:${wss.address().port}` }));
  parentPort.on('message', m => { if (m === 'close') { wss.close(); process.exit(0); } });
}

if (!isMainThread) serve();

export async function startBenchRelay() {
  const w = new Worker(new URL(import.meta.url));
  const url = await new Promise((resolve, reject) => {
    w.once('error', reject);
    w.once('message', m => resolve(m.url));
  });
  return { url, async close() { w.postMessage('close'); await w.terminate(); } };
}
