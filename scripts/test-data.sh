#!/bin/sh
# Fetches the test data that comes from Debian's own archive: the translated package
# descriptions (de, fr, es, it, nl, pt, ru) that tests/test_analysis.c compares Souk's analysis
# with Xapian's on. Needs root; without it the test skips those languages with a message.
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
