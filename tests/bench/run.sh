#!/bin/sh
# make bench: every benchmark, one table. Needs the optimised build (BIN,
# BENCHDIR are set by the Makefile). bench.mjs runs inferd_stream.mjs itself
# (row 6); relayd's own benchmark (frames/s, idle RSS) follows the table.
set -u
here=$(cd "$(dirname "$0")" && pwd)
echo "machine: $(nproc) cores, $(uname -srm), $(date -u +%Y-%m-%d)"
node "$here/bench.mjs" "$@"
rc=$?
for b in "$here"/relayd*.sh "$here"/relayd*.mjs; do
	[ -f "$b" ] || continue
	echo "--- $(basename "$b")"
	case $b in *.sh) sh "$b" ;; *.mjs) node "$b" ;; esac || rc=1
done
exit $rc
