#!/bin/sh
# tests/fuzz/run.sh [SECONDS]: build and run every libFuzzer target.
#
# Each tests/fuzz/fuzz_NAME.c is built with clang -fsanitize=fuzzer,address,
# undefined against common/*.c compiled with -fsanitize=fuzzer-no-link,...
# (objects and binaries in build/fuzz/), plus any sources a target names in
# a "/* LINK: dir/file.c */" line as unit tests do, then run for SECONDS (default 30)
# on a scratch copy of its seed corpus tests/fuzz/corpus/fuzz_NAME/, so runs
# never dirty the tree. A crash, leak, UB report or timeout is a finding:
# the input is saved as tests/fuzz/crashes/fuzz_NAME-*, the log tail shown.
# One line per target, then a verdict; the exit status is 1 on any finding
# and 111 if something could not be built.
#
# Environment: FUZZ_CC (default clang), ONLY (substring of target names),
# FUZZ_JOBS (targets run at once; default: the number of CPUs).
set -u
secs=${1:-30}
case $secs in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 100 ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 111
cc=${FUZZ_CC:-clang}
only=${ONLY:-}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
out=build/fuzz
crashes=tests/fuzz/crashes
pkgs="libsecp256k1 openssl libcjson"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
# $pkgs is a list on purpose.
# shellcheck disable=SC2086
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Icommon $(pkg-config --cflags $pkgs)"
# shellcheck disable=SC2086
libs="$(pkg-config --libs $pkgs) -lm"

command -v "$cc" >/dev/null 2>&1 || { echo "FAIL: fuzz: $cc not found"; exit 111; }
mkdir -p "$out/obj" "$crashes" || exit 111

# The library, instrumented for coverage but without libFuzzer's main.
objs=
for src in common/*.c; do
	obj=$out/obj/$(basename "$src" .c).o
	if [ ! -f "$obj" ] || [ -n "$(find "$src" common/*.h -newer "$obj")" ]; then
		# shellcheck disable=SC2086
		$cc $cflags -fsanitize=fuzzer-no-link $san -c -o "$obj" "$src" ||
			{ echo "FAIL: fuzz: cannot build $src"; exit 111; }
	fi
	objs="$objs $obj"
done
# An archive, as the Makefile's libcommon.a: a target links only the
# objects it uses (common/curlm.o would otherwise need libcurl).
rm -f "$out/libcommon.a"
# shellcheck disable=SC2086
ar rcs "$out/libcommon.a" $objs || { echo "FAIL: fuzz: cannot archive common/"; exit 111; }

targets=
for src in tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	name=$(basename "$src" .c)
	case $name in *"$only"*) ;; *) continue ;; esac
	# Extra sources named as in unit tests: /* LINK: invoiced/bolt11.c */
	extra=$(sed -n 's,^/\* *LINK: *\(.*\) *\*/,\1,p' "$src")
	# shellcheck disable=SC2086
	$cc $cflags -fsanitize=fuzzer $san -o "$out/$name" "$src" $extra "$out/libcommon.a" $libs ||
		{ echo "FAIL: fuzz: cannot build $src"; exit 111; }
	targets="$targets $name"
done
[ -n "$targets" ] || { echo "FAIL: fuzz: no targets"; exit 111; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/sc-fuzz.XXXXXX") || exit 111
trap 'rm -rf "$scratch"' EXIT INT TERM

# Run one target; its verdict goes to $scratch/NAME.verdict.
run_one() {
	name=$1
	work=$scratch/$name.corpus
	log=$out/$name.log
	mkdir -p "$work"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -R "tests/fuzz/corpus/$name/." "$work/"
	fi
	ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	"$out/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$crashes/$name-" \
		"$work" >"$log" 2>&1 </dev/null
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "PASS: fuzz: $name: ${runs:-?} runs in ${secs}s, no finding" >"$scratch/$name.verdict"
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		{
			echo "FAIL: fuzz: $name: exit $rc; input: ${art:-none saved}; log: $log"
			grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$log" | head -n 6 | sed 's/^/    /'
		} >"$scratch/$name.verdict"
	fi
}

# Targets run $jobs at a time; each is bounded by -max_total_time.
running=0
for name in $targets; do
	run_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

found=0 n=0
for name in $targets; do
	n=$((n + 1))
	if [ -f "$scratch/$name.verdict" ]; then
		cat "$scratch/$name.verdict"
		grep -q '^FAIL' "$scratch/$name.verdict" && found=$((found + 1))
	else
		echo "FAIL: fuzz: $name: no verdict"
		found=$((found + 1))
	fi
done
if [ "$found" -eq 0 ]; then
	echo "fuzz: $n targets, ${secs}s each: no finding"
	exit 0
fi
echo "fuzz: $n targets, ${secs}s each: $found with findings (inputs in $crashes/)"
exit 1
