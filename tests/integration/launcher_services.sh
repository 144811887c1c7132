#!/bin/sh
# scripts/dvm services: the generated s6 and runit directories, checked
# file by file, then run for real. Under s6-svscan every stage reaches
# "ready" through notification-fd, the DVM comes online, and a stage killed
# with -9 is restarted. Under runsvdir with a wallet key file missing,
# invoiced exits 100 and its finish script keeps it down while the other
# stages pass their ./check.
T=launcher_services.sh
. "$(dirname "$0")/../lib/launcher-rig.sh"
command -v s6-svscan >/dev/null && command -v runsvdir >/dev/null || {
	fail "s6 and runit installed" "s6-svscan or runsvdir missing (make deps installs them)"; exit 1; }

svscan_pid="" runsvdir_pid=""
services_cleanup() {
	[ -n "$svscan_pid" ] && s6-svscanctl -t "$tmp/s6" 2>/dev/null
	if [ -n "$runsvdir_pid" ]; then
		for d in "$tmp"/runit/*/; do sv -w 5 force-stop "$d" >/dev/null 2>&1; done
		kill -HUP "$runsvdir_pid" 2>/dev/null
	fi
	sleep 1
	rig_cleanup
}
trap 'services_cleanup' EXIT

rig_backends
rig_conf
DVM_BIN=$BIN sh "$top/scripts/dvm" services s6 "$tmp/s6" -c "$conf" >"$tmp/gen.log" 2>&1 ||
	{ fail "services s6 writes the directories" "$(cat "$tmp/gen.log")"; exit 1; }

user_of() { case $1 in relayd) echo sellcompute-relay ;; inferd) echo sellcompute-infer ;;
	invoiced) echo sellcompute-pay ;; jobd) echo sellcompute-job ;; esac; }

# Structure of one service directory; kind s6|runit.
check_dir() {	# kind stage
	d=$tmp/$1/sellcompute-$2
	for f in run finish log/run; do [ -x "$d/$f" ] || { echo "$f not executable"; return 1; }; done
	head -n 1 "$d/run" | grep -q '^#!/bin/sh' || { echo "run: no #!/bin/sh"; return 1; }
	grep -q "^exec .*'$BIN/$2' -c '$conf'" "$d/run" || { echo "run does not exec $2 -c conf: $(tail -n 1 "$d/run")"; return 1; }
	grep -q '^exec 2>&1$' "$d/run" || { echo "run: stderr not sent to the logger"; return 1; }
	if [ "$(id -u)" -eq 0 ]; then
		grep -q "setpriv --reuid=$(user_of "$2") --regid=$(user_of "$2") --init-groups --no-new-privs --bounding-set=-all" "$d/run" ||
			{ echo "run: no setpriv to $(user_of "$2")"; return 1; }
	fi
	if [ "$1" = s6 ]; then
		[ "$(cat "$d/notification-fd")" = 3 ] || { echo "notification-fd is not 3"; return 1; }
		grep -q -- '--notify-fd 3' "$d/run" || { echo "run: no --notify-fd 3"; return 1; }
		grep -q 'exec s6-log' "$d/log/run" || { echo "log/run: no s6-log"; return 1; }
		[ ! -e "$d/check" ] || { echo "s6 dir has a runit check"; return 1; }
		(cd "$d" && sh ./finish 100 0 x >/dev/null 2>&1); [ $? -eq 125 ] || { echo "finish 100 does not exit 125"; return 1; }
		(cd "$d" && sh ./finish 0 0 x) || { echo "finish 0 does not exit 0"; return 1; }
	else
		[ -x "$d/check" ] && grep -q 'dvmctl.* probe ' "$d/check" || { echo "no runit check probing the socket"; return 1; }
		grep -q 'svlogd' "$d/log/run" || { echo "log/run: no svlogd"; return 1; }
		[ ! -e "$d/notification-fd" ] || { echo "runit dir has notification-fd"; return 1; }
	fi
}

for s in relayd inferd invoiced jobd; do
	why=$(check_dir s6 "$s") && pass "s6 directory for $s is complete" || fail "s6 directory for $s is complete" "$why"
done

s6-svscan "$tmp/s6" >"$tmp/svscan.log" 2>&1 &
svscan_pid=$!
all_ready() {
	for s in "$@"; do s6-svstat "$tmp/s6/sellcompute-$s" 2>/dev/null | grep -q '^up .*ready' || return 1; done
}
if wait_until 30 all_ready relayd inferd invoiced jobd && wait_until 20 pipeline_up; then
	pass "s6-svscan: every stage ready via notification-fd, DVM online"
else
	fail "s6-svscan: every stage ready via notification-fd, DVM online" "$(for s in relayd inferd invoiced jobd; do s6-svstat "$tmp/s6/sellcompute-$s"; done | tr '\n' '|')"
fi
out=$(ask "under s6")
[ "$out" = "Echo: under s6" ] && pass "s6: a request is answered" || fail "s6: a request is answered" "got '$out'"
old=$(s6-svstat -p "$tmp/s6/sellcompute-relayd")
kill -KILL "$old"
if wait_until 20 sh -c "p=\$(s6-svstat -p '$tmp/s6/sellcompute-relayd'); [ \"\$p\" != $old ] && [ \"\$p\" -gt 0 ]" &&
	wait_until 20 all_ready relayd && wait_until 20 pipeline_up; then
	pass "s6: relayd killed with -9 is restarted and ready"
else
	fail "s6: relayd killed with -9 is restarted and ready" "$(s6-svstat "$tmp/s6/sellcompute-relayd")"
fi
grep -q 'relayd: info' "$tmp/s6/sellcompute-relayd/log/main/current" 2>/dev/null &&
	pass "s6: the stage's stderr reaches its s6-log" || fail "s6: the stage's stderr reaches its s6-log" "no log lines"
s6-svscanctl -t "$tmp/s6"
wait_until 15 sh -c "! kill -0 $svscan_pid" && svscan_pid="" &&
	pass "s6: s6-svscanctl -t brings everything down" || fail "s6: s6-svscanctl -t brings everything down" "s6-svscan still running"

# runit, with invoiced's wallet key missing: it exits 100 and stays down.
rig_conf "wallet = lnbits" "lnbits_url = http://127.0.0.1:1" "lnbits_api_key_file = $tmp/missing-key"
DVM_BIN=$BIN sh "$top/scripts/dvm" services runit "$tmp/runit" -c "$conf" >"$tmp/gen.log" 2>&1 ||
	{ fail "services runit writes the directories" "$(cat "$tmp/gen.log")"; exit 1; }
for s in relayd inferd invoiced jobd; do
	why=$(check_dir runit "$s") && pass "runit directory for $s is complete" || fail "runit directory for $s is complete" "$why"
done
runsvdir "$tmp/runit" >"$tmp/runsvdir.log" 2>&1 &
runsvdir_pid=$!
checks_ok() { for s in relayd inferd jobd; do sv check "$tmp/runit/sellcompute-$s" >/dev/null 2>&1 || return 1; done; }
if wait_until 30 checks_ok; then
	pass "runsvdir: relayd, inferd, jobd pass their ./check (socket probe)"
else
	fail "runsvdir: relayd, inferd, jobd pass their ./check (socket probe)" "$(for s in relayd inferd jobd; do sv status "$tmp/runit/sellcompute-$s"; done | tr '\n' '|')"
fi
inv=$tmp/runit/sellcompute-invoiced
wait_until 15 sh -c "sv status '$inv' | grep -q '^down:'"
sleep 3
st=$(sv status "$inv")
case $st in
down:*"normally up"*) pass "runit: invoiced exiting 100 is kept down by its finish script" ;;
*) fail "runit: invoiced exiting 100 is kept down by its finish script" "$st" ;;
esac
exit "$failed"
