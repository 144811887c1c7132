#!/bin/sh
# The prologue all four daemons share (common/daemon.c): each refuses core
# dumps (RLIMIT_CORE 0 soft and hard; non-dumpable, which the kernel shows by
# making /proc/PID/status owned by root rather than by the process's user) unless
# started with --allow-core; creates state_dir and run/ mode 0710 despite a
# 077 umask; --help exits 0 naming --allow-core and --notify-fd; an unknown
# option exits 100; readiness arrives on --notify-fd.
set -u
BIN=${BIN:-bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/prologue.XXXXXX")
# As root the daemons run as nobody: /proc/PID/status of a dumpable process then
# belongs to nobody, of a non-dumpable one to root.
asuser=""
if [ "$(id -u)" -eq 0 ]; then
	chmod 1777 "$T"
	asuser="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups --"
fi
me=$(id -u nobody 2>/dev/null)
[ -n "$asuser" ] || me=$(id -u)
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
f=daemon_prologue.sh
pass() { echo "PASS: $f: $1"; }
fail() { echo "FAIL: $f: $1: $2"; }

for d in relayd jobd inferd invoiced; do
	out=$(timeout 10 "$BIN/$d" --help 2>/dev/null); rc=$?
	if [ $rc -eq 0 ] && echo "$out" | grep -q "usage: $d" && echo "$out" | grep -q -- '--allow-core' &&
		echo "$out" | grep -q -- '--notify-fd'; then
		pass "$d --help exits 0 and documents --allow-core"
	else fail "$d --help exits 0 and documents --allow-core" "rc=$rc"; fi
	timeout 10 "$BIN/$d" --bogus >/dev/null 2>&1; rc=$?
	[ $rc -eq 100 ] && pass "$d: unknown option exits 100" || fail "$d: unknown option exits 100" "rc=$rc"
	timeout 10 "$BIN/$d" --notify-fd x >/dev/null 2>&1; rc=$?
	[ $rc -eq 100 ] && pass "$d: bad --notify-fd exits 100" || fail "$d: bad --notify-fd exits 100" "rc=$rc"
done

# start NAME DIR EXTRA...: run a daemon on its socket with readiness on fd 3.
start() {
	name=$1 dir=$2; shift 2
	mkdir -p "$T/$dir.cf"
	printf 'state_dir = %s/%s\nwallet = none\ninfer_urls = http://127.0.0.1:9\nrelays = ws://127.0.0.1:9\n' \
		"$T" "$dir" >"$T/$dir.cf/dvm.conf"
	printf 'secret_key_file = %s/%s.key\n' "$T" "$dir" >>"$T/$dir.cf/dvm.conf"
	openssl rand -hex 32 >"$T/$dir.key"; chmod 600 "$T/$dir.key"
	[ -n "$asuser" ] && chown nobody "$T/$dir.key"
	chmod 755 "$T/$dir.cf"; chmod 644 "$T/$dir.cf/dvm.conf"
	( umask 077; exec 3>"$T/$dir.ready"; exec $asuser "$BIN/$name" -c "$T/$dir.cf/dvm.conf" --notify-fd 3 "$@" \
		2>"$T/$dir.err" ) &
	pid=$!
	pids="$pids $pid"
	i=0
	while [ ! -s "$T/$dir.ready" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$T/$dir.ready" ]
}

for d in relayd jobd inferd invoiced; do
	if ! start "$d" "$d"; then
		fail "$d: ready on --notify-fd" "$(tail -n 3 "$T/$d.err")"
		continue
	fi
	st=$(stat -c %u "/proc/$pid/status")
	lim=$(grep '^Max core file size' "/proc/$pid/limits" | tr -s ' ')
	if [ "$st" = 0 ] && [ "$me" != 0 ] && [ "$lim" = "Max core file size 0 0 bytes " ]; then
		pass "$d: not dumpable, core limit 0 (soft and hard)"
	else fail "$d: not dumpable, core limit 0 (soft and hard)" "/proc/PID owner $st (process uid $me), '$lim'"; fi
	m1=$(stat -c %a "$T/$d") m2=$(stat -c %a "$T/$d/run")
	[ "$m1 $m2" = "710 710" ] && pass "$d: state_dir and run/ created 0710 under umask 077" ||
		fail "$d: state_dir and run/ created 0710 under umask 077" "$m1 $m2"
	kill -TERM "$pid"; wait "$pid"; rc=$?
	[ $rc -eq 0 ] && pass "$d: SIGTERM exits 0" || fail "$d: SIGTERM exits 0" "rc=$rc $(tail -n 3 "$T/$d.err")"

	if start "$d" "$d-core" --allow-core &&
		[ "$(stat -c %u "/proc/$pid/status")" = "$me" ] &&
		grep -q 'allow-core' "$T/$d-core.err"; then
		pass "$d --allow-core: dumpable, with a warning in the log"
	else fail "$d --allow-core: dumpable, with a warning in the log" "$(tail -n 3 "$T/$d-core.err")"; fi
	kill -TERM "$pid"; wait "$pid"
done

# A state_dir that is a file: a permanent error, not a crash.
: >"$T/afile"
printf 'state_dir = %s/afile\nwallet = none\n' "$T" >"$T/file.conf"
timeout 10 "$BIN/relayd" -c "$T/file.conf" >/dev/null 2>"$T/file.err"; rc=$?
[ $rc -eq 100 ] || [ $rc -eq 111 ] && grep -q 'afile' "$T/file.err" &&
	pass "state_dir that is not a directory: refused with its name" ||
	fail "state_dir that is not a directory: refused with its name" "rc=$rc $(cat "$T/file.err")"
