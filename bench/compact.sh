#!/usr/bin/env bash
# The lake before and after compaction: objects, bytes, and the wall time
# of queries (the whole eventlake query process, DuckDB included, best of
# 3), for a lake landed the way the Lambda lands it (batches of 10,000
# events) plus a replay of its first 10% (at-least-once duplicates).
# The same lake is compacted twice: into NDJSON gzip (its own format) and
# into Parquet. Each compaction prints its wall time, the events it read
# per second (landed events, duplicates included) and its peak RSS.
#
# usage: bench/compact.sh [N]      (default 1000000 events)
# env:   SHAPE=daily (default: ~20 event types x 2 days, ~40 partitions) or
#        one (every event renamed to one type, --layout type: one partition
#        holding them all); RUN_QUERIES=0 skips the queries (compaction only);
#        COMPACT_FLAGS are added to both compactions (e.g. --max-round-bytes 128MiB).
# Any step that fails stops the script with its output and a non-zero exit.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
N=${1:-1000000}
SHAPE=${SHAPE:-daily}
OUT=${BENCH_OUT:-$(mktemp -d)}
trap '[ -n "${BENCH_OUT:-}" ] || rm -rf "$OUT"' EXIT
go build -o "$OUT/eventlake" ./cmd/eventlake
EL="$OUT/eventlake"

die() { echo "bench/compact.sh: $*" >&2; exit 1; }
# measured CMD...: wall_s user_s sys_s peak_rss_kib of CMD (bench/measure.py);
# on failure, CMD's output and a non-zero exit.
measured() {
  local log="$OUT/measure.log" out
  if ! out=$(python3 bench/measure.py "$@" 2>"$log"); then
    cat "$log" >&2
    die "failed: $*"
  fi
  [ -n "$out" ] || die "no measurement from: $*"
  echo "$out"
}

$EL gen -n "$N" --seed 42 --bad 0.01 --dup 0.01 --quiet --lake "$OUT/events.jsonl"
LAYOUT=daily
case "$SHAPE" in
daily) ;;
one)
  LAYOUT=type
  sed -i -E 's/"event_name":"[^"]*"/"event_name":"payment:order:completed"/' "$OUT/events.jsonl" ;;
*) die "SHAPE=$SHAPE: want daily or one" ;;
esac
head -n $((N / 10)) "$OUT/events.jsonl" >"$OUT/replay.jsonl"
$EL run --from "$OUT/events.jsonl" --lake "$OUT/small" --layout "$LAYOUT" --batch-events 10000 --quiet >/dev/null
$EL run --from "$OUT/replay.jsonl" --lake "$OUT/small" --layout "$LAYOUT" --batch-events 10000 --quiet >/dev/null
cp -a "$OUT/small" "$OUT/jsonl"
cp -a "$OUT/small" "$OUT/parquet"

QUERIES=(
  "SELECT count(*) AS events, count(DISTINCT event_uuid) AS distinct_uuids FROM events"
  "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
  "SELECT event_subtype, count(*) FROM events WHERE event_type = 'payment' AND created_date = '2026-11-01' GROUP BY 1"
)
# The type layout has no created_date partition column.
[ "$LAYOUT" = daily ] || QUERIES[2]="SELECT event_subtype, count(*) FROM events WHERE event_type = 'payment' GROUP BY 1"

shape() { # objects, MB under event_type=
  local n b
  n=$(find "$1" -path "$1/event_type=*" -type f | wc -l)
  b=$(find "$1" -path "$1/event_type=*" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.1f", s/1e6}')
  echo "$n $b"
}
best() { # best wall time of 3 runs of a query
  local best=999999 s
  for _ in 1 2 3; do
    s=$(measured "$EL" query --lake "$1" --format csv "$2" | cut -d' ' -f1)
    best=$(python3 -c "print(min($best, $s))")
  done
  echo "$best"
}
answer() { "$EL" query --lake "$1" --format csv "${QUERIES[0]}" | tail -1; }
# compact LAKE [FLAGS...]: compacts LAKE, prints wall_s, events/s (landed
# events read), peak RSS in MB; checks the run summary has no error.
compact() {
  local lake=$1 m wall rss events
  shift
  # shellcheck disable=SC2086 # COMPACT_FLAGS is a list of flags
  m=$(measured "$EL" compact --lake "$lake" --older-than 0 --grace 0 --json ${COMPACT_FLAGS:-} "$@")
  # measure.py sends the command's stdout (the JSON summary) to its log.
  events=$(python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
if s.get("Error"): sys.exit("compact: " + s["Error"])
print(s["Events"] + s["Duplicates"])' <"$OUT/measure.log")
  read -r wall _ _ rss <<<"$m"
  python3 -c "print('%.3f %d %.0f' % ($wall, $events / $wall, $rss / 1024))"
}

landed=$(( $(wc -l <"$OUT/events.jsonl") + $(wc -l <"$OUT/replay.jsonl") ))
echo "== compaction of $N generated events (+10% replayed; $landed lines), shape $SHAPE, --older-than 0 --grace 0 ${COMPACT_FLAGS:-}, $(nproc) cores"
printf '%-10s %8s %10s %12s\n' into wall_s events/s peak_rss_MB
j=$(compact "$OUT/jsonl")
read -r jt jr jm <<<"$j"
printf '%-10s %8s %10s %12s\n' jsonl.gz "$jt" "$jr" "$jm"
# Nothing left to do with the same flags: checks idempotence.
# shellcheck disable=SC2086
"$EL" compact --lake "$OUT/jsonl" --older-than 0 --grace 0 --json ${COMPACT_FLAGS:-} >"$OUT/again.json"
python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit("second run: %s" % s) if s["Rounds"] or s.get("Error") else None' "$OUT/again.json"
p=$(compact "$OUT/parquet" --format parquet)
read -r pt pr pm <<<"$p"
printf '%-10s %8s %10s %12s\n' parquet "$pt" "$pr" "$pm"
[ "${RUN_QUERIES:-1}" = 0 ] && exit 0
echo
printf '%-22s %8s %9s %10s %10s %10s  %s\n' lake objects MB q1_s q2_s q3_s "events,distinct"
for l in small jsonl parquet; do
  # Each in its own assignment: a failure there stops the script.
  sh=$(shape "$OUT/$l")
  q1=$(best "$OUT/$l" "${QUERIES[0]}")
  q2=$(best "$OUT/$l" "${QUERIES[1]}")
  q3=$(best "$OUT/$l" "${QUERIES[2]}")
  a=$(answer "$OUT/$l")
  read -r n b <<<"$sh"
  printf '%-22s %8s %9s %10s %10s %10s  %s\n' "$l" "$n" "$b" "$q1" "$q2" "$q3" "$a"
done
echo
echo "q1: ${QUERIES[0]}"
echo "q2: ${QUERIES[1]}"
echo "q3: ${QUERIES[2]}"
