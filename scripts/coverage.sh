#!/bin/sh
# Prints line and branch coverage per folder (engine/, indexer/, api/) of an instrumented build
# that has run the test suite (`make coverage`), and writes an HTML report into BUILD/coverage/.
# Usage: scripts/coverage.sh BUILD_DIR
set -eu
BUILD=${1:-build-cov}
mkdir -p "$BUILD/coverage"
# The fuzz driver and the benchmarks are not part of the product's tested code.
EXCL="--exclude api/fuzz_http.c --exclude bench/ --exclude tests/"
gcovr -r . --object-directory "$BUILD" $EXCL --gcov-ignore-parse-errors \
    --html-details "$BUILD/coverage/index.html" --json "$BUILD/coverage/all.json" >/dev/null
echo "coverage (lines, branches), whole suite:"
for d in engine indexer api; do
    gcovr -r . --add-tracefile "$BUILD/coverage/all.json" --filter "$d/" --print-summary \
        -o /dev/null | awk -v d="$d/" '
        /^lines:/ {sub(/^lines: */, ""); l = $0}
        /^branches:/ {sub(/^branches: */, ""); b = $0}
        END {printf "  %-9s lines %s; branches %s\n", d, l, b}'
done
echo "report: $BUILD/coverage/index.html"
