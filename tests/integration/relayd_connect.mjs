// Connection set-up: a relay named by host name (localhost) is resolved
// without blocking and connected; a name that does not resolve and a wss://
// relay with a self-signed certificate (TLS is verified against the system
// CA store, never relaxed) stay in backoff while the good relay works.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { startRelay } from '../lib/relay.mjs';
import { reporter, assert, sleep, startRelayd, assertClean, makeEvent,
  generateSecretKey, publishTo, hardTimeout } from '../lib/relayd-harness.mjs';

const F = 'relayd_connect.mjs';
hardTimeout(50000, F);
const t = reporter(F);
const dir = mkdtempSync(join(tmpdir(), 'relayd-tls-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
  '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
const https = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
const wss = new WebSocketServer({ server: https });
let tlsConns = 0;
wss.on('connection', (ws) => { tlsConns++; ws.on('error', () => {}); });
await new Promise(r => https.listen(0, '127.0.0.1', r));
const tlsUrl = `wss://localhost:${https.address().port}`;
const bad = 'ws://nonexistent.invalid:1';
const r = await startRelay({});
const byName = `ws://localhost:${r.port}`;
const rd = startRelayd([tlsUrl, bad, byName]);
const sk = generateSecretKey();

try {
  await t.run('host_name_resolved_and_connected', async () => {
    await rd.waitFor(o => o.op === 'relay' && o.url === byName && o.state === 'connected', 8000, 'connected by name');
    rd.send({ op: 'subscribe', id: 'x', filters: [{ kinds: [5050] }] });
    await rd.waitFor(o => o.op === 'eose' && o.sub === 'x', 5000, 'eose');
    const ev = makeEvent(sk, { kind: 5050 });
    await publishTo(r.url, ev);
    await rd.waitFor(o => o.op === 'event' && o.event.id === ev.id, 5000, 'event');
  });

  await t.run('unresolvable_name_backs_off', async () => {
    await rd.waitFor(o => o.op === 'relay' && o.url === bad && o.state === 'backoff', 12000, 'backoff');
  });

  await t.run('self_signed_tls_refused', async () => {
    await rd.waitFor(o => o.op === 'relay' && o.url === tlsUrl && o.state === 'backoff', 8000, 'tls backoff');
    await sleep(1500);
    assert(!rd.lines.some(o => o.op === 'relay' && o.url === tlsUrl && o.state === 'connected'),
      'connected to a relay with a self-signed certificate');
    assert(tlsConns === 0, 'websocket upgraded over an unverified TLS connection');
  });

  await t.run('clean_exit', async () => {
    assertClean(await rd.stop(), rd.stderr());
  });
} finally {
  if (rd.proc.exitCode === null) rd.proc.kill('SIGKILL');
  await r.close();
  for (const c of wss.clients) c.terminate();
  https.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(t.failed ? 1 : 0);
