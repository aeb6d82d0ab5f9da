#!/usr/bin/env bash
# The lake before and after compaction: objects, bytes, and the wall time
# of queries (the whole eventlake query process, DuckDB included, best of
# 3), for a lake landed the way the Lambda lands it (batches of 10,000
# events) plus a replay of its first 10% (at-least-once duplicates).
# The same lake is compacted twice: into NDJSON gzip (its own format) and
# into Parquet.
#
# usage: bench/compact.sh [N]      (default 1000000 events)
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) fails the script too
cd "$(dirname "$0")/.."
N=${1:-1000000}
OUT=${BENCH_OUT:-$(mktemp -d)}
LOG="$OUT/bench.log" # what the measured commands say (measure.py puts their stdout there too)
trap '[ -z "${BENCH_OUT:-}" ] && rm -rf "$OUT"' EXIT
trap 'echo "bench/compact.sh: line $LINENO failed: $BASH_COMMAND; the end of $LOG:" >&2; tail -n 20 "$LOG" >&2 || true' ERR
: >"$LOG"
go build -o "$OUT/eventlake" ./cmd/eventlake
EL="$OUT/eventlake"
M="python3 bench/measure.py"

$EL gen -n "$N" --seed 42 --bad 0.01 --dup 0.01 --quiet --to "$OUT/events.jsonl"
head -n $((N / 10)) "$OUT/events.jsonl" >"$OUT/replay.jsonl"
$EL run --from "$OUT/events.jsonl" --lake "$OUT/small" --batch-events 10000 --quiet >/dev/null
$EL run --from "$OUT/replay.jsonl" --lake "$OUT/small" --batch-events 10000 --quiet >/dev/null
cp -a "$OUT/small" "$OUT/jsonl"
cp -a "$OUT/small" "$OUT/parquet"

QUERIES=(
  "SELECT count(*) AS events, count(DISTINCT event_uuid) AS distinct_uuids FROM events"
  "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
  "SELECT event_subtype, count(*) FROM events WHERE event_type = 'payment' AND created_date = '2026-11-01' GROUP BY 1"
)

shape() { # objects, MB under event_type=
  local n b
  n=$(find "$1" -path "$1/event_type=*" -type f | wc -l)
  b=$(find "$1" -path "$1/event_type=*" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.1f", s/1e6}')
  echo "$n $b"
}
best() { # best wall time of 3 runs of a query
  local best=999999 s
  for _ in 1 2 3; do
    s=$($M "$EL" query --lake "$1" --format csv "$2" 2>>"$LOG" | tail -1 | cut -d' ' -f1)
    best=$(python3 -c "print(min($best, $s))")
  done
  echo "$best"
}
answer() { "$EL" query --lake "$1" --format csv "${QUERIES[0]}" 2>>"$LOG" | tail -1; }

echo "== compaction (--older-than 0 --grace 0, 2 cores)"
jt=$($M "$EL" compact --lake "$OUT/jsonl" --older-than 0 --grace 0 2>>"$LOG" | cut -d' ' -f1)
again=$($EL compact --lake "$OUT/jsonl" --older-than 0 --grace 0 --json) # nothing left to do: checks idempotence
grep -q '"Rounds": 0' <<<"$again" || { echo "bench/compact.sh: a second compaction found work left: $again" >&2; exit 1; }
pt=$($M "$EL" compact --lake "$OUT/parquet" --older-than 0 --grace 0 --format parquet 2>>"$LOG" | cut -d' ' -f1)
echo "jsonl.gz: ${jt}s   parquet: ${pt}s"
echo
printf '%-22s %8s %9s %10s %10s %10s  %s\n' lake objects MB q1_s q2_s q3_s "events,distinct"
for l in small jsonl parquet; do
  # Each measure in a variable of its own: a failure inside a $(...) given
  # as an argument would not stop the script.
  s=$(shape "$OUT/$l")
  read -r n b <<<"$s"
  q1=$(best "$OUT/$l" "${QUERIES[0]}")
  q2=$(best "$OUT/$l" "${QUERIES[1]}")
  q3=$(best "$OUT/$l" "${QUERIES[2]}")
  a=$(answer "$OUT/$l")
  printf '%-22s %8s %9s %10s %10s %10s  %s\n' "$l" "$n" "$b" "$q1" "$q2" "$q3" "$a"
done
echo
echo "q1: ${QUERIES[0]}"
echo "q2: ${QUERIES[1]}"
echo "q3: ${QUERIES[2]}"
