#!/usr/bin/env python3
"""Run a command; print 'wall_s user_s sys_s peak_rss_kib' on stdout.

The command's own stdout goes to stderr. A command that exits non-zero makes
measure.py exit 1 with a message naming it, so a benchmark never reports the
time of a failed run.

usage: measure.py COMMAND [ARGS...]
"""
import resource
import subprocess
import sys
import time

t0 = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=sys.stderr)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
if p.returncode != 0:
    sys.exit("measure: %s exited %d" % (" ".join(sys.argv[1:4]), p.returncode))
print("%.3f %.3f %.3f %d" % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
