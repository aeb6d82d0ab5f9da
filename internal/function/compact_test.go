package function

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
)

// compactLake lands events of two types in several batches each.
func compactLake(t *testing.T) lake.ReadWriteStore {
	t.Helper()
	store, _ := lakeurl.Open(context.Background(), "mem://", nil)
	h, err := New(Config{LakeURL: "mem://"}, Deps{Lake: store})
	if err != nil {
		t.Fatal(err)
	}
	for b := range 4 {
		var lines [][]byte
		for i := range 5 {
			lines = append(lines, line(fmt.Sprintf("u%d-%d", b, i), []string{"payment:order", "auth:login"}[i%2]))
		}
		ev := kinesisEvent(fmt.Sprintf("shardId-00000000000%d", b), lines...)
		if resp, err := h.Kinesis(context.Background(), ev); err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("landing: %v %+v", err, resp)
		}
	}
	return store
}

func compactor(t *testing.T, store lake.ReadWriteStore, q PartitionQueue) (*Compactor, *bytes.Buffer) {
	t.Helper()
	cfg, err := CompactConfigFromEnv(func(k string) string {
		return map[string]string{EnvLakeURL: "mem://", EnvCompactOlderThan: "0s", EnvCompactGrace: "0s"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	c, err := NewCompactor(cfg, CompactDeps{Lake: store, Queue: q, Metrics: &metrics, FunctionName: "compact"})
	if err != nil {
		t.Fatal(err)
	}
	return c, &metrics
}

func scheduled(t *testing.T) []byte {
	b, err := os.ReadFile("testdata/scheduled-event.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScheduledRunCompactsEverything(t *testing.T) {
	store := compactLake(t)
	c, metrics := compactor(t, store, nil)
	out, err := c.Invoke(context.Background(), scheduled(t))
	if err != nil {
		t.Fatal(err)
	}
	res := out.(CompactResult)
	if res.Partitions != 2 || res.Rounds != 2 || res.InputObjects != 8 || res.OutputObjects != 2 || res.Events != 20 {
		t.Errorf("result %+v", res)
	}
	var doc map[string]any
	if err := json.Unmarshal(metrics.Bytes(), &doc); err != nil || doc["CompactedObjects"] != float64(8) || doc["WrittenObjects"] != float64(2) {
		t.Errorf("metrics %s (%v)", metrics, err)
	}
}

// TestScheduledRunFansOut: with a queue, the schedule queues one message
// per event type, and each message, delivered as an SQS event, compacts
// its type; a bad message is a batch item failure, not a silent drop.
func TestScheduledRunFansOut(t *testing.T) {
	store := compactLake(t)
	q := &queue{}
	c, _ := compactor(t, store, q)
	out, err := c.Invoke(context.Background(), scheduled(t))
	if err != nil {
		t.Fatal(err)
	}
	if res := out.(CompactResult); res.Queued != 2 || res.Rounds != 0 {
		t.Fatalf("fan-out %+v", res)
	}
	want := []string{`{"partition":"event_type=auth/"}`, `{"partition":"event_type=payment/"}`}
	if strings.Join(q.bodies, " ") != strings.Join(want, " ") {
		t.Fatalf("queued %q, want %q", q.bodies, want)
	}
	ev := events.SQSEvent{}
	for i, b := range append(q.bodies, "not a request") {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprint("m", i), Body: b, EventSource: "aws:sqs"})
	}
	payload, _ := json.Marshal(ev)
	out, err = c.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(events.SQSEventResponse)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m2" {
		t.Errorf("failures %+v, want only m2", resp.BatchItemFailures)
	}
	snap, err := lake.Snapshot(context.Background(), store, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range snap {
		if !lake.IsCompacted(e.Key) {
			t.Errorf("%s was not compacted", e.Key)
		}
	}
	if len(snap) != 2 {
		t.Errorf("%d objects visible, want 2", len(snap))
	}
}

// TestCompactionStopsBeforeTheDeadline: a run out of time stops cleanly
// and says so; from the queue, it queues what is left, one partition a
// message, and acknowledges its own; after maxAttempts, or with no queue
// to go on with, it asks for its message again instead.
func TestCompactionStopsBeforeTheDeadline(t *testing.T) {
	store := compactLake(t)
	q := &queue{}
	c, _ := compactor(t, store, q)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(c.cfg.DeadlineMargin/2))
	defer cancel()
	out, err := c.Invoke(ctx, []byte(`{"partition":"event_type=auth/"}`))
	if err != nil || !out.(CompactResult).Stopped {
		t.Fatalf("a run past its deadline: %+v, %v; want stopped", out, err)
	}
	sqsEvent := func(body string) []byte {
		b, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: body, EventSource: "aws:sqs"}}})
		return b
	}
	out, _ = c.Invoke(ctx, sqsEvent(`{"partition":"event_type=auth/","attempt":3}`))
	if resp := out.(events.SQSEventResponse); len(resp.BatchItemFailures) != 0 {
		t.Errorf("a stopped message that was queued again is reported failed: %+v", resp)
	}
	if want := []string{`{"partition":"event_type=auth/created_date=2024-03-17/","attempt":4}`}; strings.Join(q.bodies, " ") != strings.Join(want, " ") {
		t.Errorf("queued %q, want %q", q.bodies, want)
	}
	out, _ = c.Invoke(ctx, sqsEvent(fmt.Sprintf(`{"partition":"event_type=auth/","attempt":%d}`, maxAttempts)))
	if resp := out.(events.SQSEventResponse); len(resp.BatchItemFailures) != 1 {
		t.Errorf("after %d attempts the message is not reported failed: %+v", maxAttempts, resp)
	}
	// Partitions finished before the stop are not queued again.
	q.bodies = nil
	if err := c.requeue(ctx, Request{Attempt: 1}, []string{"event_type=auth/created_date=2024-03-17/"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{`{"partition":"event_type=payment/created_date=2024-03-17/","attempt":2}`}; strings.Join(q.bodies, " ") != strings.Join(want, " ") {
		t.Errorf("queued %q, want %q", q.bodies, want)
	}
	noQueue, _ := compactor(t, store, nil)
	out, _ = noQueue.Invoke(ctx, sqsEvent(`{"partition":"event_type=auth/"}`))
	if resp := out.(events.SQSEventResponse); len(resp.BatchItemFailures) != 1 {
		t.Errorf("with no queue a stopped message is not reported failed: %+v", resp)
	}
	snap, _ := lake.Snapshot(context.Background(), store, "")
	if len(snap) != 8 {
		t.Errorf("%d objects visible after stopped runs, want the 8 landed", len(snap))
	}
}

func TestCompactConfigErrorsNameTheVariable(t *testing.T) {
	_, err := CompactConfigFromEnv(func(k string) string {
		return map[string]string{EnvCompactOlderThan: "an hour", EnvCompactTargetSize: "0", EnvCompactGrace: "-1m", EnvFormat: "csv"}[k]
	})
	for _, v := range []string{EnvLakeURL, EnvCompactOlderThan, EnvCompactTargetSize, EnvCompactGrace, EnvFormat} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("error %v does not name %s", err, v)
		}
	}
}

// TestTableConfigFromEnv: the table maintenance's defaults are the CLI's
// (TestTableDefaultsAreTheCLIs compares them with internal/table's), "off" turns the
// sweep off, and bad values are refused naming their variable.
func TestTableConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string {
			if k == EnvLakeURL {
				return "mem://"
			}
			return m[k]
		}
	}
	cfg, err := CompactConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Table != DefaultTableConfig || cfg.TableURL != "" {
		t.Errorf("defaults %+v, want %+v", cfg.Table, DefaultTableConfig)
	}
	cfg, err = CompactConfigFromEnv(env(map[string]string{EnvTable: "glue://db/t?warehouse=s3://b", EnvCompactTargetSize: "1000",
		EnvTableExpireOlderThan: "120h", EnvTableRetainLast: "3", EnvTableRememberBatches: "10", EnvTableOrphansOlderThan: "off"}))
	want := TableConfig{TargetSize: 1000, ExpireOlderThan: 120 * time.Hour, RetainLast: 3, RememberBatches: 10}
	if err != nil || cfg.Table != want || cfg.TableURL == "" {
		t.Errorf("configured %+v (%v), want %+v", cfg.Table, err, want)
	}
	for v, bad := range map[string]string{EnvTableExpireOlderThan: "-1h", EnvTableRetainLast: "0", EnvTableRememberBatches: "many", EnvTableOrphansOlderThan: "0s"} {
		if _, err := CompactConfigFromEnv(env(map[string]string{v: bad})); err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("%s=%s: %v, want an error naming it", v, bad, err)
		}
	}
}
