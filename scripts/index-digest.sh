#!/bin/sh
# Prints the SHA-256 of an index of the Debian catalog built by BUILD's souk-index: every
# database of the LMDB environment, dumped by mdb_dump (lmdb-utils). Two builds that index the
# same catalog into the same bytes print the same digest; used to show that a restructuring
# leaves the index identical (docs/benchmarks.md). The catalog is ../shared/data's, or the one
# scripts/test-data.sh made.
# Usage: scripts/index-digest.sh BUILD_DIR [CATALOG.jsonl[.xz]]
set -eu
cd "$(dirname "$0")/.."
build=$1
catalog=${2:-}
if [ -z "$catalog" ]; then
    for c in ../shared/data/catalog/debian-packages.jsonl.xz ../shared/data/catalog/debian-packages.jsonl \
        data/test-data/debian-packages.jsonl.xz; do
        [ -e "$c" ] && catalog=$c && break
    done
fi
[ -n "$catalog" ] || { echo "index-digest: no Debian catalog (run scripts/test-data.sh)" >&2; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
xz -dcf "$catalog" | "$build/bin/souk-index" --data "$dir/ix" \
    --schema indexer/schemas/debian-packages.json catalog - >/dev/null
mdb_dump -a "$dir/ix" | sha256sum | cut -d' ' -f1
