#!/bin/sh
# The per-step indexing figures of docs/benchmarks.md: two builds of souk-index, A (before) and B
# (after), run alternately on the Debian catalog (`souk-index --data DIR --schema
# indexer/schemas/debian-packages.json catalog FILE --quiet --no-spelling`), RUNS times each:
# wall and user+sys CPU medians (GNU time), the median of the summary's commit_seconds, whether
# the two indexes are identical (`mdb_dump -a` of the whole environment), and, with --callgrind,
# the instructions of each build on the first 10,000 records (valgrind, single-threaded:
# --threads 0), which do not depend on the machine's load.
# Usage: scripts/ab-index.sh BUILD_A BUILD_B [RUNS] [--callgrind]
set -eu
cd "$(dirname "$0")/.."
a=$1 b=$2 runs=${3:-5} cg=${4:-}
catalog=
for c in ../shared/data/catalog/debian-packages.jsonl.xz data/test-data/debian-packages.jsonl.xz; do
    [ -e "$c" ] && catalog=$c && break
done
[ -n "$catalog" ] || { echo "ab-index: no Debian catalog (run scripts/test-data.sh)" >&2; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
xz -dcf "$catalog" >"$work/catalog.jsonl"
schema=indexer/schemas/debian-packages.json
one() { # build label run
    rm -rf "$work/ix-$2"
    /usr/bin/time -f '%e %U %S' -o "$work/time" "$1/bin/souk-index" --data "$work/ix-$2" \
        --schema "$schema" catalog "$work/catalog.jsonl" --quiet --no-spelling >"$work/out" 2>&1
    commit=$(grep -o '"commit_seconds":[0-9.]*' "$work/out" | cut -d: -f2 || true)
    read -r wall user sys <"$work/time"
    echo "$wall $user $sys ${commit:-0}" | awk '{print $1, $2 + $3, $4}' >>"$work/$2.txt"
}
for i in $(seq 1 "$runs"); do
    one "$a" A "$i"
    one "$b" B "$i"
done
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for l in A B; do
    printf '%s: wall %s s, CPU %s s, commit %s s (medians of %s)\n' "$l" \
        "$(cut -d' ' -f1 "$work/$l.txt" | median)" "$(cut -d' ' -f2 "$work/$l.txt" | median)" \
        "$(cut -d' ' -f3 "$work/$l.txt" | median)" "$runs"
done
da=$(mdb_dump -a "$work/ix-A" | sha256sum | cut -d' ' -f1)
db=$(mdb_dump -a "$work/ix-B" | sha256sum | cut -d' ' -f1)
[ "$da" = "$db" ] && echo "index: identical ($da)" || echo "index: DIFFERENT (A $da, B $db)"
if [ "$cg" = --callgrind ]; then
    head -n 10000 "$work/catalog.jsonl" >"$work/10k.jsonl"
    for l in A B; do
        build=$a
        [ $l = B ] && build=$b
        rm -rf "$work/cg-$l"
        valgrind --tool=callgrind --callgrind-out-file="$work/cg.$l" "$build/bin/souk-index" \
            --data "$work/cg-$l" --schema "$schema" catalog "$work/10k.jsonl" --quiet --no-spelling \
            --threads 0 >/dev/null 2>"$work/cg.$l.err"
        echo "$l: $(grep -o 'Collected : [0-9]*' "$work/cg.$l.err" | awk '{print $3}') instructions (callgrind, first 10,000 records)"
    done
fi
