#!/bin/sh
# The main job behind `make run`: build a real catalog from this machine's own apt lists (no
# external data), index it into an embedded data directory, and show what was indexed.
# Usage: scripts/run.sh BUILD_DIR DATA_DIR
set -eu
BUILD=${1:-build}
DATA=${2:-data/debian}
BIN="$BUILD/bin"
mkdir -p "$(dirname "$DATA")"
if [ "$(id -u)" = 0 ]; then
    # English long descriptions for the catalog; the other languages keep the test data.
    echo "run: apt-get update (with long descriptions)"
    apt-get update -o Acquire::Languages=en,de,fr,es,it,nl,pt,ru >/dev/null
fi
CATALOG="$(dirname "$DATA")/debian-catalog.ndjson"
echo "run: converting apt's package lists into $CATALOG"
"$BIN/souk-apt-catalog" --out "$CATALOG"
echo "run: indexing into $DATA"
"$BIN/souk-index" --data "$DATA" --schema indexer/schemas/debian-packages.json catalog "$CATALOG"
"$BIN/souk-index" --data "$DATA" stats
if [ -x "$BIN/souk-search" ]; then
    for q in "text editor" "web server" "python json parser" '"version control"'; do
        echo "run: search: $q"
        "$BIN/souk-search" --data "$DATA" --k 5 "$q"
    done
else
    echo "run: sample documents:"
    "$BIN/souk-index" --data "$DATA" dump vim nginx git | cut -c1-300
fi
