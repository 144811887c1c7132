#!/bin/sh
# jobd's command line and start-up refusals: --help, bad usage, bad config,
# a missing or group-readable key (exit 100 with a message naming the fix),
# readiness on --notify-fd, control.sock mode 0600, SIGTERM exit 0.
set -u
BIN=${BIN:-bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/jobd-cli.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
f=jobd_cli.sh
pass() { echo "PASS: $f: $1"; }
fail() { echo "FAIL: $f: $1: $2"; }
# check NAME WHY TEST...: PASS if the test command succeeds, else FAIL with WHY
check() {
	name=$1 why=$2; shift 2
	if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

mkdir -p "$T/var"
printf 'state_dir = %s/var\nwallet = none\n' "$T" >"$T/dvm.conf"

out=$(timeout 10 "$BIN/jobd" --help 2>&1); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q 'usage: jobd' && echo "$out" | grep -q -- '--notify-fd'; then
	pass "--help exits 0 with usage"
else fail "--help exits 0 with usage" "rc=$rc"; fi

timeout 10 "$BIN/jobd" --bogus >/dev/null 2>&1; rc=$?
check "unknown option exits 100" "rc=$rc" [ $rc -eq 100 ]

printf 'state_dir = %s/var\nno_such_key = 1\n' "$T" >"$T/bad.conf"
err=$(timeout 10 "$BIN/jobd" -c "$T/bad.conf" 2>&1); rc=$?
if [ $rc -eq 100 ] && echo "$err" | grep -q 'no_such_key'; then
	pass "bad config exits 100 naming the key"
else fail "bad config exits 100 naming the key" "rc=$rc $err"; fi

err=$(timeout 10 "$BIN/jobd" -c "$T/dvm.conf" 2>&1); rc=$?
if [ $rc -eq 100 ] && echo "$err" | grep -q 'dvm keygen'; then
	pass "missing key exits 100 and says how to make one"
else fail "missing key exits 100 and says how to make one" "rc=$rc $err"; fi

openssl rand -hex 32 >"$T/var/key"
chmod 0644 "$T/var/key"
err=$(timeout 10 "$BIN/jobd" -c "$T/dvm.conf" 2>&1); rc=$?
check "group/world-readable key exits 100" "rc=$rc $err" [ $rc -eq 100 ]
chmod 0600 "$T/var/key"

# readiness on fd 3, control socket mode, clean SIGTERM
rm -f "$T/ready"
( exec 3>"$T/ready"; exec "$BIN/jobd" -c "$T/dvm.conf" --notify-fd 3 2>"$T/err" ) &
pid=$!
i=0
while [ ! -s "$T/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -s "$T/ready" ] && [ -S "$T/var/run/control.sock" ]; then
	pass "readiness written after control.sock is bound (no spoke running)"
else fail "readiness written after control.sock is bound (no spoke running)" "$(cat "$T/err")"; fi
mode=$(stat -c %a "$T/var/run/control.sock" 2>/dev/null)
check "control.sock mode 0600" "mode $mode" [ "$mode" = 600 ]
check "ledger created" "no jobs.db" [ -f "$T/var/jobs.db" ]
# SIGHUP with a broken config keeps the old one; with a good one reloads
cp "$T/dvm.conf" "$T/good.conf"
printf 'state_dir = %s/var\nwallet = none\nmax_tokens = lots\n' "$T" >"$T/dvm.conf"
kill -HUP "$pid"; sleep 0.5
if kill -0 "$pid" 2>/dev/null && grep -q 'keeping the old config' "$T/err"; then
	pass "SIGHUP with a bad config keeps running on the old one"
else fail "SIGHUP with a bad config keeps running on the old one" "$(tail -3 "$T/err")"; fi
cp "$T/good.conf" "$T/dvm.conf"
kill -HUP "$pid"; sleep 0.5
if kill -0 "$pid" 2>/dev/null && grep -q 'config reloaded' "$T/err"; then
	pass "SIGHUP reloads a good config"
else fail "SIGHUP reloads a good config" "$(tail -3 "$T/err")"; fi
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$pid"; rc=$?
pid=
check "SIGTERM exits 0" "rc=$rc $(grep -m2 -E 'ERROR|Sanitizer' "$T/err")" [ $rc -eq 0 ]
check "control.sock removed on exit" "still there" [ ! -e "$T/var/run/control.sock" ]
