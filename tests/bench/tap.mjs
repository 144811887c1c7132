// A timing tap between relayd and the relay, for bench.mjs (row 3): relayd
// connects here, every websocket message is passed on unchanged both ways,
// and for each kind-5050 request it times the span from handing the request
// to relayd until relayd publishes the kind-6050 result for it: our own time
// (relayd, jobd, inferd, the inference double and two loopback hops), with
// none of the relay's work in it. Runs in a worker thread so the relay (same
// process as bench.mjs, verifying signatures in JavaScript) cannot delay the
// timestamps. Posts { port } once listening, then { id, ms, feedback_ms, at }
// (at: when the result passed, in epoch ms, comparable across threads).
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket, { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
const sent = new Map();	// request id -> { t, fb }

function upstream(down) {
  const up = new WebSocket(workerData.target);
  const early = [];
  up.on('open', () => { for (const m of early.splice(0)) up.send(m); });
  up.on('message', (m) => {
    const s = m.toString();
    try {
      const msg = JSON.parse(s);
      if (msg[0] === 'EVENT' && msg[2] && msg[2].kind === 5050 && !sent.has(msg[2].id))
        sent.set(msg[2].id, { t: performance.now(), fb: NaN });
    } catch { /* passed on as it is */ }
    down.send(s);
  });
  down.on('message', (m) => {
    const s = m.toString(), now = performance.now();
    try {
      const msg = JSON.parse(s);
      const ev = msg[0] === 'EVENT' ? msg[1] : null;
      const e = ev && (ev.tags.find((t) => t[0] === 'e') || [])[1];
      const w = e && sent.get(e);
      if (w && ev.kind === 7000 && Number.isNaN(w.fb)) w.fb = now - w.t;
      if (w && ev.kind === 6050) {
        parentPort.postMessage({ id: e, ms: now - w.t, feedback_ms: w.fb, at: performance.timeOrigin + now });
        sent.delete(e);
      }
    } catch { /* passed on as it is */ }
    if (up.readyState === WebSocket.OPEN) up.send(s);
    else early.push(s);
  });
  const close = () => { up.terminate(); down.terminate(); };
  up.on('close', close);
  up.on('error', close);
  down.on('close', close);
  down.on('error', close);
}

wss.on('connection', upstream);
wss.on('listening', () => parentPort.postMessage({ port: wss.address().port }));
parentPort.on('message', (m) => { if (m === 'close') { wss.close(); process.exit(0); } });
