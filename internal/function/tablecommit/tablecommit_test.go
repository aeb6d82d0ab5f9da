package tablecommit

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	lakefolder "github.com/eventlake/eventlake/internal/lake/folder"
	"github.com/eventlake/eventlake/internal/pipeline"
	"github.com/eventlake/eventlake/internal/table"
)

// land lands n generated events in batches of 1,000 through a staging
// sink and returns the messages it handed off.
func land(t *testing.T, tb *table.Table, n int, seed uint64) ([]string, int) {
	t.Helper()
	var in bytes.Buffer
	good := 0
	if err := gen.Each(gen.Options{Events: n, Seed: seed}, func(raw []byte, k gen.Kind) error {
		in.Write(raw)
		in.WriteByte('\n')
		if !k.Dup && k.Reason == "" {
			good++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ds, err := lakefolder.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := lake.NewWriter(ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	sink, err := table.NewStagingSink(tb, dead, func(_ context.Context, st table.Staged) error {
		m, err := table.EncodeStaged(st)
		msgs = append(msgs, string(m))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pipeline.New(sink, pipeline.Config{Source: "gen" + strconv.FormatUint(seed, 10), Batch: pipeline.BatchPolicy{Events: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(context.Background(), &in)
	if err != nil || st.Written != int64(good) {
		t.Fatalf("landing: %+v %v, want %d written", st, err, good)
	}
	return msgs, good
}

func sqsEvent(bodies ...string) events.SQSEvent {
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: "m" + strconv.Itoa(i), Body: b})
	}
	return ev
}

// rows counts the table's rows as its current snapshot's summary says.
func rows(t *testing.T, tb *table.Table) int64 {
	t.Helper()
	snaps, err := tb.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if s.Current {
			return s.Rows
		}
	}
	return 0
}

// TestCommitter: one invocation commits every staged batch of its event in
// one snapshot; a message that is not a staged batch, or names files of
// another table, is reported failed (for the queue's dead-letter queue)
// and the rest commit; a redelivery commits nothing again.
func TestCommitter(t *testing.T) {
	ctx := context.Background()
	tb, err := table.Open(ctx, table.Options{Warehouse: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	msgs, good := land(t, tb, 5000, 61)
	other, err := table.Open(ctx, table.Options{Warehouse: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	foreign, _ := land(t, other, 1000, 62)
	var emf bytes.Buffer
	c, err := New(tb, Options{Metrics: &emf, Namespace: "ns", FunctionName: "eventlake-commit"})
	if err != nil {
		t.Fatal(err)
	}
	bodies := append([]string{"not a staged batch", foreign[0]}, msgs...)
	bodies = append(bodies, msgs[1]) // a duplicate delivery
	resp, err := c.SQS(ctx, sqsEvent(bodies...))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 2 || resp.BatchItemFailures[0].ItemIdentifier != "m0" || resp.BatchItemFailures[1].ItemIdentifier != "m1" {
		t.Fatalf("failures %+v, want the two bad messages", resp.BatchItemFailures)
	}
	if n := rows(t, tb); n != int64(good) {
		t.Fatalf("%d rows committed, want %d", n, good)
	}
	var doc map[string]any
	if err := json.Unmarshal(emf.Bytes(), &doc); err != nil {
		t.Fatalf("EMF %s: %v", emf.Bytes(), err)
	}
	for k, want := range map[string]float64{"StagedMessages": float64(len(bodies)), "StagedBatchesCommitted": float64(len(msgs)),
		"StagedBatchesAlreadyCommitted": 1, "StagedBatchesRefused": 2, "TableCommitAttempts": 1, "TableCommitFailures": 0} {
		if doc[k] != want {
			t.Errorf("EMF %s = %v, want %v", k, doc[k], want)
		}
	}
	if doc["FunctionName"] != "eventlake-commit" || doc["OldestStagedAge"].(float64) <= 0 || !strings.Contains(emf.String(), `"Namespace":"ns"`) {
		t.Errorf("EMF %s", emf.Bytes())
	}
	snaps, _ := tb.Snapshots(ctx)
	if len(snaps) != 1 || !strings.HasSuffix(snaps[0].Batch, " batches") {
		t.Fatalf("snapshots %+v, want one of %d batches", snaps, len(msgs))
	}
	again, err := c.SQS(ctx, sqsEvent(msgs...))
	if err != nil || len(again.BatchItemFailures) != 0 {
		t.Fatalf("redelivery: %+v %v", again, err)
	}
	if snaps, _ := tb.Snapshots(ctx); len(snaps) != 1 || rows(t, tb) != int64(good) {
		t.Fatalf("after the redelivery: %d snapshots, %d rows", len(snaps), rows(t, tb))
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) accepted")
	}
}
