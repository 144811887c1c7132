#!/bin/sh
# After scripts/dvm start exits on SIGTERM, nothing it started is left: no
# stage, no supervisor, no killer, not the pause of the supervision loop or
# of a restart delay, and not a moment later but at once. Every process the
# launcher starts inherits a marker in its environment; /proc is searched
# for it the moment wait returns.
T=launcher_leftovers.sh
. "$(dirname "$0")/../lib/launcher-rig.sh"

rig_backends
rig_conf
mark=leftover-$$-$(date +%s)

left() {	# pid and command of every process that carries the marker
	for e in /proc/[0-9]*/environ; do
		tr '\0' '\n' <"$e" 2>/dev/null | grep -qx "SC_LEFTOVER_MARK=$mark" || continue
		p=${e%/environ}; p=${p#/proc/}
		echo "$p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
	done
}

start() {
	: >"$tmp/dvm.log"
	SC_LEFTOVER_MARK=$mark DVM_BIN=$BIN sh "$top/scripts/dvm" start -c "$conf" >"$tmp/dvm.log" 2>&1 &
	lpid=$!
	wait_until 40 grep -q '^dvm: all stages started' "$tmp/dvm.log"
}

stop_and_look() {	# case name
	kill -TERM "$lpid"
	wait "$lpid"; rc=$?
	stray=$(left | tr '\n' '|')
	lpid=""
	if [ "$rc" -eq 0 ] && [ -z "$stray" ] && grep -q '^dvm: stopped$' "$tmp/dvm.log"; then
		pass "$1: exit 0 and no process of the launcher left at once"
	else
		fail "$1: exit 0 and no process of the launcher left at once" "rc=$rc left: $stray $(log_tail)"
	fi
	# Let any straggler go before the next case, so it cannot count twice.
	none_left() { [ -z "$(left)" ]; }
	wait_until 5 none_left
}

for i in 1 2; do
	start || { fail "start $i" "$(log_tail)"; exit 1; }
	sleep 1.3	# the supervision loop is in its pause
	stop_and_look "SIGTERM while supervising ($i)"
done

start || { fail "start 3" "$(log_tail)"; exit 1; }
kill -KILL "$(stage_pid relayd)"
if wait_until 10 grep -q '^dvm: relayd .*restarting in' "$tmp/dvm.log"; then
	stop_and_look "SIGTERM during a restart delay"
else
	fail "SIGTERM during a restart delay" "relayd was not restarted: $(log_tail)"
fi
exit "$failed"
