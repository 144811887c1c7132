#!/bin/sh
# dvmctl jobs --limit 1000 against a jobd whose ledger holds 1000 finished
# jobs: the answer (far over the 4 KB that once never arrived) comes in
# table and --json form; with fields far longer than any real job's, the
# strings are cut and rows left out to stay under the documented maximum
# (4 MiB), and the answer says so. The ledger is filled with sqlite3 while
# jobd is down; finished jobs are only listed, never resumed.
set -u
BIN=${BIN:-bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/dvmctl-jobs.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
f=dvmctl_jobs.sh
failed=0
pass() { echo "PASS: $f: $1"; }
fail() { echo "FAIL: $f: $1: $2"; failed=1; }

mkdir -p "$T/var"
openssl rand -hex 32 >"$T/var/key"
chmod 0600 "$T/var/key"
printf 'state_dir = %s/var\nwallet = none\nrelays = wss://fake.relay\n' "$T" >"$T/dvm.conf"

start_jobd() {
	rm -f "$T/ready"
	( exec 3>"$T/ready"; exec "$BIN/jobd" -c "$T/dvm.conf" --notify-fd 3 2>>"$T/err" ) &
	pid=$!
	i=0
	while [ ! -s "$T/ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$T/ready" ]
}

stop_jobd() {
	kill -TERM "$pid"
	wait "$pid"; rc=$?
	pid=
	return $rc
}

# fill N_ERR_BYTES FIELD_BYTES: 1000 finished jobs, errors of N_ERR_BYTES
# bytes (with two-byte UTF-8 characters, so a cut can land inside one);
# FIELD_BYTES > 0 also makes id, requester and result_id that long.
fill() {
	sqlite3 "$T/var/jobs.db" "DELETE FROM jobs;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
	INSERT INTO jobs(id, pubkey, kind, created_at, received_ms, updated_ms, state,
	    request, price_msat, paid_msat, prompt_tokens, completion_tokens, result_id, error)
	SELECT CASE WHEN $2 > 0 THEN printf('%04d', i) || hex(zeroblob($2)) ELSE lower(hex(randomblob(32))) END,
	    CASE WHEN $2 > 0 THEN hex(zeroblob($2)) ELSE lower(hex(randomblob(32))) END,
	    5050, strftime('%s','now') - i, (strftime('%s','now') - i) * 1000,
	    (strftime('%s','now') - i) * 1000, CASE WHEN i % 2 THEN 'acked' ELSE 'error' END,
	    '{}', 21000, 21000, 12, 345,
	    CASE WHEN $2 > 0 THEN hex(zeroblob($2)) ELSE lower(hex(randomblob(32))) END,
	    'x' || replace(hex(zeroblob($1 / 2)), '00', 'é')
	FROM n;" || return 1
}

# check_json FILE WANT_ROWS(exact, or "some") WANT_TRUNCATED
check_json() {
	# shellcheck disable=SC2016 # ${...} is a JavaScript template literal
	node -e '
		const fs = require("fs");
		const t = fs.readFileSync(process.argv[1], "utf8");
		let a;
		try { a = JSON.parse(t); } catch (e) { console.log(`not JSON (${t.length} bytes)`); process.exit(1); }
		const rows = process.argv[2], trunc = process.argv[3] === "true";
		const ok = a.op === "jobs" && Array.isArray(a.jobs) && t.split("\n").length === 2 &&
		    (rows === "some" ? a.jobs.length > 0 && a.jobs.length < 1000 && a.omitted === 1000 - a.jobs.length :
		     a.jobs.length === Number(rows) && a.omitted === 0) &&
		    a.truncated === trunc && t.length <= 4 * 1024 * 1024 &&
		    a.jobs.every((j) => Buffer.byteLength(j.error) <= 1024 && !j.error.includes("\ufffd"));
		if (!ok)
			console.log(`rows ${a.jobs && a.jobs.length} omitted ${a.omitted} truncated ${a.truncated} bytes ${t.length}`);
		process.exit(ok ? 0 : 1);' "$1" "$2" "$3"
}

# Create the ledger, then fill it while jobd is down.
start_jobd || { fail "jobd starts" "$(tail -3 "$T/err")"; exit 1; }
stop_jobd
fill 200 0 || { fail "ledger filled" "sqlite3 failed"; exit 1; }
start_jobd || { fail "jobd starts on 1000 jobs" "$(tail -3 "$T/err")"; exit 1; }

t0=$(date +%s)
"$BIN/dvmctl" -c "$T/dvm.conf" --json jobs --limit 1000 >"$T/j.json" 2>"$T/j.err"; rc=$?
if [ $rc -eq 0 ] && check_json "$T/j.json" 1000 false; then
	pass "--json jobs --limit 1000: every job, one line of $(wc -c <"$T/j.json") bytes"
else fail "--json jobs --limit 1000: every job" "rc=$rc $(cat "$T/j.err") $(check_json "$T/j.json" 1000 false)"; fi

"$BIN/dvmctl" -c "$T/dvm.conf" jobs --limit 1000 >"$T/j.txt" 2>"$T/j.err"; rc=$?
rows=$(grep -c -E '^[0-9a-f]{12} +(acked|error) ' "$T/j.txt")
if [ $rc -eq 0 ] && [ "$rows" -eq 1000 ] && head -n 1 "$T/j.txt" | grep -q '^JOB ' &&
	! grep -q 'truncated' "$T/j.txt"; then
	pass "jobs --limit 1000: a table of 1000 rows"
else fail "jobs --limit 1000: a table of 1000 rows" "rc=$rc rows=$rows $(cat "$T/j.err")"; fi

"$BIN/dvmctl" -c "$T/dvm.conf" --json jobs --limit 8 >"$T/j8.json" 2>"$T/j.err"; rc=$?
[ $rc -eq 0 ] && check_json "$T/j8.json" 8 false && [ $(($(date +%s) - t0)) -lt 10 ] &&
	pass "--json jobs --limit 8 (the old 4 KB case) answers at once" ||
	fail "--json jobs --limit 8 answers at once" "rc=$rc $(cat "$T/j.err")"

stop_jobd || fail "SIGTERM exits 0" "$(grep -m2 -E 'ERROR|Sanitizer' "$T/err")"

# Errors of 20 KB each: cut to 1 KB, every row still listed.
fill 20000 0 || { fail "ledger refilled" "sqlite3 failed"; exit 1; }
start_jobd || { fail "jobd starts on long errors" "$(tail -3 "$T/err")"; exit 1; }
"$BIN/dvmctl" -c "$T/dvm.conf" --json jobs --limit 1000 >"$T/j.json" 2>"$T/j.err"; rc=$?
[ $rc -eq 0 ] && check_json "$T/j.json" 1000 true &&
	pass "20 KB errors: cut to 1 KB on UTF-8 boundaries, truncated:true, all 1000 rows" ||
	fail "20 KB errors: cut, all rows" "rc=$rc $(cat "$T/j.err") $(check_json "$T/j.json" 1000 true)"
stop_jobd || fail "SIGTERM exits 0 (long errors)" "$(grep -m2 -E 'ERROR|Sanitizer' "$T/err")"

# Every string field long: the rows that fit in 4 MiB, and how many were left out.
fill 20000 3000 || { fail "ledger refilled" "sqlite3 failed"; exit 1; }
start_jobd || { fail "jobd starts on long fields" "$(tail -3 "$T/err")"; exit 1; }
"$BIN/dvmctl" -c "$T/dvm.conf" --json jobs --limit 1000 >"$T/j.json" 2>"$T/j.err"; rc=$?
[ $rc -eq 0 ] && check_json "$T/j.json" some true &&
	pass "long ids, keys and errors: rows cut to fit 4 MiB, omitted counts the rest" ||
	fail "long fields: rows cut to fit" "rc=$rc $(cat "$T/j.err") $(check_json "$T/j.json" some true)"
"$BIN/dvmctl" -c "$T/dvm.conf" jobs --limit 1000 >"$T/j.txt" 2>"$T/j.err"; rc=$?
if [ $rc -eq 0 ] && tail -n 1 "$T/j.txt" | grep -q 'truncated'; then
	pass "table form says the list was cut"
else fail "table form says the list was cut" "rc=$rc $(tail -n 1 "$T/j.txt") $(cat "$T/j.err")"; fi
stop_jobd || fail "SIGTERM exits 0 (long fields)" "$(grep -m2 -E 'ERROR|Sanitizer' "$T/err")"
[ "$failed" -eq 0 ] || echo "    (jobd stderr tail: $(tail -n 3 "$T/err" | tr '\n' '|'))"
exit "$failed"
