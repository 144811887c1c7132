#!/usr/bin/env node
// An adversarial Nostr relay for robustness tests. It speaks just enough NIP-01 to
// look like a relay (answers REQ with EOSE, EVENT with OK) but, on every client
// connection and on every REQ, first sends a catalogue of garbage: malformed JSON,
// 1 MB frames (whole and fragmented), non-arrays, wrong types, unknown message
// types, events with missing fields or wrong-length / non-hex ids, binary frames, events for unknown subscriptions, deep nesting, then a bounded
// burst of random junk. After the junk it sends the events it was given (these may
// be expired or stale: nothing here checks them, which is the point), then EOSE.
//
// Module:
//   const h = await startHostileRelay({
//     port: 0,            // 0 = pick a free port
//     events: [],         // events sent on every REQ (after the junk, before EOSE)
//     junkOnConnect: true, junkOnReq: true,
//     huge: true,         // include the 1 MB frames
//     burst: 200,         // random junk messages per burst (max 10000)
//     okReply: 'accept',  // EVENT answer: 'accept' | 'silent' | any other string =
//                         //   refuse with that message (e.g. 'rate-limited: slow down')
//     authChallenge: null,// string: send ["AUTH", it] on connect
//     badUtf8: false      // also send a text frame that is not UTF-8 (RFC 6455 says
//                         //   the client must fail the connection on it)
//   });
//   h.url, h.port
//   h.inject(event)       // send ["EVENT", sub, event] on every open subscription
//                         //   of every client and remember it for later REQs
//   h.sendRaw(text)       // send a text frame verbatim to every client
//   h.junk()              // send one more junk catalogue + burst to every client
//   h.flood(ms)           // random junk to every client for ms (bounded: <= 30 s)
//   h.received            // every message clients sent, parsed: [{client, msg}]
//   h.clientCount(), await h.close()
// CLI:
//   node tests/lib/hostile-relay.mjs [--port N] [--events FILE] [--burst N]
//        [--no-huge] [--no-junk-on-connect] [--no-junk-on-req] [--ok accept|silent|MSG]
//        [--auth CHALLENGE] [--bad-utf8] [--log FILE]
//   prints "READY ws://127.0.0.1:PORT" on stdout. --events FILE: one event JSON per
//   line. --log FILE: appends every client message as one JSON line. Control on
//   stdin, one JSON per line: an object with "id" = inject(event); an array = sent
//   verbatim as JSON; {"raw": "text"} = sendRaw; {"junk": true} = junk();
//   {"flood": ms} = flood(ms). SIGTERM/SIGINT close it and exit 0.
import { WebSocketServer } from 'ws';
import { createInterface } from 'node:readline';
import { readFileSync, appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const MB = 1024 * 1024;
const MAX_BURST = 10000;
const MAX_FLOOD_MS = 30000;
const HEX64 = 'ab'.repeat(32);
const HEX128 = 'cd'.repeat(64);

function fakeEvent(over = {}) {
  return { id: HEX64, pubkey: 'ef'.repeat(32), created_at: 1700000000, kind: 1,
           tags: [], content: 'x', sig: HEX128, ...over };
}

function without(obj, key) {
  const o = { ...obj };
  delete o[key];
  return o;
}

// The fixed catalogue. Each entry: [reason, payload]; payload is a string (text
// frame), a Buffer (sent as text frame bytes) or {binary: Buffer}.
function catalogue(sub) {
  const ev = fakeEvent();
  const big = 'A'.repeat(MB);
  return [
    ['malformed_json', 'not json at all'],
    ['malformed_json', '["EVENT","' + sub + '",{"id":'],
    ['malformed_json', '{"unterminated": ['],
    ['malformed_json', ''],
    ['huge_frame', JSON.stringify(['EVENT', sub, fakeEvent({ content: big })])],
    ['huge_frame', JSON.stringify(['NOTICE', big])],
    ['not_array', '{"EVENT": 1}'],
    ['not_array', '42'],
    ['not_array', '"EVENT"'],
    ['not_array', 'null'],
    ['not_array', 'true'],
    ['empty_array', '[]'],
    ['wrong_type', '[1, 2, 3]'],
    ['wrong_type', JSON.stringify(['EVENT', 5, ev])],
    ['wrong_type', JSON.stringify(['EVENT', sub, 'not an object'])],
    ['wrong_type', JSON.stringify(['EVENT', sub, [ev]])],
    ['wrong_type', JSON.stringify(['EVENT', sub])],
    ['wrong_type', JSON.stringify(['EOSE', 7])],
    ['wrong_type', JSON.stringify(['OK', 1, 'yes', 3])],
    ['wrong_type', JSON.stringify(['OK', HEX64])],
    ['wrong_type', JSON.stringify(['NOTICE', {}])],
    ['wrong_type', JSON.stringify(['CLOSED', null, 5])],
    ['wrong_type', JSON.stringify(['AUTH', 12])],
    ['unknown_type', JSON.stringify(['FOO', 'bar'])],
    ['unknown_type', JSON.stringify(['COUNT', sub, { count: 1 }])],
    ['unknown_type', JSON.stringify([null, sub])],
    ['bad_event', JSON.stringify(['EVENT', sub, without(ev, 'sig')])],
    ['bad_event', JSON.stringify(['EVENT', sub, without(ev, 'pubkey')])],
    ['bad_event', JSON.stringify(['EVENT', sub, without(ev, 'tags')])],
    ['bad_event', JSON.stringify(['EVENT', sub, without(ev, 'id')])],
    ['bad_event', JSON.stringify(['EVENT', sub, without(ev, 'content')])],
    ['bad_event', JSON.stringify(['EVENT', sub, without(ev, 'created_at')])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ kind: '1' })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ kind: -1 })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ created_at: 1.5 })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ created_at: -5 })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ content: 7 })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ tags: [[1, 2]] })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ tags: 'no' })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ id: 'ab'.repeat(31) + 'a' })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ id: 'ab'.repeat(32) + 'a' })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ id: 'AB'.repeat(32) })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ id: 'zz'.repeat(32) })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ pubkey: 'ef'.repeat(31) })])],
    ['bad_event', JSON.stringify(['EVENT', sub, fakeEvent({ sig: 'cd'.repeat(63) })])],
    ['unknown_sub', JSON.stringify(['EVENT', 'no-such-sub', fakeEvent({ id: '99'.repeat(32) })])],
    ['deep_nesting', '['.repeat(100000) + ']'.repeat(100000)],
    ['binary', { binary: Buffer.from('["EVENT","' + sub + '",' + JSON.stringify(ev) + ']') }],
  ];
}

const JUNK_ALPHABET = '[]{}",:0123456789abcdefEVENTOSE\\ \n\t';
function randomJunk(sub) {
  const r = Math.random();
  if (r < 0.3) {
    let s = '';
    const n = 1 + Math.floor(Math.random() * 300);
    for (let i = 0; i < n; i++) s += JUNK_ALPHABET[Math.floor(Math.random() * JUNK_ALPHABET.length)];
    return s;
  }
  if (r < 0.6) return JSON.stringify(['EVENT', sub, fakeEvent({ id: Math.random().toString(16) })]);
  if (r < 0.8) return JSON.stringify([Math.random().toString(36), Math.random()]);
  return JSON.stringify({ op: 'event', n: Math.random() });
}

function sendOne(ws, payload) {
  if (ws.readyState !== 1) return;
  if (payload && payload.binary) ws.send(payload.binary, { binary: true });
  else ws.send(payload, { binary: false });
}

// A 1 MB message split into 16 fragments: the receiver must reassemble or drop it
// without holding the connection hostage.
function sendFragmented(ws, sub) {
  if (ws.readyState !== 1) return;
  const text = JSON.stringify(['EVENT', sub, fakeEvent({ content: 'F'.repeat(MB) })]);
  const step = Math.ceil(text.length / 16);
  for (let i = 0; i < text.length; i += step) {
    ws.send(text.slice(i, i + step), { binary: false, fin: i + step >= text.length });
  }
}

export async function startHostileRelay({ port = 0, host = '127.0.0.1', events = [],
    junkOnConnect = true, junkOnReq = true, huge = true, burst = 200,
    okReply = 'accept', authChallenge = null, badUtf8 = false, onMessage = null } = {}) {
  burst = Math.max(0, Math.min(MAX_BURST, burst | 0));
  const stored = [...events];
  const received = [];
  const subsOf = new Map();   // ws -> Set(sub ids)
  let floodTimers = [];

  const junkTo = (ws, sub) => {
    for (const [reason, payload] of catalogue(sub)) {
      if (!huge && reason === 'huge_frame') continue;
      sendOne(ws, payload);
    }
    if (badUtf8) sendOne(ws, Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0xc0, 0x80, 0x22, 0x5d]));
    if (huge) sendFragmented(ws, sub);
    for (let i = 0; i < burst; i++) sendOne(ws, randomJunk(sub));
  };

  const wss = new WebSocketServer({ host, port, maxPayload: 4 * MB });
  wss.on('connection', (ws) => {
    subsOf.set(ws, new Set());
    ws.on('error', () => {});
    ws.on('close', () => subsOf.delete(ws));
    if (authChallenge) sendOne(ws, JSON.stringify(['AUTH', authChallenge]));
    if (junkOnConnect) junkTo(ws, 'connect');
    ws.on('message', (data) => {
      let msg;
      try { msg = JSON.parse(data.toString()); } catch { return; }
      received.push({ msg });
      if (onMessage) onMessage(msg, ws);
      if (!Array.isArray(msg)) return;
      if (msg[0] === 'REQ' && typeof msg[1] === 'string') {
        subsOf.get(ws)?.add(msg[1]);
        if (junkOnReq) junkTo(ws, msg[1]);
        for (const ev of stored) sendOne(ws, JSON.stringify(['EVENT', msg[1], ev]));
        sendOne(ws, JSON.stringify(['EOSE', msg[1]]));
      } else if (msg[0] === 'CLOSE' && typeof msg[1] === 'string') {
        subsOf.get(ws)?.delete(msg[1]);
      } else if ((msg[0] === 'EVENT' || msg[0] === 'AUTH') && msg[1] && typeof msg[1] === 'object') {
        if (okReply === 'silent') return;
        const accepted = okReply === 'accept';
        sendOne(ws, JSON.stringify(['OK', String(msg[1].id), accepted, accepted ? '' : okReply]));
      }
    });
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const actual = wss.address().port;
  const h = {
    url: `ws://${host}:${actual}`,
    port: actual,
    received,
    clientCount: () => wss.clients.size,
    inject(ev) {
      stored.push(ev);
      for (const [ws, subs] of subsOf)
        for (const s of subs) sendOne(ws, JSON.stringify(['EVENT', s, ev]));
    },
    sendRaw(text) { for (const ws of wss.clients) sendOne(ws, text); },
    junk() {
      for (const [ws, subs] of subsOf) junkTo(ws, subs.values().next().value ?? 'junk');
    },
    flood(ms) {
      const until = Date.now() + Math.min(MAX_FLOOD_MS, Math.max(0, ms));
      return new Promise((resolve) => {
        const tick = () => {
          if (Date.now() >= until) { resolve(); return; }
          for (const [ws, subs] of subsOf) {
            const s = subs.values().next().value ?? 'junk';
            for (let i = 0; i < 50; i++) sendOne(ws, randomJunk(s));
          }
          const t = setTimeout(tick, 5);
          floodTimers.push(t);
        };
        tick();
      });
    },
    async close() {
      for (const t of floodTimers) clearTimeout(t);
      floodTimers = [];
      for (const c of wss.clients) c.terminate();
      await new Promise(r => wss.close(() => r()));
    },
  };
  return h;
}

function parseArgs(argv) {
  const o = { port: 0, events: [], log: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') o.port = Number(argv[++i]);
    else if (a === '--events') {
      o.events = readFileSync(argv[++i], 'utf8').split('\n').filter(l => l.trim())
        .map(l => JSON.parse(l));
    } else if (a === '--burst') o.burst = Number(argv[++i]);
    else if (a === '--no-huge') o.huge = false;
    else if (a === '--no-junk-on-connect') o.junkOnConnect = false;
    else if (a === '--no-junk-on-req') o.junkOnReq = false;
    else if (a === '--ok') o.okReply = argv[++i];
    else if (a === '--auth') o.authChallenge = argv[++i];
    else if (a === '--log') o.log = argv[++i];
    else if (a === '--bad-utf8') o.badUtf8 = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node tests/lib/hostile-relay.mjs [--port N] [--events FILE] [--burst N] ' +
        '[--no-huge] [--no-junk-on-connect] [--no-junk-on-req] [--ok accept|silent|MSG] ' +
        '[--auth CHALLENGE] [--bad-utf8] [--log FILE]');
      process.exit(0);
    } else {
      console.error(`hostile-relay.mjs: unknown argument ${a}`);
      process.exit(100);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    console.error('hostile-relay.mjs: bad --port');
    process.exit(100);
  }
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = parseArgs(process.argv.slice(2));
  const log = o.log;
  delete o.log;
  if (log) o.onMessage = (msg) => appendFileSync(log, JSON.stringify(msg) + '\n');
  const h = await startHostileRelay(o);
  process.stdout.write(`READY ${h.url}\n`);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let c;
    try { c = JSON.parse(line); } catch { console.error('hostile-relay: bad control line'); return; }
    if (Array.isArray(c)) h.sendRaw(JSON.stringify(c));
    else if (c && typeof c.raw === 'string') h.sendRaw(c.raw);
    else if (c && c.junk) h.junk();
    else if (c && typeof c.flood === 'number') h.flood(c.flood);
    else if (c && typeof c.id === 'string') h.inject(c);
    else console.error('hostile-relay: unknown control line');
  });
  const stop = async () => { await h.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
