#!/bin/sh
# A Ctrl-C in the terminal (SIGINT to the launcher's whole process group)
# and `timeout`'s SIGTERM to the group. The stages, each in its own
# session, do not see the signal themselves, so none exits on its own and is
# restarted on the way; for Ctrl-C the launcher stops them in reverse order
# (the last started first). It exits 0 and leaves no process behind, not even the
# killer that would SIGKILL a stage slow to stop.
T=launcher_ctrlc.sh
RIG_LIMIT=90
. "$(dirname "$0")/../lib/launcher-rig.sh"

rig_backends
rig_conf
left() {	# processes of this launcher still alive (by its config path)
	pgrep -f "scripts/dvm start -c $conf" ; pgrep -f "notify-fd 3" | while read -r p; do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "-c $conf" && echo "$p"; done
}
for sig in INT TERM; do
	: >"$tmp/dvm.log"
	res=$(DVM_BIN=$BIN node "$top/tests/lib/group-signal.mjs" "SIG$sig" "$tmp/dvm.log" 'dvm: all stages started' -- \
		sh "$top/scripts/dvm" start -c "$conf")
	none_left() { [ -z "$(left)" ]; }
	wait_until 5 none_left
	stray=$(left | tr '\n' ' ')
	# The first stage to say it is going must be the last started (paned,
	# then jobd), for a Ctrl-C: the launcher alone got the signal. A TERM to the group also reaches the
	# launcher's per-stage supervisors, which stop their stages at once.
	first=$(sed -n '/^dvm: stopping/,$p' "$tmp/dvm.log" | grep -v '^dvm: ' | grep -m 1 -o '^[a-z]*')
	ok=1
	[ "$sig" = INT ] && [ "$first" != paned ] && ok=0
	if [ "$ok" -eq 1 ] && [ "$res" = "exit 0" ] && ! grep -q 'restarting' "$tmp/dvm.log" &&
		grep -q '^dvm: stopped$' "$tmp/dvm.log" && [ -z "$stray" ]; then
		pass "SIG$sig to the whole process group: no stage restarted, exit 0, nothing left$([ "$sig" = INT ] && echo ", paned (the last started) stopped first")"
	else
		fail "SIG$sig to the whole process group: no stage restarted, exit 0, nothing left" \
			"$res first=$first stray='$stray' $(log_tail)"
	fi
done
exit "$failed"
