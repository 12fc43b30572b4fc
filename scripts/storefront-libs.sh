#!/bin/sh
# Fetches the three npm packages the storefront (examples/storefront/) loads, at pinned versions,
# and copies their browser (UMD) builds, unmodified, into DEST (default
# data/test-data/storefront-lib), where souk-server serves them as /storefront/lib/NAME
# ("storefront": {"lib_dir"}, docs/algolia-insights.md). They are never committed.
# Usage: scripts/storefront-libs.sh [DEST]
DEST=${1:-data/test-data/storefront-lib}
if [ -f "$DEST/instantsearch.production.min.js" ] && [ -f "$DEST/algoliasearch-lite.umd.js" ] &&
    [ -f "$DEST/search-insights.min.js" ]; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "storefront-libs: npm is missing; the storefront and its test need it" >&2
    exit 1
fi
mkdir -p "$DEST"
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
ok=1
for p in instantsearch.js@4.118.1 algoliasearch@5.64.0 search-insights@2.17.3; do
    name=${p%@*}
    (cd "$TMP" && npm pack --silent "$p" >/dev/null 2>&1 && mkdir -p "$name" &&
        tar xzf "$name"-*.tgz -C "$name" --strip-components=1) || {
        echo "storefront-libs: npm pack $p failed" >&2
        ok=0
    }
done
[ $ok = 1 ] || exit 1
cp "$TMP/instantsearch.js/dist/instantsearch.production.min.js" "$DEST/" &&
    cp "$TMP/algoliasearch/dist/lite/builds/browser.umd.js" "$DEST/algoliasearch-lite.umd.js" &&
    cp "$TMP/search-insights/dist/search-insights.min.js" "$DEST/" || exit 1
echo "storefront-libs: InstantSearch.js 4.118.1, algoliasearch 5.64.0 (lite), search-insights 2.17.3 in $DEST"
