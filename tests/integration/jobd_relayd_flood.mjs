// jobd under a flood from relayd (issue 9): thousands of valid requests
// arrive faster than jobd verifies them. jobd used to read its relayd socket
// until EAGAIN before taking any line, so a backlog larger than its read
// buffer (~1 MB) made the read fail with ENOBUFS, jobd dropped the connection
// and everything relayd had queued for it was lost (the benchmark saw 8,849
// of 20,000). jobd is stopped (SIGSTOP) while the fake relayd queues the
// whole flood, so the backlog is certain, then resumed: every request must
// be counted, on one connection.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startFakeSpokes } from '../lib/fake-spokes.mjs';
import { startJobd, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_relayd_flood.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_relayd_flood.mjs: hard timeout'); process.exit(1); }, 58000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const UNITDIR = process.env.UNITDIR || 'build/tests';
const N = 6000, KEYS = 50;

await T.run('a 3 MB backlog of valid requests to a stopped jobd is fully handled after it resumes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobd-flood-'));
  const spokes = await startFakeSpokes(path.join(dir, 'var', 'run'), {});
  // Addressed to jobd and cut by the per-key rate limit after the signature
  // check: every request is parsed, verified and looked up (as in the bench).
  const jobd = await startJobd({ dir, conf: { require_p_tag: 'yes', rate_limit_per_min: 1, max_request_age: 3600, max_queue: 64 } });
  try {
    await spokes.waitFor(() => spokes.relayd.subscriptions.has('jobs'), 5000, 'subscription');
    const lines = execFileSync(path.join(UNITDIR, 'tool_requests'), [String(N), String(KEYS), jobd.pubkey],
      { maxBuffer: 64 << 20 }).toString().trim().split('\n');
    assert(lines.length === N, `tool_requests wrote ${lines.length} lines`);
    const bytes = lines.reduce((a, l) => a + l.length, 0);
    assert(bytes > 2 * 1024 * 1024, `flood is only ${bytes} bytes`);
    jobd.proc.kill('SIGSTOP');
    for (const l of lines) spokes.relayd.send({ op: 'event', relay: spokes.relayd.url, sub: 'jobs', event: JSON.parse(l) });
    await sleep(300);
    jobd.proc.kill('SIGCONT');
    let st = null;
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      st = await jobd.ctl({ op: 'stats' });
      if (st.events_seen >= N) break;
      await sleep(100);
    }
    assert(st && st.events_seen === N, `events_seen ${st && st.events_seen} of ${N}`);
    assert(st.events_verified === N, `events_verified ${st.events_verified} of ${N}`);
    assert(!/relayd: disconnected/.test(jobd.stderr()), 'jobd dropped its relayd connection: ' +
      jobd.stderr().split('\n').filter((l) => /disconnected/.test(l)).slice(0, 2).join(' | '));
    assert(spokes.relayd.connected() === 1, `relayd clients: ${spokes.relayd.connected()}`);
  } finally {
    jobd.proc.kill('SIGCONT');
    const code = await jobd.stop();
    await spokes.close();
    fs.rmSync(dir, { recursive: true, force: true });
    assert(code === 0, `jobd exit ${code}`);
  }
});

clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
