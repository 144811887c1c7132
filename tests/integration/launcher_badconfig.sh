#!/bin/sh
# Permanent failures: a stage that exits 100 (here invoiced, whose wallet
# key file does not exist) is started once, not restarted in a loop, and
# the launcher stops the other stages and exits 100 naming it. A config the
# shared parser rejects stops the launcher before any stage starts.
T=launcher_badconfig.sh
. "$(dirname "$0")/../lib/launcher-rig.sh"

rig_backends
rig_conf "wallet = lnbits" "lnbits_url = http://127.0.0.1:1" "lnbits_api_key_file = $tmp/missing-key"
rig_start_launcher
n=150
while [ "$n" -gt 0 ] && kill -0 "$lpid" 2>/dev/null; do sleep 0.2; n=$((n - 1)); done
if kill -0 "$lpid" 2>/dev/null; then
	fail "a stage exiting 100 stops the launcher with 100" "still running after 30 s: $(log_tail)"
	exit 1
fi
wait "$lpid"; rc=$?; lpid=""
[ "$rc" -eq 100 ] && grep -q '^dvm: invoiced exited 100: a permanent failure' "$tmp/dvm.log" &&
	grep -q 'invoiced: error: .*missing-key' "$tmp/dvm.log" &&
	pass "a stage exiting 100 stops the launcher with 100, reason printed" ||
	fail "a stage exiting 100 stops the launcher with 100, reason printed" "rc=$rc $(log_tail)"
starts=$(grep -c '^invoiced: .*wallet lnbits' "$tmp/dvm.log")
[ "$starts" -eq 1 ] && ! grep -q '^dvm: invoiced .*restarting in' "$tmp/dvm.log" &&
	pass "the failing stage is started once, not restarted" ||
	fail "the failing stage is started once, not restarted" "$starts starts: $(log_tail)"
sleep 0.5
left=$(pgrep -x inferd -u "$(id -u sellcompute-infer 2>/dev/null || id -u)" | while read -r p; do
	grep -qs "$tmp" "/proc/$p/cmdline" && echo "$p"; done)
[ -z "$left" ] && grep -q '^dvm: inferd stopped' "$tmp/dvm.log" &&
	pass "the stages already running are stopped" ||
	fail "the stages already running are stopped" "left: $left $(log_tail)"

# An unknown key: the shared parser refuses it, nothing starts.
rig_conf "no_such_key = 1"
rig_start_launcher
wait_until 10 sh -c "! kill -0 $lpid"
wait "$lpid"; rc=$?; lpid=""
[ "$rc" -eq 100 ] && grep -q 'no_such_key' "$tmp/dvm.log" && ! grep -q 'ready (pid' "$tmp/dvm.log" &&
	pass "a config with an unknown key: exit 100 before any stage starts" ||
	fail "a config with an unknown key: exit 100 before any stage starts" "rc=$rc $(log_tail)"

# privsep = yes with a state_dir the stage users cannot reach: refuse (100).
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 700 "$tmp/private"
	STATE=$tmp/private/state rig_conf "privsep = yes"
	rig_start_launcher
	wait_until 15 sh -c "! kill -0 $lpid"
	wait "$lpid"; rc=$?; lpid=""
	[ "$rc" -eq 100 ] && grep -q 'privsep = yes but the stage users cannot reach' "$tmp/dvm.log" &&
		pass "privsep = yes and an unreachable state_dir: exit 100 with the fix named" ||
		fail "privsep = yes and an unreachable state_dir: exit 100 with the fix named" "rc=$rc $(log_tail)"
fi
exit "$failed"
