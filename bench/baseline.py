#!/usr/bin/env python3
"""The baseline: the same rules as eventlake, written the plain way in Python 3.

json.loads / json.dumps per event, one open file per partition
(event_type=<t>/created_date=<YYYY-MM-DD>/), bad events to one dead-letter
file. No compression. Used by bench/run.sh to put eventlake's numbers beside
what a straightforward implementation does on the same machine.

usage: baseline.py INPUT.jsonl OUTPUT_DIR
"""
import datetime
import json
import os
import sys
from urllib.parse import quote


def created(v):
    if isinstance(v, str):
        try:
            v = json.loads(v) if v and (v[0] == "-" or v[0].isdigit()) else None
        except ValueError:
            return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        return None
    frac = isinstance(v, float)
    a = abs(v)
    if a >= 1e17:
        v, frac = v / 1e9, True
    elif a >= 1e14:
        v, frac = v / 1e6, True
    elif a >= 1e11:
        v, frac = v / 1e3, True
    try:
        t = datetime.datetime.fromtimestamp(v, tz=datetime.timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        s += ".%03d" % (t.microsecond // 1000)
    return s + "Z", t.strftime("%Y-%m-%d")


def main():
    src, out = sys.argv[1], sys.argv[2]
    files = {}
    dead = None
    seen = set()
    n = written = bad = dups = 0
    with open(src, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            n += 1
            reason = None
            try:
                ev = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                reason = "invalid_json"
            else:
                if not isinstance(ev, dict):
                    reason = "not_object"
                elif not isinstance(ev.get("event_uuid"), str) or not ev["event_uuid"]:
                    reason = "missing_event_uuid"
                elif not isinstance(ev.get("event_name"), str):
                    reason = "missing_event_name"
                else:
                    parts = ev["event_name"].split(":")
                    if len(parts) < 2 or not parts[0] or not parts[1]:
                        reason = "bad_event_name"
                    else:
                        c = created(ev.get("created_at"))
                        if c is None:
                            reason = "bad_created_at"
            if reason:
                bad += 1
                if dead is None:
                    os.makedirs(os.path.join(out, "_dead_letters"), exist_ok=True)
                    dead = open(os.path.join(out, "_dead_letters", "part.jsonl"), "w", encoding="utf-8")
                dead.write(json.dumps({"reason": reason, "source": "%s:%d" % (src, lineno),
                                       "raw": raw.decode("utf-8", "replace").rstrip("\n")}) + "\n")
                continue
            if ev["event_uuid"] in seen:
                dups += 1
                continue
            seen.add(ev["event_uuid"])
            ev.pop("created_datetime", None)
            ev.pop("event_type", None)
            ev.pop("event_subtype", None)
            ev["created_datetime"], day = c
            ev["event_type"], ev["event_subtype"] = parts[0], parts[1]
            key = (parts[0], day)
            fh = files.get(key)
            if fh is None:
                d = os.path.join(out, "event_type=" + quote(parts[0], safe=""), "created_date=" + day)
                os.makedirs(d, exist_ok=True)
                fh = files[key] = open(os.path.join(d, "part.jsonl"), "w", encoding="utf-8")
            fh.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
            written += 1
    for fh in files.values():
        fh.close()
    if dead:
        dead.close()
    print("events in %d, written %d, dead letters %d, duplicates %d" % (n, written, bad, dups), file=sys.stderr)


if __name__ == "__main__":
    main()
