#!/usr/bin/env python3
"""Mutation check: applies each fault of scripts/mutations.txt (a constant changed, a bound
flipped, a statement dropped) to a scratch copy of HEAD, rebuilds, and runs the tests of that
part; a mutant the tests do not fail survives. Prints one line a mutant and a summary, and exits
1 if any survived or did not apply. Slow (a rebuild and a test run a mutant), so not part of
.ci/run; its last result is in docs/testing.md.

Usage: scripts/mutate.py [--work DIR] [--only REGEX]   (REGEX over the lines, e.g. '^limits')
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument('--work', default=None)
ap.add_argument('--only', default='.')
args = ap.parse_args()
work = args.work or tempfile.mkdtemp(prefix='souk-mutate-')
src, build = os.path.join(work, 'src'), os.path.join(work, 'build')

mutants = []
for n, line in enumerate(open(os.path.join(root, 'scripts', 'mutations.txt')), 1):
    if line.startswith('#') or not line.strip() or not re.search(args.only, line):
        continue
    parts = [p.strip() for p in line.rstrip('\n').split(' | ')]
    if len(parts) != 5:
        sys.exit('scripts/mutations.txt:%d: expected 5 fields separated by " | "' % n)
    area, path, find, repl, tests = parts
    mutants.append((n, area, path, find.replace('<NL>', '\n'), repl.replace('<NL>', '\n'), tests))


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


if not os.path.isdir(src):
    run(['git', '-C', root, 'worktree', 'add', '-q', '--detach', src, 'HEAD'], check=True)
    if os.path.exists(os.path.join(root, 'data')):
        os.symlink(os.path.realpath(os.path.join(root, 'data')), os.path.join(src, 'data'))
try:
    run(['cmake', '-S', src, '-B', build, '-DSOUK_WERROR=ON'], check=True)
    if run(['cmake', '--build', build, '-j2']).returncode:
        sys.exit('mutate: the unmutated tree does not build')
    run(['sh', os.path.join(src, 'scripts', 'test-data.sh'), build])
    env = dict(os.environ, SOUK_NO_SKIP='1')
    killed = bad = 0
    for n, area, path, find, repl, tests in mutants:
        f = os.path.join(src, path)
        text = open(f).read()
        if text.count(find) != 1:
            print('DOES NOT APPLY | %s | %s:%d (found %d times)' % (area, path, n, text.count(find)))
            bad += 1
            continue
        open(f, 'w').write(text.replace(find, repl))
        try:
            if run(['cmake', '--build', build, '-j2']).returncode:
                result = 'killed (does not build)'
            else:
                t = run(['ctest', '-R', tests, '--timeout', '900'], cwd=build, env=env)
                ran = re.search(r'tests passed, (\d+) tests failed out of (\d+)', t.stdout)
                if t.returncode == 0:
                    result = 'SURVIVED'
                elif not ran:
                    result = 'ERROR (no test ran: %s)' % tests
                else:
                    failed = sorted(set(re.findall(r'\d+ - (\S+) \(', t.stdout)))
                    result = 'killed by ' + ' '.join(failed)
        finally:
            open(f, 'w').write(text)
        if result.startswith('killed'):
            killed += 1
        else:
            bad += 1
        print('%s | %s | %s | %s' % (result, area, path, ' '.join(repl.split())[:70]), flush=True)
    run(['cmake', '--build', build, '-j2'])
    print('mutation check: %d of %d mutants killed, %d survived or did not apply'
          % (killed, len(mutants), bad))
    sys.exit(1 if bad else 0)
finally:
    if not os.environ.get('SOUK_MUTATE_KEEP'):
        run(['git', '-C', root, 'worktree', 'remove', '--force', src])
