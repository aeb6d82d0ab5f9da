package function

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
)

// recordingSink is a pipeline.Sink that keeps the batches it was given and
// can fail them all.
type recordingSink struct {
	mu    sync.Mutex
	names []lake.Name
	fail  error
}

func (s *recordingSink) Write(_ context.Context, name lake.Name, objs []lake.Object) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, name)
	for i := range objs {
		if objs[i].Done != nil {
			objs[i].Done()
		}
		objs[i].Err = s.fail
	}
	return s.fail
}

// TestDepsSinkTakesTheBatches: with Deps.Sink set (the Iceberg table), the
// batches land there, not in the lake's objects; dead letters still go to
// the queue; a failing sink fails the batch at its first record, and the
// retry hands the sink the same batch name (the table recognises it).
func TestDepsSinkTakesTheBatches(t *testing.T) {
	mem, err := lakeurl.Open(context.Background(), "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{fail: errors.New("commit failed")}
	q := &queue{}
	h, err := New(Config{LakeURL: "mem://", TableURL: "glue://db/t?warehouse=s3://b", MaxEventSize: 1 << 20, DeadLetterMaxBytes: 1 << 18},
		Deps{Lake: mem, Sink: sink, DeadLetters: q})
	if err != nil {
		t.Fatal(err)
	}
	ev := kinesisEvent("shardId-000000000009", line("u1", "a:b"), []byte("garbage"), line("u2", "c:d"))
	resp, err := h.Kinesis(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].Kinesis.SequenceNumber {
		t.Fatalf("failing sink: %+v, %v; want the first record reported", resp, err)
	}
	sink.fail = nil
	if resp, err = h.Kinesis(context.Background(), ev); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %+v, %v", resp, err)
	}
	if len(sink.names) != 2 || sink.names[0] != sink.names[1] {
		t.Fatalf("the sink got batches %v; want the same batch twice", sink.names)
	}
	if k := keys(t, mem); len(k) != 0 {
		t.Fatalf("the lake got objects %v; the sink takes the batches", k)
	}
	if len(q.bodies) != 2 {
		t.Fatalf("%d dead letters sent, want the garbage record's, once per attempt", len(q.bodies))
	}
}
