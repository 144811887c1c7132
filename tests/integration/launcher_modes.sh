#!/bin/sh
# The launcher's other identities: started by a normal user, every stage
# runs as that user with a warning and the state is 0700; started as root
# with privsep = auto and a state_dir the stage users cannot reach, it
# warns and runs every stage as root instead of failing. And a slow stage
# (the real inferd behind a 3 s delay): reported when the readiness timeout
# passes, left running, its late readiness logged, the DVM comes up.
T=launcher_modes.sh
. "$(dirname "$0")/../lib/launcher-rig.sh"
if [ "$(id -u)" -ne 0 ]; then
	pass "not root: these cases need root to switch users (skipped)"
	exit 0
fi
rig_backends

stage_uids() {
	for s in relayd inferd invoiced jobd; do
		p=$(stage_pid "$s") || { echo "none"; continue; }
		ps -o uid= -p "$p" | tr -d ' '
	done | sort -u | tr '\n' ' '
}

# A normal user: nobody, owning its own state directory.
mkdir "$tmp/user" && chown nobody "$tmp/user"
STATE=$tmp/user/state rig_conf
setpriv --reuid=nobody --regid=nogroup --clear-groups env DVM_BIN="$BIN" \
	sh "$top/scripts/dvm" start -c "$conf" >"$tmp/dvm.log" 2>&1 &
lpid=$!
nobody_up() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN/dvmctl" -c "$conf" status >/dev/null 2>&1; }
if wait_until 40 nobody_up; then
	u=$(stage_uids)
	m=$(stat -c %a "$tmp/user/state")
	if [ "$u" = "$(id -u nobody) " ] && [ "$m" = 700 ] &&
		grep -q '^dvm: warning: running as nobody: every stage runs as this user, so stages are not isolated' "$tmp/dvm.log"; then
		pass "normal user: every stage runs as that user, state 0700, isolation warning"
	else
		fail "normal user: every stage runs as that user, state 0700, isolation warning" "uids=$u mode=$m $(log_tail)"
	fi
else
	fail "normal user: every stage runs as that user, state 0700, isolation warning" "not up: $(log_tail)"
fi
rig_stop_launcher && pass "normal user: SIGTERM, exit 0" || fail "normal user: SIGTERM, exit 0" "rc=$? $(log_tail)"

# Root, privsep = auto, state under a 0700 directory: fall back to root.
mkdir -m 700 "$tmp/private"
STATE=$tmp/private/state rig_conf
rig_start_launcher
if wait_until 40 pipeline_up; then
	u=$(stage_uids)
	[ "$u" = "0 " ] && grep -q 'privsep = auto falls back to running every stage as root, NOT isolated' "$tmp/dvm.log" &&
		pass "privsep = auto, unreachable state_dir: runs as root with a warning" ||
		fail "privsep = auto, unreachable state_dir: runs as root with a warning" "uids=$u $(log_tail)"
else
	fail "privsep = auto, unreachable state_dir: runs as root with a warning" "not up: $(log_tail)"
fi
rig_stop_launcher || fail "fallback: SIGTERM, exit 0" "rc=$?"

mkdir "$tmp/slowbin" && chmod 755 "$tmp/slowbin"
for b in relayd invoiced jobd dvmctl; do ln -s "$BIN/$b" "$tmp/slowbin/$b"; done
printf '#!/bin/sh
sleep 3
exec %s/inferd "$@"
' "$BIN" >"$tmp/slowbin/inferd"
chmod 755 "$tmp/slowbin/inferd"
STATE=$tmp/slow rig_conf
DVM_READY_TIMEOUT=1 DVM_BIN=$tmp/slowbin sh "$top/scripts/dvm" start -c "$conf" >"$tmp/dvm.log" 2>&1 &
lpid=$!
if wait_until 40 pipeline_up && grep -q '^dvm: inferd is not ready after 1s; leaving it running' "$tmp/dvm.log" &&
	wait_until 10 grep -q '^dvm: inferd ready (late)' "$tmp/dvm.log" &&
	! grep -q '^dvm: inferd .*restarting' "$tmp/dvm.log"; then
	pass "a slow stage is reported, left running, and its late readiness logged"
else
	fail "a slow stage is reported, left running, and its late readiness logged" "$(log_tail)"
fi
rig_stop_launcher || fail "slow stage: SIGTERM, exit 0" "rc=$?"
exit "$failed"
