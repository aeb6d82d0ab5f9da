package function

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/eventlake/eventlake/internal/deadletter"
	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/laketest"
)

// TestKinesisPoisonEventIsADeadLetter: an event whose partition folder
// cannot be made does not fail its batch (which would block the shard on
// every retry): it goes to the dead-letter queue, the others land.
func TestKinesisPoisonEventIsADeadLetter(t *testing.T) {
	q := &queue{}
	h, store, _ := newHandler(t, q)
	poison := []byte(`{"event_uuid":"p1","event_name":"` + strings.Repeat("%", 82) + `:x","created_at":1710633600}`)
	ev := kinesisEvent("shardId-000000000007", line("u1", "a:b"), poison, line("u2", "c:d"))
	resp, err := h.Kinesis(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("err %v, failures %+v; want the batch done", err, resp.BatchItemFailures)
	}
	if len(q.bodies) != 1 {
		t.Fatalf("dead letters %q, want the poison event", q.bodies)
	}
	d, err := deadletter.Parse([]byte(q.bodies[0]))
	if err != nil || d.Reason != string(event.ReasonPartitionTooLong) || !bytes.Equal(d.Original(), poison) {
		t.Errorf("dead letter %+v (%v)", d, err)
	}
	if k := keys(t, store); len(k) != 2 {
		t.Errorf("objects %v, want the two good events' partitions", k)
	}
}

// TestKinesisFaultsFailTheBatchThenHeal: every way a destination fails
// reports the batch for retry; once healed, the retry completes it with
// each event once.
func TestKinesisFaultsFailTheBatchThenHeal(t *testing.T) {
	for _, f := range []laketest.Fault{
		{Err: syscall.ENOSPC}, {After: 1, Err: syscall.ENOSPC}, {Match: "event_type=b", Err: syscall.EACCES},
		{Match: "event_type=c", Err: syscall.ENAMETOOLONG}, {Match: "event_type=a", Err: syscall.ENOTDIR},
	} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			h, flaky, _ := newHandler(t, &queue{})
			faulty := laketest.New(flaky.ReadWriteStore, f)
			var err error
			if h, err = New(h.cfg, Deps{Lake: faulty, DeadLetters: &queue{}}); err != nil {
				t.Fatal(err)
			}
			var datas [][]byte
			for i := range 30 {
				datas = append(datas, line(fmt.Sprint("u", i), []string{"a:x", "b:y", "c:z"}[i%3]))
			}
			ev := kinesisEvent("shardId-000000000008", datas...)
			resp, _ := h.Kinesis(context.Background(), ev)
			if len(resp.BatchItemFailures) != 1 {
				t.Fatalf("failures %+v, want the batch reported", resp.BatchItemFailures)
			}
			faulty.Heal()
			if resp, _ = h.Kinesis(context.Background(), ev); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("retry failed: %+v", resp.BatchItemFailures)
			}
			n := 0
			for _, k := range keys(t, faulty) {
				b, err := faulty.Read(context.Background(), k)
				if err != nil && !errors.Is(err, lake.ErrNotExist) {
					t.Fatal(err)
				}
				n += bytes.Count(b, []byte("\n"))
			}
			if n != 30 {
				t.Errorf("%d events in the lake, want 30", n)
			}
		})
	}
}
