#!/bin/sh
# Checks the engine's layering (docs/architecture.md, "Layers"): each layer includes only the
# layers below it (their headers in engine/include/souk/ and in their folders), never another
# layer's private header (`*_int.h`); nothing in
# engine/ includes libuv, HTTP or api/; only engine/text/ includes Xapian; only the stores
# (engine/catalog/, engine/events/, engine/core/kv*) call LMDB, and api/ and indexer/ reach LMDB only
# through the engine. Prints each offending include with
# its file and line and exits 1. The violations that the layering still has to lose are listed
# in scripts/layers-known.txt: a new one fails, and so does a listed one that is gone (the list
# only shrinks). Usage: scripts/check-layers.sh (from the repository root).
set -eu
cd "$(dirname "$0")/.."
found=$(mktemp)
trap 'rm -f "$found"' EXIT
# The layers, bottom up, and the layer of each public header.
below() {
    case $1 in
    core) echo "core" ;;
    text) echo "core text" ;;
    catalog) echo "core text catalog" ;;
    rank) echo "core text catalog rank" ;;
    query) echo "core text catalog rank query" ;;
    events) echo "core events" ;;
    recs) echo "core text catalog rank query events recs" ;;
    *) echo "" ;;
    esac
}
public_layer() {
    case $1 in
    souk.h | json_strict.h | buf.h) echo core ;;
    analysis.h | queryparse.h | collate.h) echo text ;;
    schema.h | document.h | ingest.h | index.h | block.h | profstore.h | digest.h) echo catalog ;;
    eval.h | rank.h | profile.h) echo rank ;;
    search.h | browse.h | lexicon.h | highlight.h | spelling.h) echo query ;;
    keys.h | events.h) echo events ;;
    recs.h) echo recs ;;
    *) echo unknown ;;
    esac
}
for f in $(git ls-files 'engine/*.c' 'engine/*.cc' 'engine/*.h'); do
    case $f in
    engine/include/*) continue ;;
    esac
    layer=$(echo "$f" | cut -d/ -f2)
    allowed=$(below "$layer")
    if [ -z "$allowed" ]; then
        echo "$f: not in a layer folder" >>"$found"
        continue
    fi
    grep -n '^#include' "$f" | while IFS= read -r line; do
        n=${line%%:*}
        inc=$(echo "$line" | sed -n 's/^[0-9]*:#include *[<"]\([^">]*\)[">].*/\1/p')
        quoted=0
        case $line in
        *'#include "'*) quoted=1 ;;
        esac
        case $inc in
        uv.h | http_parser.h | api_int.h | api/*)
            echo "$f:$n: includes $inc (engine/ never includes libuv, HTTP or api/)" ;;
        xapian.h | xapian/*)
            [ "$layer" = text ] || echo "$f:$n: includes <$inc> (only engine/text/ includes Xapian)" ;;
        souk/*)
            [ $quoted = 1 ] || continue
            l=$(public_layer "${inc#souk/}")
            case " $allowed " in
            *" $l "*) ;;
            *) echo "$f:$n: includes $inc, of layer $l, from layer $layer" ;;
            esac ;;
        */*)
            [ $quoted = 1 ] || continue
            l=${inc%%/*}
            [ "$l" = "$layer" ] && continue
            case " $allowed " in
            *" $l "*) ;;
            *) echo "$f:$n: includes $inc, of layer $l, from layer $layer"; continue ;;
            esac
            case $inc in
            *_int.h) echo "$f:$n: includes $inc, private to layer $l, from layer $layer" ;;
            esac ;;
        esac
    done >>"$found"
    case $layer in
    catalog | events) ;;
    *)
        case $f in
        engine/core/kv*) ;;
        *) grep -n '\bmdb_[a-z_]*(' "$f" | sed "s|^\([0-9]*\):.*|$f:\1: calls LMDB outside the stores|" \
            >>"$found" || true ;;
        esac ;;
    esac
done
# The programs and the server reach LMDB only through the engine.
for f in $(git ls-files 'api/*.c' 'api/*.h' 'indexer/*.c'); do
    grep -n '^#include <lmdb.h>\|\bmdb_[a-z_]*(' "$f" | sed "s|^\([0-9]*\):.*|$f:\1: uses LMDB (api/ and indexer/ go through the engine)|" \
        >>"$found" || true
done
# Lines are compared without their line numbers, so an edit above an include does not matter.
strip() { sed 's/^\([^:]*\):[0-9]*:/\1:/' "$1" | sort -u; }
known=$(mktemp)
trap 'rm -f "$found" "$known"' EXIT
grep -v '^#' scripts/layers-known.txt | sed '/^$/d' | sort -u >"$known"
new=$(strip "$found" | comm -23 - "$known")
gone=$(strip "$found" | comm -13 - "$known")
rc=0
if [ -n "$new" ]; then
    echo "check-layers: the layering is broken:"
    while IFS= read -r line; do
        key=$(echo "$line" | sed 's/^\([^:]*\):[0-9]*:/\1:/')
        if echo "$new" | grep -qxF "$key"; then echo "  $line"; fi
    done <"$found"
    rc=1
fi
if [ -n "$gone" ]; then
    echo "check-layers: fixed, remove from scripts/layers-known.txt:"
    echo "$gone" | sed 's/^/  /'
    rc=1
fi
[ $rc -eq 0 ] && echo "check-layers: $(git ls-files 'engine/*/*.c' 'engine/*/*.cc' 'engine/*/*.h' | grep -vc include/) files keep the layering ($(wc -l <"$known") known exceptions left)"
exit $rc
