package sqs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// fakeQueue is an in-memory queue with SQS's visibility semantics, enough
// for the Poller: received messages are hidden until deleted or released.
type fakeQueue struct {
	mu       sync.Mutex
	visible  []Message
	inFlight map[string]Message // by receipt handle
	receives map[string]int     // by message id
	deleted  []string           // message ids, in order
	released int
	failRecv error // returned by the next Receive
}

func newFakeQueue(bodies ...string) *fakeQueue {
	q := &fakeQueue{inFlight: map[string]Message{}, receives: map[string]int{}}
	for i, b := range bodies {
		q.visible = append(q.visible, Message{ID: fmt.Sprintf("m%d", i), Body: []byte(b), SentAt: time.UnixMilli(1_700_000_000_000)})
	}
	return q
}

func (q *fakeQueue) URL() string { return "https://sqs.us-east-1.amazonaws.com/123456789012/ingest" }

func (q *fakeQueue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.failRecv; err != nil {
		q.failRecv = nil
		return nil, err
	}
	n := min(max, len(q.visible))
	out := slices.Clone(q.visible[:n])
	q.visible = q.visible[n:]
	for i := range out {
		q.receives[out[i].ID]++
		out[i].ReceiveCount = q.receives[out[i].ID]
		out[i].ReceiptHandle = fmt.Sprintf("%s#%d", out[i].ID, out[i].ReceiveCount)
		q.inFlight[out[i].ReceiptHandle] = out[i]
	}
	return out, nil
}

func (q *fakeQueue) Delete(ctx context.Context, handles []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, h := range handles {
		m, ok := q.inFlight[h]
		if !ok {
			return fmt.Errorf("delete: unknown receipt handle %q", h)
		}
		delete(q.inFlight, h)
		q.deleted = append(q.deleted, m.ID)
	}
	return nil
}

func (q *fakeQueue) Release(ctx context.Context, handles []string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, h := range handles {
		m, ok := q.inFlight[h]
		if !ok {
			return fmt.Errorf("release: unknown receipt handle %q", h)
		}
		delete(q.inFlight, h)
		q.visible = append(q.visible, m)
		q.released++
	}
	return nil
}

func (q *fakeQueue) Depth(ctx context.Context) (int, int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.visible), len(q.inFlight), nil
}

// TestPollerDeletesOnlyWhatWasHandled: a message the function reports as
// failed comes back (and is handled on a later receive); one whose whole
// invocation failed comes back too; nothing is deleted before it is handled
// and the queue drains.
func TestPollerDeletesOnlyWhatWasHandled(t *testing.T) {
	q := newFakeQueue("a", "poison-once", "c", "d", "fail-invocation-once", "f", "g")
	var mu sync.Mutex
	handled := map[string]int{}
	tries := map[string]int{}
	h := func(ctx context.Context, ev events.SQSEvent) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		var failed []string
		for _, r := range ev.Records {
			tries[r.Body]++
			if r.EventSource != "aws:sqs" || !strings.HasSuffix(r.EventSourceARN, ":ingest") || r.Attributes["ApproximateReceiveCount"] != fmt.Sprint(tries[r.Body]) {
				t.Errorf("record %+v is not what Lambda sends", r)
			}
		}
		for _, r := range ev.Records {
			if r.Body == "fail-invocation-once" && tries[r.Body] == 1 {
				return nil, errors.New("function crashed")
			}
			if r.Body == "poison-once" && tries[r.Body] == 1 {
				failed = append(failed, r.MessageId)
				continue
			}
		}
		for _, r := range ev.Records {
			if !slices.Contains(failed, r.MessageId) {
				handled[r.Body]++
			}
		}
		return failed, nil
	}
	p, err := NewPoller(q, h, PollOptions{BatchSize: 3, Drain: true, Wait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"a", "poison-once", "c", "d", "fail-invocation-once", "f", "g"} {
		if handled[b] != 1 {
			t.Errorf("%q handled %d times, want once", b, handled[b])
		}
	}
	if len(q.deleted) != 7 || len(q.visible) != 0 || len(q.inFlight) != 0 {
		t.Errorf("deleted %v, %d visible, %d in flight: want all 7 deleted, queue empty", q.deleted, len(q.visible), len(q.inFlight))
	}
	// "fail-invocation-once" failed its whole batch (f and g with it): 3 + 1 released.
	s := p.Stats()
	if q.released != 4 || s.Retried != 4 || s.Deleted != 7 || s.Received != 11 {
		t.Errorf("released %d, stats %+v: want 4 released, received 11, deleted 7, retried 4", q.released, s)
	}
}

// TestPollerStopsOnCancelAndReleases: a cancelled run returns ctx.Err()
// and the messages it failed are still released (not left hidden).
func TestPollerStopsOnCancelAndReleases(t *testing.T) {
	q := newFakeQueue("x", "y")
	ctx, cancel := context.WithCancel(context.Background())
	h := func(ctx context.Context, ev events.SQSEvent) ([]string, error) {
		cancel()
		return nil, errors.New("down")
	}
	p, err := NewPoller(q, h, PollOptions{Wait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if len(q.visible) != 2 || len(q.inFlight) != 0 || len(q.deleted) != 0 {
		t.Errorf("%d visible, %d in flight, deleted %v: want both released, none deleted", len(q.visible), len(q.inFlight), q.deleted)
	}
}

// TestPollerReportsQueueErrors: a receive error ends the run with it.
func TestPollerReportsQueueErrors(t *testing.T) {
	q := newFakeQueue("x")
	q.failRecv = errors.New("AccessDenied")
	p, err := NewPoller(q, func(context.Context, events.SQSEvent) ([]string, error) { return nil, nil }, PollOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("Run = %v, want the receive error", err)
	}
	for _, bad := range []int{-1, 11} {
		if _, err := NewPoller(q, func(context.Context, events.SQSEvent) ([]string, error) { return nil, nil }, PollOptions{BatchSize: bad}); err == nil {
			t.Errorf("batch size %d accepted", bad)
		}
	}
}
