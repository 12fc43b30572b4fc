#!/bin/sh
# The main job behind `make run`: build a real catalog from this machine's own apt lists (no
# external data), index it into an embedded data directory, run a few sample searches, and serve
# it with souk-server on 127.0.0.1:8080 (SOUK_LISTEN overrides) until Ctrl-C, with the InstantSearch
# storefront (examples/storefront/, docs/algolia-insights.md) at /storefront/: the catalog gets the
# storefront's tag_facets (examples/storefront/catalog.py) and schema, the npm bundles are fetched
# (scripts/storefront-libs.sh), and a development config beside the data directory turns on the
# Algolia protocol, behaviour events (key rings made once, 0600, outside DATA_DIR) and the page.
# Usage: scripts/run.sh BUILD_DIR DATA_DIR
set -eu
BUILD=${1:-build}
DATA=${2:-data/debian-storefront}
BIN="$BUILD/bin"
mkdir -p "$(dirname "$DATA")"
if [ "$(id -u)" = 0 ]; then
    # English long descriptions for the catalog; the other languages keep the test data.
    echo "run: apt-get update (with long descriptions)"
    apt-get update -o Acquire::Languages=en,de,fr,es,it,nl,pt,ru >/dev/null
fi
CATALOG="$(dirname "$DATA")/debian-catalog.ndjson"
echo "run: converting apt's package lists into $CATALOG"
"$BIN/souk-apt-catalog" --out "$CATALOG.apt"
python3 examples/storefront/catalog.py <"$CATALOG.apt" >"$CATALOG"
rm -f "$CATALOG.apt"
echo "run: indexing into $DATA"
"$BIN/souk-index" --data "$DATA" --schema examples/storefront/debian-storefront.json catalog "$CATALOG"
"$BIN/souk-index" --data "$DATA" stats
for q in "text editor" "web server" "python json parser" '"version control"'; do
    echo "run: search: $q"
    "$BIN/souk-search" --data "$DATA" --k 5 "$q"
done
LISTEN=${SOUK_LISTEN:-127.0.0.1:8080}
BASE="$(dirname "$DATA")"
LIB="$BASE/storefront-lib"
sh scripts/storefront-libs.sh "$LIB"
KEYS="$BASE/run-keys"
(umask 077 && mkdir -p "$KEYS" &&
    for r in pseudonym token; do
        [ -f "$KEYS/$r.ring" ] ||
            printf '1 %s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$KEYS/$r.ring"
    done)
CONFIG="$BASE/run-config.json"
KEYS_ABS=$(cd "$KEYS" && pwd)
LIB_ABS=$(cd "$LIB" && pwd)
cat >"$CONFIG" <<JSON
{"development": true,
 "pseudonym_key_file": "$KEYS_ABS/pseudonym.ring", "token_key_file": "$KEYS_ABS/token.ring",
 "algolia": {"index": "debian",
             "replicas": {"debian_size_asc": {"sort": "installed_size_kb:asc"},
                          "debian_size_desc": {"sort": "installed_size_kb:desc"}}},
 "storefront": {"dir": "$(pwd)/examples/storefront", "lib_dir": "$LIB_ABS"}}
JSON
SHOPPER=$("$BIN/souk-token" --key "$KEYS/token.ring" --user shopper-1 --ttl 86400)
echo "run: serving $DATA on http://$LISTEN (development mode: no keys; Ctrl-C stops)"
echo "run: try: curl 'http://$LISTEN/v1/search?q=text+editor&per_page=3'"
echo "run: storefront: http://$LISTEN/storefront/"
echo "run: storefront as shopper-1 (Insights events on): http://$LISTEN/storefront/#token=$SHOPPER"
echo "run: shopper-1's consent: curl -X PUT -H 'X-User-Token: $SHOPPER' -H 'Content-Type: application/json' -d '{\"personalization\":true}' http://$LISTEN/v1/me/consent"
exec "$BIN/souk-server" --data "$DATA" --listen "$LISTEN" --config "$CONFIG" --access-log -
