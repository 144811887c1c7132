#!/bin/sh
# tests/lint/run.sh (make lint, and the first case of make test): shellcheck
# on every shell script in the tree, cppcheck on every C file. Prints one
# PASS or FAIL line per tool, with the findings under a FAIL; exit 1 on any
# finding, 111 if a tool is missing (make deps installs both).
#
# Suppressions live beside what they suppress, each with its reason:
# tests/.shellcheckrc for the test scripts, "shellcheck disable=" and
# "cppcheck-suppress" comments in the code, tests/lint/cjson.cfg for the
# cJSON macro cppcheck cannot see.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 111
rc=0
out=$(mktemp "${TMPDIR:-/tmp}/sc-lint.XXXXXX") || exit 111
trap 'rm -f "$out"' EXIT

# Every shell script: *.sh, and files without a suffix whose first line is
# a #! for sh or bash (scripts/dvm, tests/run, .ci/run).
shell_scripts() {
	find scripts tests .ci -name node_modules -prune -o -type f -print | sort |
	while IFS= read -r f; do
		case ${f##*/} in
		*.sh) echo "$f" ;;
		*.*) ;;
		*) head -n 1 "$f" | grep -q '^#!.*[/ ]\(ba\)\{0,1\}sh$' && echo "$f" ;;
		esac
	done
}

for tool in shellcheck cppcheck; do
	command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: lint: $tool is not installed (make deps)"; exit 111; }
done

n=$(shell_scripts | wc -l)
# shellcheck disable=SC2046 # one word per path: no path in the tree has a space
if shellcheck -x -f gcc $(shell_scripts) >"$out" 2>&1; then
	echo "PASS: lint: shellcheck, $n shell scripts"
else
	echo "FAIL: lint: shellcheck, $n shell scripts: $(grep -c . "$out") findings"
	sed 's/^/    /' "$out"
	rc=1
fi

# warning and portability on top of the default errors; style is left out
# (it argues with the house style). _GNU_SOURCE as the build has it.
dirs=$(for d in common relayd jobd inferd invoiced dvmctl dvmreq tests/unit tests/tools tests/fuzz tests/bench; do
	[ -d "$d" ] && echo "$d"; done)
# shellcheck disable=SC2086 # $dirs: one word per directory
if cppcheck -q --std=c11 --enable=warning,portability --inline-suppr \
	--library=tests/lint/cjson.cfg -D_GNU_SOURCE -Icommon \
	--error-exitcode=1 -j2 $dirs >"$out" 2>&1; then
	echo "PASS: lint: cppcheck, $(find $dirs -name '*.c' | wc -l) C files"
else
	echo "FAIL: lint: cppcheck: findings"
	sed 's/^/    /' "$out"
	rc=1
fi
exit "$rc"
