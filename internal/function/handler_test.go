package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/deadletter"
	"github.com/eventlake/eventlake/internal/kpl"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
)

// queue is an in-memory dead-letter queue.
type queue struct {
	mu     sync.Mutex
	bodies []string
	fail   error
}

func (q *queue) SendAll(_ context.Context, bodies [][]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	for _, b := range bodies {
		q.bodies = append(q.bodies, string(b))
	}
	return nil
}

type flakyStore struct {
	lake.ReadWriteStore
	fail bool
}

func (s *flakyStore) Create(ctx context.Context, key string, body ...[]byte) error {
	if s.fail {
		return errors.New("503 SlowDown")
	}
	return s.ReadWriteStore.Create(ctx, key, body...)
}

func newHandler(t *testing.T, dlq DeadLetterSender) (*Handler, *flakyStore, *bytes.Buffer) {
	t.Helper()
	mem, err := lakeurl.Open(context.Background(), "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &flakyStore{ReadWriteStore: mem}
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{EnvLakeURL: "mem://", EnvCompression: "none", EnvDeadLetterMaxBytes: "600"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	h, err := New(cfg, Deps{Lake: store, DeadLetters: dlq, Metrics: &metrics, FunctionName: "eventlake-test"})
	if err != nil {
		t.Fatal(err)
	}
	return h, store, &metrics
}

func keys(t *testing.T, s lake.ReadWriteStore) []string {
	var out []string
	for ent, err := range s.List(context.Background(), "") {
		k := ent.Key
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

func TestInvokeKinesisTestdata(t *testing.T) {
	q := &queue{}
	h, store, metrics := newHandler(t, q)
	payload, err := os.ReadFile("testdata/kinesis-event.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(events.KinesisEventResponse)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v", resp.BatchItemFailures)
	}
	k := keys(t, store)
	want := "event_type=payment/created_date=2024-03-17/shardId-000000000000-49590338271490256608559692538361571095921575989136588898-49590338271490256608559692540925702759324208523137515618-"
	if len(k) != 1 || !strings.HasPrefix(k[0], want) {
		t.Fatalf("keys %v, want one under %s", k, want)
	}
	if len(q.bodies) != 1 {
		t.Fatalf("dead letters %v", q.bodies)
	}
	d, err := deadletter.Parse([]byte(q.bodies[0]))
	if err != nil || d.Reason != "bad_event_name" || d.Source != "shardId-000000000000:49590338271490256608559692540925702759324208523137515618" {
		t.Fatalf("dead letter %+v %v", d, err)
	}
	// EMF: one document with the counts, one for the dead-letter reason.
	lines := strings.Split(strings.TrimSpace(metrics.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("metrics: %q", metrics.String())
	}
	var doc map[string]any
	json.Unmarshal([]byte(lines[0]), &doc)
	aws := doc["_aws"].(map[string]any)
	cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if cw["Namespace"] != "eventlake" || doc["EventsIn"] != 2.0 || doc["Written"] != 1.0 || doc["DeadLetters"] != 1.0 || doc["FunctionName"] != "eventlake-test" {
		t.Errorf("metrics doc %v", doc)
	}
	if age, _ := doc["OldestRecordAge"].(float64); age <= 0 {
		t.Errorf("OldestRecordAge = %v", doc["OldestRecordAge"])
	}
	// The same batch again (a retry) adds nothing.
	out, _ = h.Invoke(context.Background(), payload)
	if len(out.(events.KinesisEventResponse).BatchItemFailures) != 0 || len(keys(t, store)) != 1 {
		t.Fatal("retry changed the lake")
	}
}

func kinesisEvent(shard string, datas ...[]byte) events.KinesisEvent {
	var ev events.KinesisEvent
	for i, d := range datas {
		seq := fmt.Sprintf("4959%030d", i+1)
		var r events.KinesisEventRecord
		r.EventSource, r.EventID = "aws:kinesis", shard+":"+seq
		r.Kinesis.SequenceNumber, r.Kinesis.Data = seq, d
		ev.Records = append(ev.Records, r)
	}
	return ev
}

func line(uuid, name string) []byte {
	return []byte(fmt.Sprintf(`{"event_uuid":"%s","event_name":"%s","created_at":1710670530}`, uuid, name))
}

func TestKinesisDeaggregatesKPLRecords(t *testing.T) {
	h, store, _ := newHandler(t, &queue{})
	agg := kpl.Aggregate([]kpl.Record{
		{PartitionKey: "a", Data: line("u1", "cart:add")},
		{PartitionKey: "b", Data: line("u2", "cart:add")},
		{PartitionKey: "c", Data: line("u1", "cart:add")}, // a duplicate inside the aggregate
	})
	resp, err := h.Kinesis(context.Background(), kinesisEvent("shardId-000000000001", agg, line("u3", "page:view")))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatal(err, resp)
	}
	var n int
	for _, k := range keys(t, store) {
		b, _ := store.Read(context.Background(), k)
		n += bytes.Count(b, []byte("\n"))
	}
	if n != 3 {
		t.Fatalf("%d events in the lake, want 3 (u1 once, u2, u3)", n)
	}
}

func TestKinesisWriteFailureReportsFirstRecord(t *testing.T) {
	h, store, _ := newHandler(t, &queue{})
	store.fail = true
	ev := kinesisEvent("shardId-000000000002", line("u1", "a:b"), line("u2", "c:d"))
	resp, err := h.Kinesis(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].Kinesis.SequenceNumber {
		t.Fatalf("failures %+v, want the first record", resp.BatchItemFailures)
	}
	store.fail = false
	resp, _ = h.Kinesis(context.Background(), ev)
	if len(resp.BatchItemFailures) != 0 || len(keys(t, store)) != 2 {
		t.Fatalf("retry: %+v, keys %v", resp, keys(t, store))
	}
}

func TestDeadLetterQueueFailureFailsTheBatch(t *testing.T) {
	h, _, _ := newHandler(t, &queue{fail: errors.New("queue gone")})
	ev := kinesisEvent("shardId-000000000003", line("u1", "a:b"), []byte("garbage"))
	resp, _ := h.Kinesis(context.Background(), ev)
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("failures %+v, want the batch reported", resp.BatchItemFailures)
	}
}

func TestLargeDeadLetterGoesToTheLake(t *testing.T) {
	q := &queue{}
	h, store, _ := newHandler(t, q)
	big := []byte(`{"event_uuid":"x","event_name":"nocolon","created_at":1,"pad":"` + strings.Repeat("z", 2000) + `"}`)
	resp, _ := h.Kinesis(context.Background(), kinesisEvent("shardId-000000000004", big))
	if len(resp.BatchItemFailures) != 0 || len(q.bodies) != 1 {
		t.Fatalf("resp %+v, queue %d", resp, len(q.bodies))
	}
	var p pointer
	if err := json.Unmarshal([]byte(q.bodies[0]), &p); err != nil || p.LakeKey == "" || p.Reason != "bad_event_name" {
		t.Fatalf("pointer %+v %v", p, err)
	}
	body, err := store.Read(context.Background(), p.LakeKey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := deadletter.Parse(body)
	if err != nil || !bytes.Equal(d.Original(), big) {
		t.Fatalf("stored dead letter %v", err)
	}
}

func TestDeadlineTooClose(t *testing.T) {
	h, store, _ := newHandler(t, &queue{})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Second)) // margin is 5s
	defer cancel()
	ev := kinesisEvent("shardId-000000000005", line("u1", "a:b"))
	resp, _ := h.Kinesis(ctx, ev)
	if len(resp.BatchItemFailures) != 1 || len(keys(t, store)) != 0 {
		t.Fatalf("resp %+v, keys %v: want nothing done and the batch reported", resp, keys(t, store))
	}
}

func TestInvokeSQSTestdata(t *testing.T) {
	q := &queue{}
	h, store, _ := newHandler(t, q)
	payload, _ := os.ReadFile("testdata/sqs-event.json")
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(events.SQSEventResponse)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v: a poison message is a dead letter, not a failure", resp.BatchItemFailures)
	}
	if len(keys(t, store)) != 2 || len(q.bodies) != 1 || !strings.Contains(q.bodies[0], "2e1424d4-f796-459a-8184-9c92662be6da") {
		t.Fatalf("keys %v, dead letters %v", keys(t, store), q.bodies)
	}
}

func TestSQSReportsOnlyFailedMessages(t *testing.T) {
	h, store, _ := newHandler(t, &queue{})
	store.fail = true
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: string(line("u1", "a:b")), EventSource: "aws:sqs"},
		{MessageId: "m2", Body: "not json", EventSource: "aws:sqs"},
	}}
	resp, _ := h.SQS(context.Background(), ev)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Fatalf("failures %+v, want only m1", resp.BatchItemFailures)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	_, err := ConfigFromEnv(func(k string) string {
		return map[string]string{EnvLayout: "weekly", EnvFormat: "avro", EnvMaxEventSize: "-1", EnvDeadlineMargin: "soon", EnvLogLevel: "loud",
			EnvTableCommitQueueURL: "https://sqs/q"}[k]
	})
	for _, v := range []string{EnvLakeURL, EnvLayout, EnvFormat, EnvMaxEventSize, EnvDeadlineMargin, EnvLogLevel, EnvTableCommitQueueURL} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("error %v does not name %s", err, v)
		}
	}
}

func TestInvokeRefusesOtherEvents(t *testing.T) {
	h, _, _ := newHandler(t, nil)
	if _, err := h.Invoke(context.Background(), []byte(`{"Records":[{"eventSource":"aws:s3"}]}`)); err == nil {
		t.Error("an S3 event was accepted")
	}
	if _, err := h.Invoke(context.Background(), []byte(`nope`)); err == nil {
		t.Error("garbage was accepted")
	}
}

func TestDuplicateInTheNextBatchIsWrittenOnce(t *testing.T) {
	h, store, _ := newHandler(t, &queue{})
	first := kinesisEvent("shardId-000000000009", line("u1", "a:b"), line("u2", "a:b"))
	second := kinesisEvent("shardId-000000000009", line("u9", "a:b"), line("u1", "a:b"), line("u3", "a:b"))
	for i := range second.Records { // sequence numbers after the first batch's
		seq := fmt.Sprintf("4960%030d", i+1)
		second.Records[i].Kinesis.SequenceNumber = seq
		second.Records[i].EventID = "shardId-000000000009:" + seq
	}
	count := func() (n int) {
		for _, k := range keys(t, store) {
			b, _ := store.Read(context.Background(), k)
			n += bytes.Count(b, []byte("\n"))
		}
		return n
	}
	h.Kinesis(context.Background(), first)
	h.Kinesis(context.Background(), second)
	if n := count(); n != 4 {
		t.Fatalf("%d events stored, want 4 (u1 once)", n)
	}
	// A replay from the start processes the batches as the first time:
	// nothing new.
	objects := len(keys(t, store))
	h.Kinesis(context.Background(), first)
	h.Kinesis(context.Background(), second)
	if len(keys(t, store)) != objects || count() != 4 {
		t.Fatalf("replay changed the lake: %d objects, %d events", len(keys(t, store)), count())
	}
}

func TestInvokeWritesParquet(t *testing.T) {
	store, _ := lakeurl.Open(context.Background(), "mem://", nil)
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{EnvLakeURL: "mem://", EnvFormat: "parquet"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(cfg, Deps{Lake: store})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile("testdata/kinesis-event.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	var parquets int
	for _, k := range keys(t, store) {
		body, _ := store.Read(context.Background(), k)
		switch {
		case strings.HasPrefix(k, lake.DeadLetterPrefix):
			if !strings.HasSuffix(k, ".jsonl.gz") {
				t.Errorf("dead letters %s are not NDJSON", k)
			}
		case strings.HasSuffix(k, lake.ParquetExt):
			rows, err := lake.ReadParquet(bytes.NewReader(body), int64(len(body)))
			if err != nil || len(rows) == 0 || rows[0].EventType != "payment" {
				t.Errorf("%s: rows %+v, %v", k, rows, err)
			}
			parquets++
		default:
			t.Errorf("%s is neither Parquet nor a dead letter", k)
		}
	}
	if parquets != 1 {
		t.Errorf("%d Parquet objects, want 1", parquets)
	}
}
