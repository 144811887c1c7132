#!/bin/sh
# dvm.conf.example documents every key of common/conf.c's table, and its
# commented defaults, uncommented, are exactly the built-in defaults.
T=launcher_confexample.sh
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${BIN:=$top/bin}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sc-confex.XXXXXX") || exit 111
trap 'rm -rf "$tmp"' EXIT
ex=$top/dvm.conf.example
: >"$tmp/empty.conf"
"$BIN/dvmctl" -c "$tmp/empty.conf" conf >"$tmp/defaults" || { echo "FAIL: $T: dvmctl conf lists the keys: exit $?"; exit 1; }
missing=""
# shellcheck disable=SC2013 # key names are single words; a pipe into while would lose $missing
for k in $(awk '{print $1}' "$tmp/defaults"); do
	grep -q "^#$k =" "$ex" || missing="$missing $k"
done
[ "$(wc -l <"$tmp/defaults")" -gt 50 ] && [ -z "$missing" ] &&
	echo "PASS: $T: every key is documented" || echo "FAIL: $T: every key is documented: missing$missing"
sed -n 's/^#\([a-z_0-9]* =.*\)$/\1/p' "$ex" >"$tmp/all.conf"
if "$BIN/dvmctl" -c "$tmp/all.conf" conf >"$tmp/example" 2>"$tmp/err" && cmp -s "$tmp/example" "$tmp/defaults"; then
	echo "PASS: $T: the documented defaults are the built-in ones"
else
	echo "FAIL: $T: the documented defaults are the built-in ones: $(cat "$tmp/err") $(diff "$tmp/example" "$tmp/defaults" | head -n 6 | tr '\n' '|')"
fi
