package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/eventlake/eventlake/internal/deadletter"
	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/kinesis"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/sqs"
	"github.com/eventlake/eventlake/internal/testservers"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binaries the tests built (once per test process).
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	testservers.RemoveBuilds()
	os.Exit(code)
}

// eventlake builds the CLI once.
func eventlake(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eventlake-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "eventlake")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/eventlake")
		cmd.Dir = testservers.Root(t)
		// The CLI as the README builds it, with cgo (DuckDB), whatever
		// the test binary's mode (scripts/test runs this package with
		// CGO_ENABLED=0, the Lambda bootstrap's).
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// world is one set of servers.
type world struct {
	compactURL string
	t          *testing.T
	kinesis    string
	sqs        string
	s3         *testservers.S3
	dlqURL     string
	invoke     string
	dir        string
	kapi       *awskinesis.Client
	dlq        *sqs.Client
	lakeURL    string
}

func newWorld(t *testing.T) *world {
	w := newServers(t)
	w.invoke = testservers.Lambda(t, w.functionEnv())
	return w
}

// newServers starts the servers of a world, without the function.
func newServers(t *testing.T) *world {
	testservers.Credentials(t)
	w := &world{t: t, dir: t.TempDir()}
	w.kinesis = testservers.Kinesalite(t)
	w.sqs = testservers.Fauxqs(t)
	w.s3 = testservers.NewS3(t, "lake")
	ctx := context.Background()
	sqsAPI, err := sqs.NewAPI(ctx, sqs.Options{Endpoint: w.sqs})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"dead-letters", "ingest", "compact"} {
		url, err := sqs.CreateQueue(ctx, sqsAPI, q)
		if err != nil {
			t.Fatal(err)
		}
		switch q {
		case "dead-letters":
			w.dlqURL = url
		case "compact":
			w.compactURL = url
		}
	}
	if w.dlq, err = sqs.OpenWith(ctx, sqsAPI, "sqs://dead-letters"); err != nil {
		t.Fatal(err)
	}
	if w.kapi, err = kinesis.NewAPI(ctx, kinesis.Options{Endpoint: w.kinesis}); err != nil {
		t.Fatal(err)
	}
	w.lakeURL = "s3://lake/events"
	return w
}

// functionEnv is the landing function's environment in a world.
func (w *world) functionEnv() map[string]string {
	return map[string]string{
		"EVENTLAKE_LAKE_URL":              w.lakeURL,
		"EVENTLAKE_DEAD_LETTER_QUEUE_URL": w.dlqURL,
		"EVENTLAKE_DEADLINE_MARGIN":       "2s",
		"AWS_ENDPOINT_URL_S3":             w.s3.URL,
		"AWS_ENDPOINT_URL_SQS":            w.sqs,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "120",
		"AWS_LAMBDA_FUNCTION_NAME":        "eventlake",
	}
}

// run runs the eventlake binary and returns its stdout; it fails the test
// on a non-zero exit.
func (w *world) run(args ...string) string {
	w.t.Helper()
	cmd := w.cmd(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("eventlake %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	w.t.Logf("eventlake %s\n%s%s", strings.Join(args, " "), out.String(), lastLines(errb.String(), 5))
	return out.String()
}

func (w *world) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(eventlake(w.t), args...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_KINESIS="+w.kinesis, "AWS_ENDPOINT_URL_SQS="+w.sqs, "AWS_ENDPOINT_URL_S3="+w.s3.URL)
	return cmd
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (w *world) consume(extra ...string) string {
	args := append([]string{"run", "--from", "kinesis://events", "--invoke", w.invoke, "--drain", "--quiet", "--batch-size", "500", "--checkpoint", "cp.json"}, extra...)
	return w.run(args...)
}

// expectation of a generated stream, worked out with encoding/json.
type expectation struct {
	good map[string]string // event_uuid -> partition folder
	bad  map[string]event.Reason
	dups int
}

func expect(t *testing.T, optss ...gen.Options) expectation {
	x := expectation{good: map[string]string{}, bad: map[string]event.Reason{}}
	for _, opts := range optss {
		err := gen.Each(opts, func(line []byte, k gen.Kind) error {
			switch {
			case k.Dup:
				x.dups++
			case k.Reason != "":
				x.bad[string(line)] = k.Reason
			default:
				var ev struct {
					UUID      string      `json:"event_uuid"`
					Name      string      `json:"event_name"`
					CreatedAt json.Number `json:"created_at"`
				}
				d := json.NewDecoder(bytes.NewReader(line))
				d.UseNumber()
				if err := d.Decode(&ev); err != nil {
					t.Fatal(err)
				}
				sec, _, _ := strings.Cut(ev.CreatedAt.String(), ".")
				n, _ := new(big.Int).SetString(sec, 10)
				if n.Int64() >= 1e11 {
					n.Div(n, big.NewInt(1000))
				}
				day := time.Unix(n.Int64(), 0).UTC().Format("2006-01-02")
				x.good[ev.UUID] = "event_type=" + strings.Split(ev.Name, ":")[0] + "/created_date=" + day + "/"
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// lakeEvents reads the lake: event_uuid -> keys of the objects holding it.
func (w *world) lakeEvents() (map[string][]string, int) {
	w.t.Helper()
	ctx := context.Background()
	store, err := lakeurl.Open(ctx, w.lakeURL+"?endpoint="+w.s3.URL, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	defer store.Close()
	events := map[string][]string{}
	objects := 0
	for _, err := range store.List(ctx, "") {
		if err != nil {
			w.t.Fatal(err)
		}
		objects++
	}
	// Read what readers see: after a compaction, the compacted objects.
	snap, err := lake.Snapshot(ctx, store, "")
	if err != nil {
		w.t.Fatal(err)
	}
	for _, ent := range snap {
		key := ent.Key
		body, err := lake.ReadAll(ctx, store, key)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			var ev struct {
				UUID, Type, Datetime string
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				w.t.Fatalf("%s: bad line %q", key, line)
			}
			ev.UUID, _ = m["event_uuid"].(string)
			ev.Type, _ = m["event_type"].(string)
			ev.Datetime, _ = m["created_datetime"].(string)
			if !strings.HasPrefix(key, "event_type="+ev.Type+"/created_date="+ev.Datetime[:10]+"/") {
				w.t.Fatalf("event %s (%s, %s) in %s", ev.UUID, ev.Type, ev.Datetime, key)
			}
			events[ev.UUID] = append(events[ev.UUID], key)
		}
	}
	return events, objects
}

// deadLetters drains the dead-letter queue.
func (w *world) deadLetters() []deadletter.Record {
	w.t.Helper()
	ctx := context.Background()
	var out []deadletter.Record
	for empty := 0; empty < 2; {
		msgs, err := w.dlq.Receive(ctx, 10, 0, 30*time.Second)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(msgs) == 0 {
			empty++
			continue
		}
		var handles []string
		for _, m := range msgs {
			r, err := deadletter.Parse(m.Body)
			if err != nil {
				w.t.Fatalf("dead letter %q: %v", m.Body, err)
			}
			out = append(out, r)
			handles = append(handles, m.ReceiptHandle)
		}
		if err := w.dlq.Delete(ctx, handles); err != nil {
			w.t.Fatal(err)
		}
	}
	return out
}

// check: every valid event exactly once in the right partition, every bad
// one a dead letter with its reason.
func (w *world) check(x expectation, events map[string][]string, dead []deadletter.Record) {
	w.t.Helper()
	if len(events) != len(x.good) {
		w.t.Errorf("lake holds %d distinct events, want %d", len(events), len(x.good))
	}
	for uuid, dir := range x.good {
		keys := events[uuid]
		if len(keys) != 1 {
			w.t.Fatalf("event %s stored %d times (%v), want once", uuid, len(keys), keys)
		}
		if !strings.HasPrefix(keys[0], dir) {
			w.t.Fatalf("event %s in %s, want under %s", uuid, keys[0], dir)
		}
	}
	byOriginal := map[string]int{}
	for _, d := range dead {
		want, ok := x.bad[string(d.Original())]
		if !ok {
			w.t.Fatalf("dead letter for an event that is not bad: %q", d.Original())
		}
		if event.Reason(d.Reason) != want {
			w.t.Errorf("dead letter %q: reason %s, want %s", d.Original(), d.Reason, want)
		}
		if !strings.HasPrefix(d.Source, "shardId-") && !strings.HasPrefix(d.Source, "sqs:") {
			w.t.Errorf("dead letter source %q", d.Source)
		}
		byOriginal[string(d.Original())]++
	}
	for line := range x.bad {
		if byOriginal[line] == 0 {
			w.t.Fatalf("bad event lost (no dead letter): %q", line)
		}
	}
}

var genOpts = gen.Options{Events: 10000, Seed: 7, Bad: 0.01, Dup: 0.01}

func (w *world) gen(opts gen.Options, extra ...string) {
	args := append([]string{"gen", "-n", fmt.Sprint(opts.Events), "--seed", fmt.Sprint(opts.Seed), "--bad", fmt.Sprint(opts.Bad), "--dup", fmt.Sprint(opts.Dup), "--quiet"}, extra...)
	w.run(args...)
}

// TestKinesisLambdaS3 is the main path, then a replay from TRIM_HORIZON.
func TestKinesisLambdaS3(t *testing.T) {
	w := newWorld(t)
	x := expect(t, genOpts)
	w.gen(genOpts, "--to", "kinesis://events", "--create-shards", "4")
	w.consume()
	events, objects := w.lakeEvents()
	dead := w.deadLetters()
	w.check(x, events, dead)
	if got := len(events) + len(dead) + x.dups; got != genOpts.Events {
		t.Errorf("lake %d + dead letters %d + duplicates %d = %d, want %d", len(events), len(dead), x.dups, got, genOpts.Events)
	}

	// Replay the whole stream with a fresh checkpoint: nothing new.
	w.consume("--checkpoint", "replay.json")
	again, objectsAgain := w.lakeEvents()
	if objectsAgain != objects {
		t.Errorf("replay changed the object count %d -> %d", objects, objectsAgain)
	}
	for uuid, keys := range again {
		if len(keys) != 1 {
			t.Fatalf("after replay, event %s stored %d times", uuid, len(keys))
		}
	}
}

// TestS3FailingForAWhile: S3 answers 503 SlowDown and 500 InternalError to
// writes for a while;
// batches are reported failed, retried, and complete, with nothing lost or
// duplicated.
func TestS3FailingForAWhile(t *testing.T) {
	w := newWorld(t)
	opts := gen.Options{Events: 5000, Seed: 11, Bad: 0.01, Dup: 0.01}
	x := expect(t, opts)
	w.gen(opts, "--to", "kinesis://events", "--create-shards", "2")
	w.s3.FailWrites(60)
	w.consume("--batch-size", "200")
	if w.s3.Failed.Load() == 0 {
		t.Fatal("no write failed: the fault was not injected")
	}
	events, _ := w.lakeEvents()
	w.check(x, events, w.deadLetters())
}

// TestConsumerKilled: the consumer is killed with SIGKILL mid-stream and
// restarted from its checkpoint: nothing lost, no event in two objects.
func TestConsumerKilled(t *testing.T) {
	w := newWorld(t)
	x := expect(t, genOpts)
	w.gen(genOpts, "--to", "kinesis://events", "--create-shards", "4")
	cmd := w.cmd("run", "--from", "kinesis://events", "--invoke", w.invoke, "--drain", "--quiet", "--batch-size", "100", "--checkpoint", "cp.json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once some batches are checkpointed, well before the end.
	cpPath := filepath.Join(w.dir, "cp.json")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(cpPath); err == nil && bytes.Count(b, []byte(`"sequence"`)) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint written within 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	before, _ := w.lakeEvents()
	if len(before) == 0 || len(before) >= len(x.good) {
		t.Fatalf("killed after %d of %d events: not mid-stream", len(before), len(x.good))
	}
	w.consume("--batch-size", "100")
	events, _ := w.lakeEvents()
	w.check(x, events, w.deadLetters())
}

// TestShardSplitMidStream: a shard is split between two bursts of events;
// the consumer reads parents before children and loses nothing.
func TestShardSplitMidStream(t *testing.T) {
	w := newWorld(t)
	first := gen.Options{Events: 6000, Seed: 21, Bad: 0.01, Dup: 0.01}
	second := gen.Options{Events: 6000, Seed: 22, Bad: 0.01, Dup: 0.01}
	x := expect(t, first, second)
	w.gen(first, "--to", "kinesis://events", "--create-shards", "2")
	parent := testservers.SplitFirstShard(t, w.kapi, "events")
	w.gen(second, "--to", "kinesis://events")
	out := w.consume()
	if !strings.Contains(out, "shards done") {
		t.Fatalf("summary: %s", out)
	}
	cp, err := kinesis.LoadCheckpoints(filepath.Join(w.dir, "cp.json"), "events")
	if err != nil {
		t.Fatal(err)
	}
	if !cp.Get(parent).Done {
		t.Error("the parent shard is not finished in the checkpoint")
	}
	events, _ := w.lakeEvents()
	w.check(x, events, w.deadLetters())
}

// TestSQSIngestion: events sent to the ingestion queue, including a poison
// message, land through the function; the queue ends empty.
func TestSQSIngestion(t *testing.T) {
	w := newWorld(t)
	opts := gen.Options{Events: 2000, Seed: 31, Bad: 0.02, Dup: 0.01}
	// gen skips (and reports) what SQS refuses; fauxqs also refuses
	// characters above U+FFFF, which SQS accepts.
	accepted := func(line []byte) bool {
		for _, r := range string(line) {
			if r > 0xFFFF {
				return false
			}
		}
		return sqs.Sendable(line)
	}
	x := expect(t, opts)
	for line := range x.bad {
		if !accepted([]byte(line)) {
			delete(x.bad, line)
		}
	}
	gen.Each(opts, func(line []byte, k gen.Kind) error {
		if k.Reason == "" && !k.Dup && !accepted(line) {
			var ev struct {
				UUID string `json:"event_uuid"`
			}
			json.Unmarshal(line, &ev)
			delete(x.good, ev.UUID)
		}
		return nil
	})
	w.gen(opts, "--to", "sqs://ingest")
	ctx := context.Background()
	ingest, err := sqs.Open(ctx, "sqs://ingest", sqs.Options{Endpoint: w.sqs})
	if err != nil {
		t.Fatal(err)
	}
	poison := "poison: not an event {{{"
	if err := ingest.SendAll(ctx, [][]byte{[]byte(poison)}); err != nil {
		t.Fatal(err)
	}
	x.bad[poison] = event.ReasonInvalidJSON
	w.run("run", "--from", "sqs://ingest", "--invoke", w.invoke, "--drain", "--quiet", "--batch-size", "10")
	events, _ := w.lakeEvents()
	w.check(x, events, w.deadLetters())
	visible, inFlight, err := ingest.Depth(ctx)
	if err != nil || visible+inFlight != 0 {
		t.Fatalf("ingestion queue not empty: %d visible, %d in flight (%v)", visible, inFlight, err)
	}
}

// TestScheduledCompaction: a lake landed by the function, then the same
// events again from a file (other object names, so every event twice),
// compacted by the compaction function as deployed: the schedule's event
// makes it queue one message per event type in SQS, and the queue's event
// source mapping (here the local one) hands each to the function.
// Each event is then in the lake once; a second round does nothing.
func TestScheduledCompaction(t *testing.T) {
	w := newWorld(t)
	opts := gen.Options{Events: 4000, Seed: 51, Bad: 0.01, Dup: 0.01}
	x := expect(t, opts)
	w.gen(opts, "--to", "kinesis://events", "--create-shards", "2")
	w.consume()
	w.gen(opts, "--to", "events.jsonl")
	w.run("run", "--from", "events.jsonl", "--lake", w.lakeURL, "--batch-events", "400", "--quiet")
	before, objectsBefore := w.lakeEvents()
	for uuid := range x.good {
		if len(before[uuid]) != 2 {
			t.Fatalf("event %s landed %d times, want twice", uuid, len(before[uuid]))
		}
	}

	invoke := testservers.Lambda(t, map[string]string{
		"_HANDLER":                     "compact",
		"EVENTLAKE_LAKE_URL":           w.lakeURL,
		"EVENTLAKE_COMPACT_OLDER_THAN": "0s",
		"EVENTLAKE_COMPACT_GRACE":      "0s",
		"EVENTLAKE_COMPACT_QUEUE_URL":  w.compactURL,
		"AWS_ENDPOINT_URL_S3":          w.s3.URL,
		"AWS_ENDPOINT_URL_SQS":         w.sqs,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":  "120",
		"AWS_LAMBDA_FUNCTION_NAME":     "eventlake-compact",
	})
	payload, err := os.ReadFile(filepath.Join(testservers.Root(t), "internal/function/testdata/scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	schedule := func() int {
		resp, err := http.Post(invoke, "application/json", bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		body, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(body, &out); err != nil || out["errorMessage"] != nil {
			t.Fatalf("compaction function answered %s (%v)", body, err)
		}
		t.Logf("scheduled run: %s", body)
		return int(out["Queued"].(float64))
	}
	types := map[string]bool{}
	for _, dir := range x.good {
		types[strings.SplitN(dir, "/", 2)[0]] = true
	}
	if n := schedule(); n != len(types) {
		t.Fatalf("queued %d event types, want %d", n, len(types))
	}
	w.run("run", "--from", "sqs://compact", "--invoke", invoke, "--drain", "--quiet", "--batch-size", "1")
	events, objects := w.lakeEvents()
	w.check(x, events, w.deadLetters())
	for _, keys := range events {
		if !lake.IsCompacted(keys[0]) {
			t.Fatalf("%s is not a compacted object", keys[0])
		}
	}
	if objects >= objectsBefore/4 {
		t.Errorf("%d objects after compaction, %d before", objects, objectsBefore)
	}
	// Again: the types are queued, and there is nothing left to do.
	schedule()
	w.run("run", "--from", "sqs://compact", "--invoke", invoke, "--drain", "--quiet", "--batch-size", "1")
	if _, again := w.lakeEvents(); again != objects {
		t.Errorf("a second round changed the object count %d -> %d", objects, again)
	}
	ctx := context.Background()
	q, err := sqs.Open(ctx, "sqs://compact", sqs.Options{Endpoint: w.sqs})
	if err != nil {
		t.Fatal(err)
	}
	if visible, inFlight, err := q.Depth(ctx); err != nil || visible+inFlight != 0 {
		t.Errorf("compaction queue not empty: %d visible, %d in flight (%v)", visible, inFlight, err)
	}
}

// TestKeyedByTypeWritesFewerObjects: the same events put into two streams,
// keyed by event_uuid and by event type (one bucket), land as the same
// events; keyed by type, each shard's batches touch fewer partitions, so
// the lake gets fewer objects.
func TestKeyedByTypeWritesFewerObjects(t *testing.T) {
	w := newWorld(t)
	opts := gen.Options{Events: 8000, Seed: 61}
	objects := map[string]int{}
	events := map[string]int{}
	for _, key := range []string{"uuid", "type:1"} {
		stream := "events-" + strings.ReplaceAll(key, ":", "")
		w.gen(opts, "--to", "kinesis://"+stream, "--create-shards", "4", "--partition-key", key)
		dir := filepath.Join(w.dir, stream)
		w.run("run", "--from", "kinesis://"+stream, "--lake", dir, "--drain", "--quiet", "--batch-size", "500", "--checkpoint", stream+".json")
		store, err := lakeurl.Open(context.Background(), dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := lake.Snapshot(context.Background(), store, "")
		if err != nil {
			t.Fatal(err)
		}
		objects[key] = len(snap)
		for _, e := range snap {
			body, _ := store.Read(context.Background(), e.Key)
			lines, _ := lake.Lines(e.Key, body)
			events[key] += len(lines)
		}
	}
	t.Logf("objects: keyed by uuid %d, by type %d; events %v", objects["uuid"], objects["type:1"], events)
	if events["uuid"] != events["type:1"] || events["uuid"] == 0 {
		t.Errorf("events differ: %v", events)
	}
	if objects["type:1"]*2 > objects["uuid"] {
		t.Errorf("keyed by type: %d objects, by uuid %d; want at most half", objects["type:1"], objects["uuid"])
	}
}
