// Fake spokes for jobd tests: Node servers on state_dir/run/NAME/NAME.sock
// (NAME: relayd, inferd, invoiced) speaking docs/PROTOCOL.md (one JSON object per line), with
// scriptable behaviour. They reproduce the documented message shapes of the
// real daemons exactly (field names and types), so jobd can be tested end
// to end before, and independently of, the real spokes.
//
//   const s = await startFakeSpokes(runDir, { invoiceMode: 'auto', inferHold: false });
//   s.relayd.inject(event, { relay: 'wss://a', sub: 'jobs' })  deliver a request
//   s.relayd.published          every event jobd asked to publish (objects)
//   s.relayd.autoOk = false     stop answering publish with ok
//   s.inferd.hold = true        keep infer jobs running until s.inferd.release(job)
//   s.inferd.send(msg)          send inferd's unasked line msg (e.g. a catalog)
//   s.inferd.infers             every infer message received
//   s.inferd.fail = {code, message, retryable}  the error to answer: the next
//                               s.inferd.failNext infers, or all with s.inferd.failAlways
//   s.invoiced.pay(job)         report the job's invoice paid (re-sent until ack)
//   s.invoiced.mode = 'hold'    do not answer invoice requests ('down': wallet_down,
//                               'refuse': wallet_error, not retryable)
//   s.invoiced.invoices         Map job -> invoice
//   s.inferd.healthy = false    health: no backend ok (opts.inferHealthy)
//   s.invoiced.health = 'down'  health: ok false, wallet_down ('silent': no
//                               answer at all; opts.invoiceHealth)
//   s.relayd.relayState         the relay's state in status ('connected')
//   s.<spoke>.healthAsks        status/health requests received
//   await s.waitFor(() => cond, ms, what)
//   await s.close()
//
// Fakes are idempotent by job exactly as PROTOCOL.md says inferd and
// invoiced are: a second infer for a finished job gets the cached done; a
// second invoice for a job gets the same invoice (a different amount is an
// error "conflict").
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { verifyEvent } from 'nostr-tools/pure';

function lineServer(sockPath, onMessage, onConnect) {
  const clients = new Set();
  fs.mkdirSync(path.dirname(sockPath), { recursive: true });
  try { fs.unlinkSync(sockPath); } catch {}
  const server = net.createServer((c) => {
    clients.add(c);
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line) continue;
        let m;
        try { m = JSON.parse(line); } catch { continue; }
        onMessage(m, c);
      }
    });
    c.on('error', () => {});
    c.on('close', () => clients.delete(c));
    if (onConnect) onConnect(c);
  });
  const send = (c, obj) => { if (!c.destroyed) c.write(JSON.stringify(obj) + '\n'); };
  const broadcast = (obj) => { for (const c of clients) send(c, obj); };
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(sockPath, () => resolve({
      server, clients, send, broadcast,
      close: () => new Promise((r) => {
        for (const c of clients) c.destroy();
        server.close(() => r());
      }),
    }));
  });
}

function matches(ev, f) {
  if (f.ids && !f.ids.includes(ev.id)) return false;
  if (f.kinds && !f.kinds.includes(ev.kind)) return false;
  if (f.authors && !f.authors.includes(ev.pubkey)) return false;
  for (const [k, vals] of Object.entries(f)) {
    if (k[0] !== '#' || k.length !== 2) continue;
    if (!ev.tags.some((t) => t[0] === k[1] && vals.includes(t[1]))) return false;
  }
  return true;
}

export async function startFakeSpokes(runDir, opts = {}) {
  fs.mkdirSync(runDir, { recursive: true });
  const relayd = {
    published: [], subscriptions: new Map(), fetches: [], auths: [], received: [],
    store: [], autoOk: true, url: opts.relayUrl || 'wss://fake.relay',
    relayState: opts.relayState || 'connected', healthAsks: 0,
  };
  const inferd = { infers: [], cancels: [], hold: !!opts.inferHold, running: new Map(),
    done: new Map(), answer: opts.answer || ((p) => 'echo: ' + p), fail: null, failNext: 0, failAlways: false,
    healthy: opts.inferHealthy !== false, healthAsks: 0 };
  const invoiced = { invoices: new Map(), acks: [], requests: [], paid: new Map(),
    mode: opts.invoiceMode || 'auto', health: opts.invoiceHealth || 'ok', healthAsks: 0 };

  // relayd
  const r = await lineServer(path.join(runDir, 'relayd', 'relayd.sock'), (m, c) => {
    relayd.received.push(m);
    switch (m.op) {
      case 'subscribe': relayd.subscriptions.set(m.id, m.filters); break;
      case 'unsubscribe': relayd.subscriptions.delete(m.id); break;
      case 'publish': {
        const ok = verifyEvent(m.event);
        relayd.published.push(m.event);
        if (ok && !relayd.store.some((e) => e.id === m.event.id)) relayd.store.push(m.event);
        if (relayd.autoOk)
          r.send(c, { op: 'ok', relay: relayd.url, id: m.event.id, accepted: ok,
            message: ok ? '' : 'invalid: bad signature', final: true });
        break;
      }
      case 'fetch': {
        relayd.fetches.push(m);
        setTimeout(() => {
          for (const ev of relayd.store)
            if (m.filters.some((f) => matches(ev, f)))
              r.send(c, { op: 'event', relay: relayd.url, sub: m.id, event: ev });
          r.send(c, { op: 'eose', sub: m.id });
        }, 20);
        break;
      }
      case 'auth': relayd.auths.push(m); break;
      case 'status':
        relayd.healthAsks++;
        r.send(c, { op: 'status', relays: [{ url: relayd.url, state: relayd.relayState,
          connected_since: Math.floor(Date.now() / 1000), frames_in: 0, events: 0,
          duplicates: 0, dropped: {}, published: relayd.published.length,
          accepted: relayd.published.length, refused: 0 }], uptime: 1,
          counters: { frames_in: 0, events_forwarded: 0, duplicates: 0, dropped: 0,
            published: 0, accepted: 0, refused: 0, bad_lines: 0 } });
        break;
    }
  });
  relayd.inject = (event, o = {}) => {
    if (!relayd.store.some((e) => e.id === event.id)) relayd.store.push(event);
    r.broadcast({ op: 'event', relay: o.relay || relayd.url, sub: o.sub || 'jobs', event });
  };
  relayd.send = (obj) => r.broadcast(obj);
  relayd.connected = () => r.clients.size;

  // inferd
  let inferConn = null;
  const finish = (job) => {
    const run = inferd.running.get(job);
    if (!run) return;
    inferd.running.delete(job);
    const prompt = run.m.messages ? run.m.messages.map((x) => x.content).join('\n') : run.m.prompt;
    let reply;
    if (inferd.failNext > 0) {
      inferd.failNext--;
      i.send(inferConn, { op: 'error', job, ...inferd.fail });	// not cached: a retry may succeed
      return;
    }
    if (inferd.fail && inferd.failAlways) reply = { op: 'error', job, ...inferd.fail };
    else {
      const text = inferd.answer(prompt);
      reply = { op: 'done', job, text, prompt_tokens: 10, completion_tokens: 20,
        done_reason: 'stop', model: run.m.model, backend: 'fake', ms: 5 };
    }
    inferd.done.set(job, reply);
    if (inferConn) i.send(inferConn, reply);
  };
  const i = await lineServer(path.join(runDir, 'inferd', 'inferd.sock'), (m, c) => {
    inferConn = c;
    if (m.op === 'infer') {
      inferd.infers.push(m);
      if (inferd.done.has(m.job)) { i.send(c, inferd.done.get(m.job)); return; }
      if (inferd.running.has(m.job)) return;	// attach: no second transfer
      inferd.running.set(m.job, { m });
      if (opts.chunks) {	// two chunks that concatenate to the final text, as inferd's do
        const prompt = m.messages ? m.messages.map((x) => x.content).join('\n') : m.prompt;
        const text = inferd.answer(prompt), half = Math.floor(text.length / 2);
        i.send(c, { op: 'chunk', job: m.job, text: text.slice(0, half) });
        setTimeout(() => i.send(c, { op: 'chunk', job: m.job, text: text.slice(half) }), 30);
      }
      if (!inferd.hold) setTimeout(() => finish(m.job), opts.chunks ? 80 : 10);
    } else if (m.op === 'cancel') {
      inferd.cancels.push(m.job);
      if (inferd.running.delete(m.job))
        i.send(c, { op: 'error', job: m.job, code: 'cancelled', message: 'cancelled',
          retryable: false });
    } else if (m.op === 'health') {
      inferd.healthAsks++;
      const ok = inferd.healthy;
      i.send(c, { op: 'health', backends: [{ url: 'http://fake', kind: 'ollama', ok,
        models: ok ? ['llama3.2'] : [], model_ok: ok, inflight: inferd.running.size, max_inflight: 4,
        ...(ok ? {} : { error: 'connection refused' }) }], jobs: inferd.running.size, bad_lines: 0 });
    }
  }, (c) => { inferConn = c; });
  inferd.send = (m) => { if (inferConn) i.send(inferConn, m); };	// unasked lines, e.g. catalog
  inferd.release = (job) => finish(job);
  inferd.releaseAll = () => { for (const j of [...inferd.running.keys()]) finish(j); };

  // invoiced
  let invConns = new Set();
  const inv = await lineServer(path.join(runDir, 'invoiced', 'invoiced.sock'), (m, c) => {
    invConns.add(c);
    invoiced.requests.push(m);
    if (m.op === 'invoice') {
      let invc = invoiced.invoices.get(m.job);
      if (invc && invc.amount_msat !== m.amount_msat) {
        inv.send(c, { op: 'error', job: m.job, code: 'conflict', message: 'amount differs',
          retryable: false });
        return;
      }
      if (invoiced.mode === 'hold') return;	// the wallet is slow: no answer yet
      if (invoiced.mode === 'refuse') {
        inv.send(c, { op: 'error', job: m.job, code: 'wallet_error', message: 'insufficient inbound liquidity',
          retryable: false });
        return;
      }
      if (invoiced.mode === 'down') {
        inv.send(c, { op: 'error', job: m.job, code: 'wallet_down', message: 'down',
          retryable: true });
        return;
      }
      if (!invc) {
        invc = { op: 'invoice', job: m.job,
          bolt11: 'lnbcrt' + m.amount_msat + 'fake' + m.job.slice(0, 16),
          payment_hash: crypto.randomBytes(32).toString('hex'), amount_msat: m.amount_msat,
          expires_at: Math.floor(Date.now() / 1000) + (m.expiry || 3600) };
        invoiced.invoices.set(m.job, invc);
      }
      inv.send(c, invc);
    } else if (m.op === 'ack') {
      invoiced.acks.push(m.job);
      invoiced.paid.delete(m.job);
    } else if (m.op === 'lookup') {
      const invc = invoiced.invoices.get(m.job);
      if (!invc) inv.send(c, { op: 'error', job: m.job, code: 'unknown_job', message: 'unknown', retryable: false });
      else if (invoiced.paid.has(m.job)) inv.send(c, invoiced.paid.get(m.job));
      else inv.send(c, invc);
    } else if (m.op === 'health') {
      invoiced.healthAsks++;
      if (invoiced.health === 'silent') return;	// a wallet request still in flight
      if (invoiced.health === 'down')
        inv.send(c, { op: 'health', backend: 'lnbits', ok: false, error: 'wallet_down: connection refused',
          pending: invoiced.invoices.size });
      else
        inv.send(c, { op: 'health', backend: 'lnbits', ok: true, balance_msat: 1000, pending: invoiced.invoices.size });
    }
  }, (c) => {
    invConns.add(c);
    for (const p of invoiced.paid.values()) inv.send(c, p);	// re-sent on each new connection until ack
  });
  invoiced.pay = (job, extra = 0) => {
    const invc = invoiced.invoices.get(job);
    if (!invc) throw new Error('no invoice for ' + job);
    const p = { op: 'paid', job, amount_msat: invc.amount_msat + extra,
      settled_at: Math.floor(Date.now() / 1000) };
    invoiced.paid.set(job, p);
    inv.broadcast(p);
  };
  invoiced.expire = (job) => inv.broadcast({ op: 'expired', job });
  const resend = setInterval(() => { for (const p of invoiced.paid.values()) inv.broadcast(p); }, 1000);

  const waitFor = async (cond, ms = 5000, what = 'condition') => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const v = await cond();	// a sync or an async condition
      if (v) return v;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error('timeout waiting for ' + what);
  };
  return {
    relayd, inferd, invoiced, waitFor,
    close: async () => { clearInterval(resend); await Promise.all([r.close(), i.close(), inv.close()]); },
  };
}

// The kind-7000 feedback for a job, as {status, msg, amount, content} list.
export function feedbackOf(published, jobId) {
  return published.filter((e) => e.kind === 7000 && e.tags.some((t) => t[0] === 'e' && t[1] === jobId));
}
export function statusOf(ev) {
  const t = ev.tags.find((x) => x[0] === 'status');
  return t ? t[1] : null;
}
