#!/usr/bin/env node
// A real Nostr relay for tests: @nostr-relay/core 0.0.40 + ws + the SQLite event
// repository. It verifies ids and signatures, stores events, answers REQ with
// stored events then EOSE, and broadcasts new events to live subscriptions.
//
// Module:  const r = await startRelay({ port: 0, db: ':memory:', auth: false,
//                                       requireAuth: false, quiet: true });
//          r.url, r.port, await r.store(event) -> {success, message}, await r.close()
// CLI:     node tests/lib/relay.mjs [--port N] [--db FILE] [--auth] [--require-auth]
//          prints "READY ws://127.0.0.1:PORT" on stdout once listening;
//          SIGTERM/SIGINT close it and exit 0.
//
// --db FILE keeps the events in a file so a relay killed and restarted on the same
// port still has them (outage tests). --auth enables NIP-42 (the relay sends
// ["AUTH", challenge] on connect, hostname 127.0.0.1); --require-auth also refuses
// EVENT with OK false "auth-required: ..." and REQ with CLOSED "auth-required: ..."
// until the client has authenticated.
//
// Deviations patched here:
// - 0.0.40 ignores #e/#p/... tag filters for live events (stored queries
//   honour them). EventUtils.isMatchingFilter is wrapped so live events honour
//   NIP-01 tag filters too.
// - 0.0.40 applies a kind-5 deletion (removes the referenced events of the same
//   author) but neither stores nor broadcasts the deletion itself. NIP-09 says
//   relays keep publishing deletion requests, and DVM cancellation depends on
//   subscribers seeing them: the deletion is now also stored and broadcast.
import { WebSocketServer } from 'ws';
import { NostrRelay } from '@nostr-relay/core';
import { EventRepositorySqlite } from '@nostr-relay/event-repository-sqlite';
import { EventUtils, LogLevel } from '@nostr-relay/common';
import { pathToFileURL } from 'node:url';

const MAX_MESSAGE = 512 * 1024;

let patched = false;
function patchTagFilters() {
  if (patched) return;
  patched = true;
  const orig = EventUtils.isMatchingFilter.bind(EventUtils);
  EventUtils.isMatchingFilter = (event, filter) => {
    if (!orig(event, filter)) return false;
    for (const [key, values] of Object.entries(filter)) {
      if (key.length !== 2 || key[0] !== '#' || !Array.isArray(values)) continue;
      const name = key[1];
      const ok = (event.tags || []).some(
        t => Array.isArray(t) && t[0] === name && values.includes(t[1]));
      if (!ok) return false;
    }
    return true;
  };
}

const quietLogger = {
  setLogLevel() {}, debug() {}, info() {}, warn() {},
  error(...a) { if (process.env.RELAY_DEBUG) console.error(...a); },
};

function keepDeletions(relay) {
  const es = relay.eventService;
  const applyDeletion = es.handleDeletionEvent.bind(es);
  es.handleDeletionEvent = async (event) => {
    await applyDeletion(event);
    const { isDuplicate } = await es.eventRepository.upsert(event);
    if (!isDuplicate) await es.broadcast(event);
    return { success: true, message: isDuplicate ? 'duplicate: the event already exists' : undefined };
  };
}

function requireAuthPlugin() {
  return {
    async handleMessage(ctx, message, next) {
      if (ctx.pubkey || !Array.isArray(message)) return next();
      if (message[0] === 'EVENT' && message[1] && message[1].kind !== 22242) {
        ctx.sendMessage(['OK', String(message[1].id), false,
          'auth-required: authenticate first']);
        return { messageType: 'EVENT', success: false };
      }
      if (message[0] === 'REQ') {
        ctx.sendMessage(['CLOSED', String(message[1]), 'auth-required: authenticate first']);
        return { messageType: 'REQ', events: [] };
      }
      return next();
    },
  };
}

// Minimal shape validation: core expects pre-validated messages and would
// throw on garbage; a real relay answers NOTICE instead.
function shapeOk(msg) {
  if (!Array.isArray(msg) || typeof msg[0] !== 'string') return false;
  switch (msg[0]) {
    case 'EVENT': case 'AUTH':
      return msg.length === 2 && msg[1] !== null && typeof msg[1] === 'object'
        && !Array.isArray(msg[1]);
    case 'REQ':
      return msg.length >= 2 && typeof msg[1] === 'string'
        && msg.slice(2).every(f => f !== null && typeof f === 'object' && !Array.isArray(f));
    case 'CLOSE':
      return msg.length === 2 && typeof msg[1] === 'string';
    default:
      return false;
  }
}

export async function startRelay({ port = 0, db = ':memory:', auth = false,
                                   requireAuth = false, host = '127.0.0.1' } = {}) {
  patchTagFilters();
  const repo = new EventRepositorySqlite(db);
  await repo.init();
  const relay = new NostrRelay(repo, {
    hostname: (auth || requireAuth) ? host : undefined,
    logger: quietLogger,
    logLevel: LogLevel.ERROR,
    filterResultCacheTtl: 0,
    eventHandlingResultCacheTtl: 0,
  });
  if (requireAuth) relay.register(requireAuthPlugin());
  keepDeletions(relay);

  const wss = new WebSocketServer({ host, port, maxPayload: MAX_MESSAGE });
  wss.on('connection', (ws, req) => {
    relay.handleConnection(ws, req.socket.remoteAddress);
    ws.on('message', async (data) => {
      let msg;
      try { msg = JSON.parse(data.toString()); } catch {
        ws.send(JSON.stringify(['NOTICE', 'error: invalid JSON']));
        return;
      }
      if (!shapeOk(msg)) {
        ws.send(JSON.stringify(['NOTICE', 'invalid: bad message']));
        return;
      }
      try { await relay.handleMessage(ws, msg); } catch (e) {
        if (ws.readyState === 1) ws.send(JSON.stringify(['NOTICE', 'error: ' + e.message]));
      }
    });
    ws.on('close', () => relay.handleDisconnect(ws));
    ws.on('error', () => {});
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const actual = wss.address().port;
  let closed = false;
  return {
    url: `ws://${host}:${actual}`,
    port: actual,
    relay,
    // Store (and broadcast) an event as if a client had published it.
    store: (event) => relay.handleEvent(event),
    clientCount: () => wss.clients.size,
    async close() {
      if (closed) return;
      closed = true;
      for (const c of wss.clients) c.terminate();
      await new Promise(r => wss.close(() => r()));
      await relay.destroy();
      await repo.destroy();
    },
  };
}

function parseArgs(argv) {
  const o = { port: 0, db: ':memory:', auth: false, requireAuth: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') o.port = Number(argv[++i]);
    else if (a === '--db') o.db = argv[++i];
    else if (a === '--auth') o.auth = true;
    else if (a === '--require-auth') o.requireAuth = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node tests/lib/relay.mjs [--port N] [--db FILE] [--auth] [--require-auth]');
      process.exit(0);
    } else {
      console.error(`relay.mjs: unknown argument ${a}`);
      process.exit(100);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    console.error('relay.mjs: bad --port');
    process.exit(100);
  }
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await startRelay(parseArgs(process.argv.slice(2)));
  process.stdout.write(`READY ${r.url}\n`);
  const stop = async () => { await r.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
