#!/usr/bin/env bash
# Throughput through a Kinesis server (kinesalite): gen -> PutRecords, then
# the local event source mapping landing the stream in a folder, once with
# the function in-process and once through the Lambda runtime interface
# emulator running the real bootstrap. Needs scripts/servers/install.
#
# usage: bench/kinesis.sh [N]      (default 100000 events, 4 shards)
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) fails the script too
cd "$(dirname "$0")/.."
N=${1:-100000}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
trap 'echo "bench/kinesis.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
scripts/servers/install >/dev/null
go build -o "$OUT/eventlake" ./cmd/eventlake
go run ./scripts/buildlambda -arch "$(go env GOARCH)" -out "$OUT/dist" >/dev/null   # as deployed
BOOTSTRAP="$OUT/dist/bootstrap-$(go env GOARCH)/bootstrap"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KP=$(port); RP=$(port); AP=$(port)
node scripts/servers/kinesalite.js .cache/npm/node_modules/kinesalite --port "$KP" --createStreamMs 0 --updateStreamMs 0 >"$OUT/kinesalite.log" 2>&1 &
EVENTLAKE_LAKE_URL="file://$OUT/lake-invoke" AWS_LAMBDA_FUNCTION_TIMEOUT=300 \
  .cache/bin/aws-lambda-rie --runtime-interface-emulator-address "127.0.0.1:$RP" --runtime-api-address "127.0.0.1:$AP" "$BOOTSTRAP" >"$OUT/rie.log" 2>&1 &
listening() { # port log: wait up to 10 s for a server to listen, else fail with its log
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench/kinesis.sh: nothing listens on port $1 after 10 s; $2 says:" >&2
  tail -n 20 "$2" >&2
  return 1
}
listening "$KP" "$OUT/kinesalite.log"
listening "$RP" "$OUT/rie.log"
export AWS_ENDPOINT_URL_KINESIS="http://127.0.0.1:$KP"
EL="$OUT/eventlake"
echo "== gen $N events -> kinesis://events (4 shards)"
$EL gen -n "$N" --seed 42 --bad 0.01 --dup 0.01 --quiet --to kinesis://events --create-shards 4
echo "== run, function in-process, lake in a folder"
$EL run --from kinesis://events --lake "$OUT/lake-cli" --drain --quiet --batch-size 1000 --checkpoint "$OUT/cp1.json"
echo "== run --invoke, the real bootstrap under the runtime interface emulator"
$EL run --from kinesis://events --invoke "http://127.0.0.1:$RP/2015-03-31/functions/function/invocations" --drain --quiet --batch-size 1000 --checkpoint "$OUT/cp2.json"
cli=$(find "$OUT/lake-cli" -type f | wc -l)
inv=$(find "$OUT/lake-invoke" -type f | wc -l)
echo "== lakes: $cli objects (in-process), $inv objects (invoke)"
