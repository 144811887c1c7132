#!/bin/sh
# dvmctl against a running pipeline (scripts/dvm start with the real
# daemons): status at a glance and as JSON, offline/online, jobs and stats
# after a real request; plus what it does with no jobd, with a jobd that
# answers garbage, and the local commands (conf, keygen, npub, probe).
T=dvmctl_pipeline.sh
. "$(dirname "$0")/../lib/launcher-rig.sh"

# --- without a pipeline ---------------------------------------------------
printf 'state_dir = %s/none\n' "$tmp" >"$tmp/none.conf"
err=$("$BIN/dvmctl" -c "$tmp/none.conf" status 2>&1); rc=$?
[ "$rc" -eq 111 ] && [ "$err" = "dvmctl: jobd is not running (no $tmp/none/run/control.sock)" ] &&
	pass "no jobd: exit 111 with a clear message" || fail "no jobd: exit 111 with a clear message" "rc=$rc '$err'"

mkdir -p "$tmp/none/run"
node -e '
	const net = require("net");
	const s = net.createServer(c => c.on("data", () => c.end("this is not json\n")));
	s.listen(process.argv[1], () => console.log("READY"));
	setTimeout(() => process.exit(0), 20000);' "$tmp/none/run/control.sock" >"$tmp/fake.out" &
fake=$!
wait_until 10 grep -q READY "$tmp/fake.out"
err=$("$BIN/dvmctl" -c "$tmp/none.conf" status 2>&1); rc=$?
kill "$fake" 2>/dev/null
[ "$rc" -eq 111 ] && echo "$err" | grep -q 'malformed answer' &&
	pass "a garbage answer is refused (exit 111)" || fail "a garbage answer is refused (exit 111)" "rc=$rc '$err'"

v1=$("$BIN/dvmctl" -c "$tmp/none.conf" conf secret_key_file)
v2=$(DVM_MODEL=qwen2.5 "$BIN/dvmctl" -c "$tmp/none.conf" conf model)
"$BIN/dvmctl" -c "$tmp/none.conf" conf no_such_key >/dev/null 2>&1; rc=$?
[ "$v1" = "$tmp/none/key" ] && [ "$v2" = qwen2.5 ] && [ "$rc" -eq 100 ] &&
	pass "conf KEY: derived default, DVM_ override, unknown key exit 100" ||
	fail "conf KEY: derived default, DVM_ override, unknown key exit 100" "'$v1' '$v2' rc=$rc"

k=$tmp/k1
n1=$("$BIN/dvmctl" keygen "$k")
before=$(cat "$k")
"$BIN/dvmctl" keygen "$k" >/dev/null 2>&1; rc=$?
n2=$(DVM_SECRET_KEY_FILE=$k "$BIN/dvmctl" -c "$tmp/none.conf" npub)
case $n1 in npub1*) ok=1 ;; *) ok=0 ;; esac
[ "$ok" -eq 1 ] && [ "${#n1}" -eq 63 ] && [ "$(stat -c %a "$k")" = 600 ] && [ "$rc" -eq 100 ] &&
	[ "$(cat "$k")" = "$before" ] && [ "$n1" = "$n2" ] &&
	pass "keygen: 0600 key, npub printed, never overwrites; npub reads it back" ||
	fail "keygen: 0600 key, npub printed, never overwrites; npub reads it back" "n1=$n1 n2=$n2 rc=$rc mode=$(stat -c %a "$k")"

bad=""
for args in "" "frobnicate" "jobs --limit 0" "status --limit 3" "keygen" "probe" "status x" "conf a b"; do
	# shellcheck disable=SC2086
	"$BIN/dvmctl" -c "$tmp/none.conf" $args >/dev/null 2>&1
	[ $? -eq 100 ] || bad="$bad [$args]"
done
[ -z "$bad" ] && pass "usage errors exit 100" || fail "usage errors exit 100" "$bad"

# --- with a pipeline -------------------------------------------------------
rig_backends
rig_conf
rig_start_launcher
wait_until 40 pipeline_up || { fail "pipeline starts" "$(log_tail)"; exit 1; }

out=$(ctl status); rc=$?
if [ "$rc" -eq 0 ] && echo "$out" | grep -q '^  state *online' &&
	echo "$out" | grep -q '^  relays *1/1 connected' &&
	echo "$out" | grep -q '^  inference *ok, model llama3.2 present' &&
	echo "$out" | grep -q '^  earning *no: free mode' &&
	echo "$out" | grep -q '^  spokes *relayd ok, inferd ok, invoiced ok' &&
	echo "$out" | grep -q "^sellcompute $(ctl npub)"; then
	pass "status: online, relays, model, free mode, spokes at a glance"
else
	fail "status: online, relays, model, free mode, spokes at a glance" "rc=$rc $(echo "$out" | tr '\n' '|')"
fi
printf '%s' "$out" | grep -q "$(printf '\033')" && fail "no colour when stdout is not a tty" "escape codes found" ||
	pass "no colour when stdout is not a tty"

ctl --json status | node -e '
	let t = ""; process.stdin.on("data", d => t += d).on("end", () => {
		const s = JSON.parse(t); process.exit(s.op === "status" && s.online === true && t.split("\n").length === 2 ? 0 : 1); });' &&
	pass "status --json is jobd's answer, one line" || fail "status --json is jobd's answer, one line" "$(ctl --json status)"

o1=$(ctl offline) && s1=$(ctl status | grep '^  state') && o2=$(ctl online) && s2=$(ctl status | grep '^  state')
case "$o1|$s1|$o2|$s2" in
"offline|  state      offline|online|  state      online") pass "offline and online" ;;
*) fail "offline and online" "$o1|$s1|$o2|$s2" ;;
esac

wait_until 10 pipeline_up
out=$(ask "count me")
id=$(sed -n 's/^dvmreq: request //p' "$tmp/dvmreq.err" | tail -n 1)
short=$(echo "$id" | cut -c1-12)
jobs=$(ctl jobs)
jj=$(ctl --json jobs --limit 1)
if [ "$out" = "Echo: count me" ] && echo "$jobs" | grep -q "^$short " && echo "$jobs" | head -n 1 | grep -q '^JOB ' &&
	echo "$jj" | node -e '
		let t = ""; process.stdin.on("data", d => t += d).on("end", () => {
			const j = JSON.parse(t).jobs; process.exit(j.length === 1 && j[0].id === process.argv[1] ? 0 : 1); });' "$id"; then
	pass "jobs: the request shows up (table and --json --limit 1)"
else
	fail "jobs: the request shows up (table and --json --limit 1)" "out='$out' id=$id jobs=$(echo "$jobs" | tr '\n' '|') json=$jj"
fi
st=$(ctl stats)
echo "$st" | grep -q '^jobs by state' && echo "$st" | grep -q '^latency (ms)' &&
	ctl --json stats | grep -q '"op":"stats"' &&
	pass "stats: table and --json" || fail "stats: table and --json" "$(echo "$st" | tr '\n' '|')"

ctl probe relayd && ! ctl probe nosuch 2>/dev/null &&
	pass "probe: 0 for a live socket, 111 for none" || fail "probe: 0 for a live socket, 111 for none" "wrong status"
out=$(DVM_BIN=$BIN sh "$top/scripts/dvm" status -c "$conf")
echo "$out" | grep -q '^  state *online' && pass "scripts/dvm status is dvmctl status" ||
	fail "scripts/dvm status is dvmctl status" "$(echo "$out" | tr '\n' '|')"
rig_stop_launcher || fail "launcher exits 0 on SIGTERM" "rc=$?"
exit "$failed"
