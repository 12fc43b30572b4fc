#!/usr/bin/env python3
# test_apt_catalog_edges.py - souk-apt-catalog (indexer/souk_apt_catalog.c) on what
# tests/test_apt_catalog.sh leaves out, each expectation from outside the program:
#   - which version wins when a package is listed twice: dpkg's own order
#     (`dpkg --compare-versions`), over pairs of tricky versions (epochs, '~', letters, leading
#     zeros, revisions); equal versions keep the list read first;
#   - invalid UTF-8 repaired as Python's decoder does (errors="replace": one U+FFFD per maximal
#     invalid subpart, the Unicode practice);
#   - stanza syntax: comments, CRLF, a continuation line before any field, a line without a
#     colon, stanzas without Package or without Description-md5 (counted as malformed);
#     a long description inside Packages, Description-en in Packages, tags with empty items,
#     malformed sizes (0), an empty Source;
#   - lists: every decompressor it names (lz4, zstd, gzip, xz) gives the same records as the
#     plain list; the plain variant wins over a compressed one; a missing decompressor skips the
#     list; a failing one (corrupt data) exits 1 and leaves an existing --out file as it was;
#     an unsupported suffix is skipped, an unrelated file ignored; a directory named "-x";
#   - usage: --help and -h (exit 0), --lists or --out without a value (exit 2), an --out that
#     cannot be written (exit 1), /dev/full (exit 1), an empty directory (a warning, exit 0).
# Usage: tests/test_apt_catalog_edges.py PATH/TO/souk-apt-catalog

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else ""
if not os.access(BIN, os.X_OK):
    print("usage: test_apt_catalog_edges.py PATH/TO/souk-apt-catalog", file=sys.stderr)
    sys.exit(2)

failed = 0
passed = 0


def check(cond, what):
    global failed, passed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what, file=sys.stderr)


def run(args, env=None, cwd=None):
    p = subprocess.run([BIN] + args, capture_output=True, env=env, cwd=cwd)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def records(out):
    return [json.loads(line) for line in out.decode("utf-8").splitlines()]


def stanza(**fields):
    """A Packages stanza; keys use _ for - (Installed_Size)."""
    return "".join("%s: %s\n" % (k.replace("_", "-"), v) for k, v in fields.items()) + "\n"


def dpkg_gt(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def dpkg_eq(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "eq", b]).returncode == 0


tmp = tempfile.mkdtemp()
try:
    # ---------------------------------------------------------------- version order (dpkg)
    # Only versions dpkg accepts (the program does not validate them: "1.0-" or "a1.0" have no
    # order to compare with).
    versions = ["1.0", "1.0-1", "1:0.9", "0:1.0", "1.0~rc1", "1.0~rc1-1", "1.0~", "1.0~~",
                "1.0+b1", "1.0a", "1.0.0", "01.0", "1.00", "1.0-0", "1.0-10", "1.0-9",
                "1.0-1~bpo12+1", "1.0-1+deb12u1", "2:0", "1.0-a", "1.0.", "1.0+", "1.0-1.1",
                "10.0", "9.9", "1.0a1", "1.0b", "1.0-1a", "1:1.0-1", "1.0-01", "0.0",
                "1.2.3-4ubuntu1", "1.2.3-4", "3.0~beta.1", "3.0~beta2", "1.0+dfsg-1",
                "1.0+dfsg1-1", "4.19.0-21"]
    rng = random.Random(24)
    pairs = [(a, b) for a in versions for b in versions if a != b]
    rng.shuffle(pairs)
    pairs = pairs[:160] + [("1.0", "1.00"), ("1.00", "1.0"), ("01.0", "1.0"), ("0:1.0", "1.0")]
    L = os.path.join(tmp, "ver")
    os.mkdir(L)
    first, second = [], []
    for i, (a, b) in enumerate(pairs):
        first.append(stanza(Package="p%03d" % i, Version=a, Description="first"))
        second.append(stanza(Package="p%03d" % i, Version=b, Description="second"))
    # Lists are read in byte order of their names: "a_..." before "b_...".
    with open(os.path.join(L, "a_main_binary-amd64_Packages"), "w") as f:
        f.write("".join(first))
    with open(os.path.join(L, "b_main_binary-amd64_Packages"), "w") as f:
        f.write("".join(second))
    rc, out, err = run(["--lists", L])
    check(rc == 0, "versions: exit %d: %s" % (rc, err))
    recs = {r["id"]: r for r in records(out)} if rc == 0 else {}
    wrong = 0
    for i, (a, b) in enumerate(pairs):
        want = b if dpkg_gt(b, a) else a  # equal: the first read wins
        r = recs.get("p%03d" % i)
        if r is None or r["version"] != want or r["title"] != ("first" if want == a else "second"):
            wrong += 1
            print("  %s vs %s: got %s, dpkg says %s" % (a, b, r and r["version"], want),
                  file=sys.stderr)
    check(wrong == 0 and len(recs) == len(pairs), "versions: %d of %d pairs differ from dpkg"
          % (wrong, len(pairs)))
    check(dpkg_eq("1.0", "1.00"), "dpkg itself: 1.0 = 1.00")

    # ---------------------------------------------------------------- UTF-8 repair
    L = os.path.join(tmp, "utf8")
    os.mkdir(L)
    samples = [b"ok \xc3\xa9 \xf0\x9f\x98\x80", b"overlong \xc0\xaf", b"overlong3 \xe0\x80\xaf",
               b"surrogate \xed\xa0\x80 end", b"above max \xf4\x90\x80\x80", b"cut4 \xf0\x9f\x98",
               b"cut3 \xe2\x82x", b"ff \xff", b"f8 \xf8\x88\x80\x80\x80", b"lone cont \x80\xbf",
               b"mixed \xe2\x82\xac\xe2\x82 \xf0\x90\x80\x80\xc3", b"e0 ok \xe0\xa0\x80",
               b"ed ok \xed\x9f\xbf", b"f4 ok \xf4\x8f\xbf\xbf", b"f0 low \xf0\x8f\xbf\xbf"]
    with open(os.path.join(L, "x_main_binary-amd64_Packages"), "wb") as f:
        for i, s in enumerate(samples):
            f.write(b"Package: u%02d\nVersion: 1\nMaintainer: " % i + s + b"\nDescription: d\n\n")
    rc, out, err = run(["--lists", L])
    check(rc == 0, "utf8: exit %d" % rc)
    recs = {r["id"]: r for r in records(out)} if rc == 0 else {}
    for i, s in enumerate(samples):
        want = s.decode("utf-8", "replace")
        got = recs.get("u%02d" % i, {}).get("maintainer")
        check(got == want, "utf8 %r: got %r, Python's decoder gives %r" % (s, got, want))
    invalid = sum(1 for s in samples if s.decode("utf-8", "replace") != s.decode("latin-1")
                  and "\ufffd" in s.decode("utf-8", "replace"))
    check(("%d strings with invalid UTF-8 repaired" % invalid) in err,
          "utf8: summary does not count %d repaired strings: %s" % (invalid, err))

    # ---------------------------------------------------------------- stanza syntax
    L = os.path.join(tmp, "syntax")
    os.mkdir(L)
    text = (" continuation before any field\r\n"
            "# a comment\r\n"
            "Package: crlf\r\n"
            "Version: 1.0\r\n"
            "Installed-Size: lots\r\n"
            "Size: -5\r\n"
            "Source:\r\n"
            "Tag: a::b,, ,\tc::d ,\r\n"
            "no colon on this line\r\n"
            " and a continuation after it\r\n"
            "Description: Inline title   \r\n"
            " First line of the long text.\r\n"
            " .\r\n"
            " Second paragraph.\r\n"
            "\r\n\r\n\r\n"
            "Version: 2.0\n"
            "Description: a stanza without Package\n"
            "\n"
            "Package: en\n"
            "Version: 1\n"
            "Description-en: Title from Description-en\n"
            " Its body.\n"
            "\n"
            "Package: bare\n"
            "Version: 1\n")  # no description at all, and no blank line at the end
    with open(os.path.join(L, "s_main_binary-amd64_Packages"), "w") as f:
        f.write(text)
    with open(os.path.join(L, "s_main_i18n_Translation-en"), "w") as f:
        f.write("Package: crlf\nDescription-en: no md5 here\n\n"
                "Description-md5: 0123\nDescription-en: no Package\n\n")
    rc, out, err = run(["--lists", L])
    check(rc == 0, "syntax: exit %d: %s" % (rc, err))
    recs = {r["id"]: r for r in records(out)} if rc == 0 else {}
    c = recs.get("crlf", {})
    check(c.get("title") == "Inline title", "syntax: title %r" % c.get("title"))
    check(c.get("description") == "First line of the long text.\n\nSecond paragraph.",
          "syntax: description %r" % c.get("description"))
    check(c.get("tags") == ["a::b", "c::d"], "syntax: tags %r" % c.get("tags"))
    check(c.get("installed_size_kb") == 0 and c.get("download_size_b") == 0,
          "syntax: malformed sizes %r %r" % (c.get("installed_size_kb"), c.get("download_size_b")))
    check(c.get("source") == "crlf", "syntax: empty Source gives the package name: %r"
          % c.get("source"))
    e = recs.get("en", {})
    check(e.get("title") == "Title from Description-en" and e.get("description") == "Its body.",
          "syntax: Description-en in Packages: %r" % e)
    b = recs.get("bare", {})
    check(b.get("title") == "" and b.get("description") == "" and b.get("tags") == [],
          "syntax: a package without description: %r" % b)
    check(sorted(recs) == ["bare", "crlf", "en"], "syntax: records %r" % sorted(recs))
    check("continuation line outside a field" in err and "line without a field name" in err,
          "syntax: warnings missing: %s" % err)
    check("(3 malformed)" in err and "1 without any" in err,
          "syntax: summary: %s" % err)

    # ---------------------------------------------------------------- compressed lists
    L = os.path.join(tmp, "plain")
    os.mkdir(L)
    body = "".join(stanza(Package="z%d" % i, Version="1.%d" % i, Description="zip %d" % i,
                          Section="main/utils") for i in range(5))
    with open(os.path.join(L, "c_main_binary-amd64_Packages"), "w") as f:
        f.write(body)
    rc, ref, _ = run(["--lists", L])
    check(rc == 0 and len(records(ref)) == 5, "plain list")
    for prog, ext in (("lz4", ".lz4"), ("zstd", ".zst"), ("gzip", ".gz"), ("xz", ".xz")):
        if not shutil.which(prog):
            print("SKIP: %s is not installed" % prog, file=sys.stderr)
            check(os.environ.get("SOUK_NO_SKIP", "0") in ("", "0"), "%s missing" % prog)
            continue
        D = os.path.join(tmp, "c" + prog)
        os.mkdir(D)
        comp = subprocess.run([prog, "-c"], input=body.encode(), capture_output=True).stdout
        with open(os.path.join(D, "c_main_binary-amd64_Packages" + ext), "wb") as f:
            f.write(comp)
        rc, out, err = run(["--lists", D])
        check(rc == 0 and out == ref, "%s list: exit %d, %s" % (prog, rc, err))
        # The plain variant beside it wins (the compressed one says something else).
        other = subprocess.run([prog, "-c"], input=body.replace("zip", "other").encode(),
                               capture_output=True).stdout
        with open(os.path.join(D, "c_main_binary-amd64_Packages" + ext), "wb") as f:
            f.write(other)
        shutil.copy(os.path.join(L, "c_main_binary-amd64_Packages"), D)
        rc, out, err = run(["--lists", D])
        check(rc == 0 and out == ref and "another variant of this list is read instead" in err,
              "%s: plain variant does not win: %s" % (prog, err))
    # A decompressor that is not on PATH: the list is skipped with a warning, exit 0.
    D = os.path.join(tmp, "nopath")
    os.mkdir(D)
    with open(os.path.join(D, "c_main_binary-amd64_Packages.lz4"), "wb") as f:
        f.write(b"whatever")
    env = dict(os.environ, PATH=os.path.join(tmp, "empty-path"))
    rc, out, err = run(["--lists", D], env=env)
    check(rc == 0 and out == b"" and "decompressor lz4 not found, skipped" in err,
          "missing decompressor: exit %d: %s" % (rc, err))
    # A failing decompressor: exit 1, and an existing --out stays as it was.
    D = os.path.join(tmp, "corrupt")
    os.mkdir(D)
    with open(os.path.join(D, "c_main_binary-amd64_Packages.gz"), "wb") as f:
        f.write(b"\x1f\x8b\x08\x00 this is not gzip data")
    keep = os.path.join(tmp, "keep.jsonl")
    with open(keep, "w") as f:
        f.write("old catalog\n")
    rc, out, err = run(["--lists", D, "--out", keep])
    check(rc == 1 and "gzip failed" in err, "corrupt gzip: exit %d: %s" % (rc, err))
    check(open(keep).read() == "old catalog\n", "corrupt gzip: --out was touched")
    # Unsupported suffixes are skipped with a warning; unrelated names ignored silently; the
    # suffix must be the last one in the name.
    D = os.path.join(tmp, "names")
    os.mkdir(D)
    for n in ("c_main_binary-amd64_Packages.old", "c_main_binary-amd64_Packagesfoo",
              "c_Packages_main_binary-amd64_Packages.bz2", "README", "lock"):
        with open(os.path.join(D, n), "w") as f:
            f.write(body)
    with open(os.path.join(D, "d_Packages_x_binary-amd64_Packages"), "w") as f:
        f.write(body)
    rc, out, err = run(["--lists", D])
    check(rc == 0 and out == ref, "names: exit %d, %d records" % (rc, len(out.splitlines())))
    check(err.count("unsupported compression, skipped") == 2 and "Packagesfoo" not in err and
          "README" not in err, "names: warnings: %s" % err)
    # A directory whose name starts with '-', read through a decompressor.
    os.mkdir(os.path.join(tmp, "-x"))
    with open(os.path.join(tmp, "-x", "c_main_binary-amd64_Packages.gz"), "wb") as f:
        f.write(subprocess.run(["gzip", "-c"], input=body.encode(), capture_output=True).stdout)
    rc, out, err = run(["--lists", "-x"], cwd=tmp)
    check(rc == 0 and out == ref, "directory -x: exit %d: %s" % (rc, err))

    # ---------------------------------------------------------------- usage and output errors
    rc, out, err = run(["--help"])
    check(rc == 0 and b"usage: souk-apt-catalog" in out, "--help: exit %d" % rc)
    rc, out, err = run(["-h"])
    check(rc == 0 and b"--lists DIR" in out, "-h: exit %d" % rc)
    for args in (["--lists"], ["--out"], ["--lists", L, "--out"], ["extra"]):
        rc, out, err = run(args)
        check(rc == 2 and "usage:" in err, "%r: exit %d" % (args, rc))
    rc, out, err = run(["--lists", L, "--out", os.path.join(tmp, "no", "such", "out.jsonl")])
    check(rc == 1 and "no/such/out.jsonl" in err, "unwritable --out: exit %d" % rc)
    if os.path.exists("/dev/full"):
        rc, out, err = run(["--lists", L, "--out", "/dev/full"])
        check(rc == 1 and ("write error" in err or "/dev/full" in err),
              "/dev/full: exit %d: %s" % (rc, err))
    E = os.path.join(tmp, "empty")
    os.mkdir(E)
    rc, out, err = run(["--lists", E])
    check(rc == 0 and out == b"" and "no *_Packages lists found" in err,
          "empty directory: exit %d: %s" % (rc, err))
    # An unreadable list (a directory with the list's name): exit 1.
    U = os.path.join(tmp, "unreadable")
    os.mkdir(U)
    os.mkdir(os.path.join(U, "c_main_binary-amd64_Packages"))
    rc, out, err = run(["--lists", U])
    check(rc == 1, "unreadable list: exit %d: %s" % (rc, err))
finally:
    shutil.rmtree(tmp)

print("test_apt_catalog_edges: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
