#!/bin/sh
# The main job behind `make run`: build a real catalog from this machine's own apt lists (no
# external data), index it into an embedded data directory, run a few sample searches, and serve
# it with souk-server on 127.0.0.1:8080 (SOUK_LISTEN overrides) until Ctrl-C.
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
for q in "text editor" "web server" "python json parser" '"version control"'; do
    echo "run: search: $q"
    "$BIN/souk-search" --data "$DATA" --k 5 "$q"
done
LISTEN=${SOUK_LISTEN:-127.0.0.1:8080}
echo "run: serving $DATA on http://$LISTEN (development mode: no keys; Ctrl-C stops)"
echo "run: try: curl 'http://$LISTEN/v1/search?q=text+editor&per_page=3'"
exec "$BIN/souk-server" --data "$DATA" --listen "$LISTEN" --development --access-log -
