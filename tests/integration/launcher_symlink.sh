#!/bin/sh
# Root never follows a path a stage can write. jobd's user, which may write
# to state_dir, swaps jobs.db-wal between a file of its own and a symlink
# to a root-owned file as fast as it can, while scripts/dvm prepare (as
# root) hands the state files to their stages again and again: the
# root-owned file keeps its owner and mode. Before the fix the launcher
# tested for a symlink, then ran a chown and a chmod that follow one.
T=launcher_symlink.sh
RIG_LIMIT=120
. "$(dirname "$0")/../lib/launcher-rig.sh"

if [ "$(id -u)" -ne 0 ]; then
	pass "not root: no stage users, nothing to redirect"
	exit 0
fi
rig_backends
rig_conf
prep() { DVM_BIN=$BIN sh "$top/scripts/dvm" prepare -c "$conf" >>"$tmp/dvm.log" 2>&1; }
prep || { fail "prepare" "$(log_tail)"; exit 1; }
victim=$tmp/victim
echo secret >"$victim"
chmod 600 "$victim"
# rename(2) in a tight loop: at any instant jobs.db-wal is as likely a
# file as a link, so a test-then-chown loses the race often.
setpriv --reuid=sellcompute-job --regid=sellcompute-job --init-groups node -e '
	const fs = require("node:fs");
	process.chdir(process.argv[1]);
	for (;;) {
		try { fs.unlinkSync(".swap-l"); } catch {}
		fs.symlinkSync(process.argv[2], ".swap-l");
		fs.renameSync(".swap-l", "jobs.db-wal");
		fs.writeFileSync(".swap-r", "");
		fs.renameSync(".swap-r", "jobs.db-wal");
	}' "$tmp/state" "$victim" 2>"$tmp/swapper.err" &
swapper=$!
wait_until 5 test -e "$tmp/state/jobs.db-wal" || { fail "the swapper runs" "$(cat "$tmp/swapper.err")"; exit 1; }
changed="" n=0
while [ "$n" -lt 25 ]; do
	prep
	st=$(stat -c '%U %a' "$victim")
	[ "$st" = "root 600" ] || { changed=$st; break; }
	n=$((n + 1))
done
kill "$swapper" 2>/dev/null
wait "$swapper" 2>/dev/null
if [ -z "$changed" ]; then
	pass "a symlink swapped in by jobd's user does not redirect the launcher's chown or chmod ($n runs)"
else
	fail "a symlink swapped in by jobd's user does not redirect the launcher's chown or chmod" "after $n runs the root-owned file is '$changed'"
fi
exit "$failed"
