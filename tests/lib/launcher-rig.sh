# shellcheck shell=sh
# tests/lib/launcher-rig.sh: sourced by tests/integration/launcher_*.sh and
# dvmctl_*.sh. Starts a real relay (tests/lib/relay.mjs) and the Ollama
# double (tests/lib/ollama-double.mjs) on free ports, writes a dvm.conf for
# them, runs scripts/dvm start with DVM_BIN=$BIN, and cleans everything up
# on exit. Every wait is bounded; a watchdog ends the test after $RIG_LIMIT s.
#
# The caller sets T (its file name) before sourcing.

top=$(cd "$(dirname "$0")/../.." && pwd)
# Stages here run as their own users under scripts/dvm or a supervisor (s6,
# runit), not dumpable. LeakSanitizer's exit-time check (StopTheWorld)
# was seen to spin for ever in such a stage (inferd under s6, paned), which
# hangs the test in its cleanup; the sanitized e2e, jobd, inferd and
# invoiced tests check the same code for leaks, so these tests keep ASan
# and UBSan but not the leak check.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
: "${BIN:=$top/bin}"
RIG_LIMIT=${RIG_LIMIT:-55}
pass() { echo "PASS: $T: $1"; }
fail() { echo "FAIL: $T: $1: $2"; failed=1; }
# shellcheck disable=SC2034 # read by the test that sources this file (exit "$failed")
failed=0
lpid="" relay_pid="" oll_pid="" watchdog=""

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sc-launcher.XXXXXX") || exit 111
# Stage users (privsep) must reach the state dir and the config.
chmod 755 "$tmp"

rig_cleanup() {
	[ -n "$lpid" ] && rig_stop_launcher >/dev/null 2>&1
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
	[ -n "$oll_pid" ] && kill "$oll_pid" 2>/dev/null
	[ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap 'rig_cleanup' EXIT
trap 'exit 1' INT TERM

( sleep "$RIG_LIMIT"; echo "FAIL: $T: hard timeout after ${RIG_LIMIT}s"; kill -TERM $$ ) 2>/dev/null &
watchdog=$!

# wait_until SECONDS command...: poll every 0.2 s.
wait_until() {
	n=$(($1 * 5)); shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

# Start a node helper that prints "READY URL"; sets rig_url and rig_pid.
rig_node() {	# name script args...
	name=$1; shift
	node "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	rig_pid=$!
	wait_until 10 grep -q '^READY ' "$tmp/$name.out" || { echo "FAIL: $T: $name did not start: $(cat "$tmp/$name.err")"; exit 1; }
	rig_url=$(sed -n 's/^READY //p' "$tmp/$name.out" | head -n 1)
}

rig_backends() {
	rig_node relay "$top/tests/lib/relay.mjs" --port 0
	relay_pid=$rig_pid relay_url=$rig_url
	rig_node ollama "$top/tests/lib/ollama-double.mjs" --port 0
	oll_pid=$rig_pid oll_url=$rig_url
}

# rig_conf [extra lines...]: the config for the backends above ($STATE
# overrides the state directory).
rig_conf() {
	conf=$tmp/dvm.conf
	{
		echo "state_dir = ${STATE:-$tmp/state}"
		echo "relays = $relay_url"
		echo "infer_urls = $oll_url"
		echo "relay_backoff_max = 2"
		echo "infer_health_interval = 1"
		# The pane's TCP port: a free one, not a fixed 8090 another run may hold.
		echo "pane_port = $(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
		for l in "$@"; do echo "$l"; done
	} >"$conf"
	chmod 644 "$conf"
}

rig_start_launcher() {	# extra args
	DVM_BIN=$BIN sh "$top/scripts/dvm" start -c "$conf" "$@" >"$tmp/dvm.log" 2>&1 &
	lpid=$!
}

rig_stop_launcher() {
	kill -TERM "$lpid" 2>/dev/null
	n=100
	while [ "$n" -gt 0 ] && kill -0 "$lpid" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
	kill -0 "$lpid" 2>/dev/null && kill -KILL "$lpid"
	wait "$lpid"
	lrc=$?
	lpid=""
	return "$lrc"
}

# The pid of a stage under the launcher (daemon -> runner subshell -> launcher).
stage_pid() {	# name
	for r in $(pgrep -P "$lpid"); do
		p=$(pgrep -P "$r" -x "$1") && { echo "$p" | head -n 1; return 0; }
	done
	return 1
}

ctl() { "$BIN/dvmctl" -c "$conf" "$@"; }

# Every spoke connected and the DVM online (from jobd's own status).
pipeline_up() {
	ctl --json status >"$tmp/st.json" 2>/dev/null || return 1
	node -e '
		const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		process.exit(s.online && s.spokes.relayd && s.spokes.inferd && s.spokes.invoiced &&
			s.relays.connected >= 1 && s.inference.ok ? 0 : 1);' "$tmp/st.json"
}

# A real request through the relay, answered by the pipeline.
ask() {	# prompt
	"$BIN/dvmreq" --relay "$relay_url" --to "$(ctl npub)" --timeout 15 "$1" 2>>"$tmp/dvmreq.err"
}

log_tail() { tail -n 12 "$tmp/dvm.log" | tr '\n' '|'; }
