// jobd's retention against the fake spokes (issue 13 point 6 a): the tick
// prunes a finished job past retain_days, with its outbox events, and
// keeps an old one whose invoice is unpaid and not yet expired. The rows
// are aged with the sqlite3 shell, as dvmctl_jobs.sh fills the ledger.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { fakeSpokeRigs, reporter, assert } from '../lib/jobd-rig.mjs';

const T = reporter('jobd_retention.mjs');
const hard = setTimeout(() => { console.log('FAIL: jobd_retention.mjs: hard timeout'); process.exit(1); }, 55000);
const { rig, finish } = fakeSpokeRigs('jobd-retention-');

const user = generateSecretKey();
const mk = (text) => finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [['i', text, 'text']], content: '' }, user);
const sql = (db, q) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', db, q], { encoding: 'utf8' }).trim();

await T.run('the tick prunes an old finished job and its outbox rows, and keeps an old unpaid invoice', async () => {
  const { dir, spokes } = await rig();
  const db = path.join(dir, 'var', 'jobs.db');
  const done = mk('old and done'), unpaid = mk('old and unpaid');
  for (const e of [done, unpaid]) spokes.relayd.inject(e);
  await spokes.waitFor(() => sql(db, `SELECT count(*) FROM jobs WHERE state = 'acked' AND id IN ('${done.id}','${unpaid.id}')`) === '2', 10000, 'both acked');
  assert(Number(sql(db, `SELECT count(*) FROM outbox WHERE job = '${done.id}'`)) > 0, 'outbox rows to prune');
  const day = 86400000, old = Math.floor(Date.now() / 1000) - 40 * 86400;
  sql(db, `UPDATE jobs SET received_ms = received_ms - 40 * ${day}, updated_ms = updated_ms - 40 * ${day}, created_at = ${old} WHERE id IN ('${done.id}','${unpaid.id}');` +
    `UPDATE jobs SET bolt11 = 'lnbc1unpaid', price_msat = 1000, paid_msat = 0, invoice_expires = ${old + 40 * 86400 + 3600} WHERE id = '${unpaid.id}';` +
    `UPDATE outbox SET created_ms = created_ms - 40 * ${day} WHERE job IN ('${done.id}','${unpaid.id}');`);
  await spokes.waitFor(() => sql(db, `SELECT count(*) FROM jobs WHERE id = '${done.id}'`) === '0', 30000, 'pruned by a tick');
  assert(sql(db, `SELECT count(*) FROM outbox WHERE job = '${done.id}'`) === '0', 'its outbox rows went too');
  assert(sql(db, `SELECT state FROM jobs WHERE id = '${unpaid.id}'`) === 'acked', 'the unpaid invoice stays');
});

const badExits = await finish();
await T.run('every jobd exited 0 on SIGTERM (no leaks under ASan)', async () => assert(badExits.length === 0, badExits.join('; ')));
clearTimeout(hard);
process.exit(T.failed ? 1 : 0);
