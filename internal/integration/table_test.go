package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	itable "github.com/apache/iceberg-go/table"
	"github.com/aws/aws-lambda-go/events"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/sqs"
	"github.com/eventlake/eventlake/internal/table"
	"github.com/eventlake/eventlake/internal/table/tableurl"
	"github.com/eventlake/eventlake/internal/testservers"
)

const tableURL = "glue://eventlake/events?warehouse=s3://lake/warehouse"

// tableWorld is a world whose function lands into an Iceberg table in the
// Glue stand-in, its files in gofakes3: the bootstrap built with -tags
// iceberg, configured as deploy/terraform configures it.
type tableWorld struct {
	*world
	glue *testservers.Glue
	env  map[string]string
}

func newTableWorld(t *testing.T) *tableWorld {
	w := &tableWorld{world: newServers(t), glue: testservers.NewGlue(t)}
	// The test process reads the table through the same variables.
	t.Setenv("AWS_ENDPOINT_URL_GLUE", w.glue.URL)
	t.Setenv("AWS_ENDPOINT_URL_S3", w.s3.URL)
	w.env = w.functionEnv()
	w.env["EVENTLAKE_TABLE"] = tableURL
	w.env["AWS_ENDPOINT_URL_GLUE"] = w.glue.URL
	w.invoke = w.lambda()
	return w
}

// lambda starts one more execution environment of the table function.
func (w *tableWorld) lambda() string {
	return testservers.LambdaOf(w.t, testservers.Bootstrap(w.t, "iceberg"), w.env)
}

// read reads the table back with iceberg-go through the Glue catalog:
// event_uuid -> the partition folders of the data files holding it, as
// lake-like keys (event_type=T/created_date=D/files) so that world.check
// applies; and the number of snapshots.
func (w *tableWorld) read() (map[string][]string, int) {
	w.t.Helper()
	ctx := context.Background()
	tbl := w.load()
	sc := tbl.Scan(itable.WithSelectedFields(table.ColUUID))
	tasks, err := sc.PlanFiles(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	// One read per partition folder (each ReadTasks call opens its own S3
	// client): a row read from a folder's files is in that partition.
	byDir := map[string][]itable.FileScanTask{}
	var dirs []string
	for _, task := range tasks {
		path := task.File.FilePath()
		if !strings.HasPrefix(path, "s3://lake/warehouse/eventlake.db/events/data/") {
			w.t.Fatalf("data file %s outside the table's folder", path)
		}
		dir := path[:strings.LastIndexByte(path, '/')+1]
		if byDir[dir] == nil {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], task)
	}
	out := map[string][]string{}
	for _, dir := range dirs {
		key := lakeKey(dir + "files")
		_, recs, err := sc.ReadTasks(ctx, byDir[dir])
		if err != nil {
			w.t.Fatal(err)
		}
		for rec, err := range recs {
			if err != nil {
				w.t.Fatal(err)
			}
			col := rec.Column(rec.Schema().FieldIndices(table.ColUUID)[0]).(*array.String)
			for i := range col.Len() {
				out[col.Value(i)] = append(out[col.Value(i)], key)
			}
			rec.Release()
		}
	}
	return out, len(tbl.Metadata().Snapshots())
}

// load loads the table with iceberg-go through the Glue catalog.
func (w *tableWorld) load() *itable.Table {
	w.t.Helper()
	ctx := context.Background()
	loc, err := tableurl.Parse(tableURL)
	if err != nil {
		w.t.Fatal(err)
	}
	cat, err := tableurl.Catalog(ctx, loc, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, itable.Identifier{"eventlake", "events"})
	if err != nil {
		w.t.Fatal(err)
	}
	return tbl
}

// lakeKey turns .../data/event_type=T/created_datetime_day=D/<file> into
// event_type=T/created_date=D/<file>, the lake's partition folders.
func lakeKey(path string) string {
	_, rel, _ := strings.Cut(path, "/data/")
	parts := strings.Split(rel, "/")
	if len(parts) == 3 && strings.HasPrefix(parts[1], "created_datetime_day=") {
		parts[1] = "created_date=" + strings.TrimPrefix(parts[1], "created_datetime_day=")
	}
	return strings.Join(parts, "/")
}

// TestKinesisLambdaGlueTable: events put in Kinesis are consumed by the
// real bootstrap (built with -tags iceberg) under the runtime interface
// emulator, which commits each batch to the Iceberg table in Glue (the
// stand-in) with its files in S3 (gofakes3). Every valid event is in the
// table once, in its partition; bad events are dead letters in the queue.
// Replaying the stream (every batch delivered again, as a retry of a
// partly failed batch is) commits nothing.
func TestKinesisLambdaGlueTable(t *testing.T) {
	w := newTableWorld(t)
	opts := gen.Options{Events: 6000, Seed: 81, Bad: 0.01, Dup: 0.01}
	x := expect(t, opts)
	w.gen(opts, "--to", "kinesis://events", "--create-shards", "2")
	w.consume()
	got, snapshots := w.read()
	dead := w.deadLetters()
	w.check(x, got, dead)
	if n := len(got) + len(dead) + x.dups; n != opts.Events {
		t.Errorf("table %d + dead letters %d + duplicates %d = %d, want %d", len(got), len(dead), x.dups, n, opts.Events)
	}
	if snapshots == 0 || w.glue.Updates.Load() == 0 {
		t.Fatalf("%d snapshots, %d Glue updates", snapshots, w.glue.Updates.Load())
	}
	// Every table file is in S3 below the warehouse; the lake got no event
	// objects (dead letters went to the queue).
	if inLake, _ := w.lakeEvents(); len(inLake) != 0 {
		t.Errorf("%d events landed in the lake's objects too", len(inLake))
	}

	w.consume("--checkpoint", "replay.json")
	again, snapshotsAgain := w.read()
	if snapshotsAgain != snapshots {
		t.Errorf("the replay committed: %d snapshots -> %d", snapshots, snapshotsAgain)
	}
	if len(again) != len(got) {
		t.Errorf("after the replay the table holds %d events, before %d", len(again), len(got))
	}
	for uuid, keys := range again {
		if len(keys) != 1 {
			t.Fatalf("after the replay, event %s is in %d files", uuid, len(keys))
		}
	}
}

// kinesisPayload is a Kinesis event as the event source mapping delivers
// it: the lines as records of one shard.
func kinesisPayload(t *testing.T, shard string, lines [][]byte) []byte {
	t.Helper()
	var ev events.KinesisEvent
	for i, l := range lines {
		seq := fmt.Sprintf("4959%052d", i+1)
		var r events.KinesisEventRecord
		r.EventSource, r.EventSourceArn = "aws:kinesis", "arn:aws:kinesis:us-east-1:123456789012:stream/events"
		r.EventID, r.EventName, r.AwsRegion = shard+":"+seq, "aws:kinesis:record", "us-east-1"
		r.Kinesis.SequenceNumber, r.Kinesis.PartitionKey, r.Kinesis.Data = seq, fmt.Sprint(i), l
		r.Kinesis.ApproximateArrivalTimestamp = events.SecondsEpochTime{Time: time.Now()}
		ev.Records = append(ev.Records, r)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invokeKinesis invokes a function with a Kinesis payload and fails the
// test unless every record succeeded.
func invokeKinesis(t *testing.T, url string, payload []byte) {
	resp, err := http.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out events.KinesisEventResponse
	if err := json.Unmarshal(body, &out); err != nil || len(out.BatchItemFailures) != 0 || bytes.Contains(body, []byte("errorMessage")) {
		t.Errorf("function answered %s (%v)", body, err)
	}
}

// TestConcurrentInvocationsCommitToGlue: two execution environments
// (two emulators, as Lambda runs one per concurrent invocation) land two
// shards' batches at once; the stand-in holds their Glue updates until
// both arrived, so one loses the compare-and-swap on VersionId and commits
// again on the new version. Both batches are in the table once. A retry of
// one batch in the other environment commits nothing.
func TestConcurrentInvocationsCommitToGlue(t *testing.T) {
	w := newTableWorld(t)
	second := w.lambda()
	opts := gen.Options{Events: 1000, Seed: 91, Bad: 0.01, Dup: 0.01}
	x := expect(t, opts)
	lines := genLines(t, opts)
	// Duplicates repeat an earlier line of the stream; the function drops
	// them within a batch, not across shards, so a repeat of a line of the
	// first shard is left out of the second.
	half := len(lines) / 2
	inA := map[string]bool{}
	for _, l := range lines[:half] {
		inA[string(l)] = true
	}
	var rest [][]byte
	for _, l := range lines[half:] {
		if !inA[string(l)] {
			rest = append(rest, l)
		}
	}
	a := kinesisPayload(t, "shardId-000000000100", lines[:half])
	b := kinesisPayload(t, "shardId-000000000101", rest)

	// Open the table first (the first invocation of each creates it if
	// absent), so that the held updates are the two commits.
	invokeKinesis(t, w.invoke, kinesisPayload(t, "shardId-000000000099", nil))
	invokeKinesis(t, second, kinesisPayload(t, "shardId-000000000099", nil))
	w.glue.HoldUpdates(2)
	conflicts := w.glue.Conflicts.Load()
	var wg sync.WaitGroup
	wg.Go(func() { invokeKinesis(t, w.invoke, a) })
	wg.Go(func() { invokeKinesis(t, second, b) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if w.glue.Conflicts.Load() == conflicts {
		t.Fatal("the two commits did not conflict in Glue")
	}
	got, snapshots := w.read()
	w.check(x, got, w.deadLetters())
	if snapshots != 2 {
		t.Errorf("%d snapshots, want 2 (one per batch)", snapshots)
	}

	invokeKinesis(t, second, a)
	if _, again := w.read(); again != snapshots {
		t.Errorf("a retry of a committed batch in another environment committed: %d snapshots -> %d", snapshots, again)
	}
}

// genLines is the generator's stream for opts, a line per event.
func genLines(t *testing.T, opts gen.Options) [][]byte {
	t.Helper()
	var lines [][]byte
	if err := gen.Each(opts, func(line []byte, _ gen.Kind) error {
		lines = append(lines, append([]byte(nil), line...))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestKinesisLambdaCommitter: landing functions with
// EVENTLAKE_TABLE_COMMIT_QUEUE_URL stage each batch (data files in S3) and
// send it to the commit queue (fauxqs), committing nothing; the committer,
// the same bootstrap with the handler "commit" under its own emulator, fed
// by the local stand-in of the SQS event source mapping (run --from
// sqs://), commits up to 10 batches a snapshot. A replay of the stream
// before the commit stages every batch twice: every valid event is in the
// table once. A replay after it stages nothing (the table holds the
// batches).
func TestKinesisLambdaCommitter(t *testing.T) {
	w := newTableWorld(t)
	ctx := context.Background()
	sqsAPI, err := sqs.NewAPI(ctx, sqs.Options{Endpoint: w.sqs})
	if err != nil {
		t.Fatal(err)
	}
	queueURL, err := sqs.CreateQueue(ctx, sqsAPI, "table-commits")
	if err != nil {
		t.Fatal(err)
	}
	commitEnv := maps.Clone(w.env)
	commitEnv["_HANDLER"] = "commit"
	w.env["EVENTLAKE_TABLE_COMMIT_QUEUE_URL"] = queueURL
	w.invoke = w.lambda()
	committer := testservers.LambdaOf(t, testservers.Bootstrap(t, "iceberg"), commitEnv)
	queued := func() int {
		out, err := sqsAPI.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: &queueURL,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
		return n
	}
	commit := func() {
		w.run("run", "--from", "sqs://table-commits", "--invoke", committer, "--drain", "--quiet", "--batch-size", "10")
	}

	opts := gen.Options{Events: 6000, Seed: 83, Bad: 0.01, Dup: 0.01}
	x := expect(t, opts)
	w.gen(opts, "--to", "kinesis://events", "--create-shards", "2")
	w.consume()
	staged := queued()
	if _, snapshots := w.read(); snapshots != 0 || staged < 12 {
		t.Fatalf("after landing: %d snapshots, %d staged batches queued; want none committed, a message per batch (12 or more)", snapshots, staged)
	}
	dead := w.deadLetters() // a replay sends them again: at least once
	w.consume("--checkpoint", "replay.json")
	if n := queued(); n != 2*staged {
		t.Fatalf("a replay before the commit: %d messages queued, want %d (every batch again)", n, 2*staged)
	}
	commit()
	got, snapshots := w.read()
	w.check(x, got, dead)
	if n := len(got) + len(dead) + x.dups; n != opts.Events {
		t.Errorf("table %d + dead letters %d + duplicates %d = %d, want %d", len(got), len(dead), x.dups, n, opts.Events)
	}
	if snapshots == 0 || snapshots > (2*staged+9)/10+1 || queued() != 0 {
		t.Fatalf("%d messages committed in %d snapshots, %d left queued; want at most 10 a snapshot", 2*staged, snapshots, queued())
	}
	t.Logf("%d batches staged twice, committed in %d snapshots, %d Glue updates", staged, snapshots, w.glue.Updates.Load())

	w.consume("--checkpoint", "replay2.json")
	if n := queued(); n != 0 {
		t.Errorf("a replay after the commit staged %d batches, want none", n)
	}
	commit()
	again, snapshotsAgain := w.read()
	if snapshotsAgain != snapshots || len(again) != len(got) {
		t.Errorf("after the replay: %d snapshots (before %d), %d events (before %d)", snapshotsAgain, snapshots, len(again), len(got))
	}
}
