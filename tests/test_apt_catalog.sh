#!/bin/sh
# test_apt_catalog.sh - checks souk-apt-catalog (indexer/souk_apt_catalog.c) on a small apt lists
# fixture made in a temporary directory.
#
# Usage: tests/test_apt_catalog.sh PATH/TO/souk-apt-catalog
# Needs: sh, gzip, python3 (all on a stock Debian 12). Exits non-zero on any mismatch.
#
# The fixture covers: a multi-line description taken from Translation-en, " ." and "  ."
# paragraph breaks, an indented line, a package whose translation is missing, one package
# listed three times (1.9-3, 1.10~rc1-1 and, in a gzip-compressed second suite, 1.10-1 without
# Tag), tags over several lines, a folded and a very long Depends, an "area/" section prefix,
# a "Source: x (version)" field, invalid UTF-8, a non-English translation and an unsupported
# compressed list that must be ignored.

set -u

BIN=${1:-}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "usage: $0 PATH/TO/souk-apt-catalog" >&2
    exit 2
fi

TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
L="$TMP/lists"
mkdir "$L"

passed=0
failed=0
ok() {
    passed=$((passed + 1))
}
ko() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
}

# A Depends line of about 20 kB, longer than any fixed line buffer.
LONGDEP=$(i=1; while [ $i -le 2000 ]; do printf 'libx%d, ' $i; i=$((i + 1)); done)
LONGDEP="${LONGDEP}libend"

# --- main suite: Packages -------------------------------------------------------------------
{
cat <<'EOF'
Package: alpha
Source: alpha-src (1.0-0)
Version: 1.0-1
Installed-Size: 120
Maintainer: Alice Example <alice@example.org>
Architecture: amd64
Depends: libc6 (>= 2.34), libfoo1 (>= 1.0),
 libbar2
Description: Alpha tool for testing
Homepage: https://alpha.example.org/
Description-md5: 11111111111111111111111111111111
Tag: devel::testing, role::program,
 suite::souk, use::checking,
 works-with::text
Section: contrib/utils
Priority: optional
Size: 34567

Package: beta
Version: 1.9-3
Installed-Size: 10
Maintainer: Bob <bob@example.org>
Architecture: all
Description: Beta (old version)
Description-md5: 22222222222222222222222222222222
Tag: role::shared-lib,
 implemented-in::c
Section: libs
Size: 1000

Package: beta
Version: 1.10~rc1-1
Installed-Size: 11
Maintainer: Bob <bob@example.org>
Architecture: all
Description: Beta (release candidate)
Description-md5: 33333333333333333333333333333333
Section: libs
Size: 1001

EOF
printf 'Package: gamma\n'
printf 'Version: 2:0.1\n'
printf 'Installed-Size: 5\n'
printf 'Maintainer: G\351rard <gerard@example.org>\n'
printf 'Architecture: amd64\n'
printf 'Depends: %s\n' "$LONGDEP"
printf 'Description: Gamma without a translation\n'
printf 'Description-md5: 44444444444444444444444444444444\n'
printf 'Section: non-free/misc\n'
printf 'Size: 999\n'
} > "$L/example.org_debian_dists_test_main_binary-amd64_Packages"

# --- main suite: Translation-en (no entry for gamma, one for a package not in Packages) -----
cat > "$L/example.org_debian_dists_test_main_i18n_Translation-en" <<'EOF'
Package: alpha
Description-md5: 11111111111111111111111111111111
Description-en: Alpha tool for testing
 Alpha is the first line of the long description,
 continued on a second line.
 .
 Second paragraph:
   * an indented item
  .
 Last line.

Package: beta
Description-md5: 22222222222222222222222222222222
Description-en: Beta (old version)
 Old text that must not be used.

Package: unlisted
Description-md5: 55555555555555555555555555555555
Description-en: Not in any Packages list
 Ignored.
EOF

# --- a translation that must be ignored (only Translation-en is read) -----------------------
cat > "$L/example.org_debian_dists_test_main_i18n_Translation-de" <<'EOF'
Package: alpha
Description-md5: 11111111111111111111111111111111
Description-de: Falsch
 Falsch.
EOF

# --- security suite, compressed with gzip: the highest beta, without Tag --------------------
SEC="$L/example.org_debian-security_dists_test-security_main"
gzip -c > "${SEC}_binary-amd64_Packages.gz" <<'EOF'
Package: beta
Version: 1.10-1
Installed-Size: 12
Maintainer: Bob <bob@example.org>
Architecture: all
Depends: libc6
Description: Beta library
Description-md5: 66666666666666666666666666666666
Section: libs
Size: 1002
EOF
cat > "${SEC}_i18n_Translation-en" <<'EOF'
Package: beta
Description-md5: 66666666666666666666666666666666
Description-en: Beta library
 Beta does things.
 .
 .
EOF

# --- a list in a compression this program does not read: skipped with a warning ------------
printf 'not bzip2 data\n' > "$L/example.org_debian_dists_old_main_binary-amd64_Packages.bz2"

# --- run --------------------------------------------------------------------------------------
if "$BIN" --lists "$L" --out "$TMP/out.jsonl" 2> "$TMP/err.txt"; then
    ok
else
    ko "converter exited with status $?"
    cat "$TMP/err.txt" >&2
fi
if "$BIN" --lists "$L" > "$TMP/out2.jsonl" 2> /dev/null && cmp -s "$TMP/out.jsonl" "$TMP/out2.jsonl"
then
    ok
else
    ko "stdout output differs from --out output (or run is not deterministic)"
fi
if grep -q 'Packages.bz2' "$TMP/err.txt"; then
    ok
else
    ko "no warning about the skipped .bz2 list"
fi
if grep -q '3 packages written, 2 with a long description' "$TMP/err.txt"; then
    ok
else
    ko "unexpected summary: $(cat "$TMP/err.txt")"
fi

"$BIN" --bogus > /dev/null 2>&1
if [ $? -eq 2 ]; then ok; else ko "bad usage does not exit with 2"; fi
"$BIN" --lists "$TMP/missing" > /dev/null 2>&1
if [ $? -eq 1 ]; then ok; else ko "missing lists directory does not exit with 1"; fi

# --- check the records ------------------------------------------------------------------------
LONGDEP="$LONGDEP" python3 - "$TMP/out.jsonl" <<'EOF'
import json, os, sys

keys = ["id", "title", "description", "section", "tags", "version", "installed_size_kb",
        "download_size_b", "maintainer", "homepage", "depends", "source"]
expected = [
    {"id": "alpha", "title": "Alpha tool for testing",
     "description": "Alpha is the first line of the long description,\n"
                    "continued on a second line.\n\nSecond paragraph:\n  * an indented item\n"
                    "\nLast line.",
     "section": "utils",
     "tags": ["devel::testing", "role::program", "suite::souk", "use::checking",
              "works-with::text"],
     "version": "1.0-1", "installed_size_kb": 120, "download_size_b": 34567,
     "maintainer": "Alice Example <alice@example.org>", "homepage": "https://alpha.example.org/",
     "depends": "libc6 (>= 2.34), libfoo1 (>= 1.0), libbar2", "source": "alpha-src"},
    {"id": "beta", "title": "Beta library", "description": "Beta does things.",
     "section": "libs", "tags": ["role::shared-lib", "implemented-in::c"],
     "version": "1.10-1", "installed_size_kb": 12, "download_size_b": 1002,
     "maintainer": "Bob <bob@example.org>", "homepage": "", "depends": "libc6",
     "source": "beta"},
    {"id": "gamma", "title": "Gamma without a translation", "description": "",
     "section": "misc", "tags": [], "version": "2:0.1", "installed_size_kb": 5,
     "download_size_b": 999, "maintainer": "G\ufffdrard <gerard@example.org>", "homepage": "",
     "depends": os.environ["LONGDEP"], "source": "gamma"},
]
bad = 0
with open(sys.argv[1], "rb") as f:
    raw = f.read()
try:
    lines = raw.decode("utf-8").split("\n")
except UnicodeDecodeError as e:
    print("FAIL: output is not valid UTF-8: %s" % e, file=sys.stderr)
    sys.exit(1)
if lines[-1] != "":
    print("FAIL: output does not end with a newline", file=sys.stderr)
    bad += 1
lines = lines[:-1]
if len(lines) != len(expected):
    print("FAIL: %d records, expected %d" % (len(lines), len(expected)), file=sys.stderr)
    bad += 1
for line, exp in zip(lines, expected):
    rec = json.loads(line)
    if list(rec.keys()) != keys:
        print("FAIL: %s: key order %s" % (exp["id"], list(rec.keys())), file=sys.stderr)
        bad += 1
    for k in keys:
        if rec.get(k) != exp[k] or type(rec.get(k)) is not type(exp[k]):
            print("FAIL: %s.%s = %r, expected %r" % (exp["id"], k, str(rec.get(k))[:200],
                                                     str(exp[k])[:200]), file=sys.stderr)
            bad += 1
sys.exit(1 if bad else 0)
EOF
if [ $? -eq 0 ]; then ok; else ko "record contents (see above)"; fi

echo "test_apt_catalog: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
