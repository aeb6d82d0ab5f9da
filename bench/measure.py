#!/usr/bin/env python3
"""Run a command; print its wall time (s) and peak RSS (KiB) as 'seconds rss'.

usage: measure.py COMMAND [ARGS...]   (the command's own output goes to stderr)
"""
import os
import resource
import subprocess
import sys
import time

t0 = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=sys.stderr)
wall = time.monotonic() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if p.returncode != 0:
    sys.exit("measure: %s exited %d" % (sys.argv[1], p.returncode))
print("%.3f %d" % (wall, rss))
