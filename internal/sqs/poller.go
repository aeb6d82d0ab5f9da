package sqs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/retry"
)

// Queue is what the Poller needs of a queue; *Client is one.
type Queue interface {
	// Receive returns up to max messages, waiting up to wait for the first,
	// and hides them for visibility.
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Message, error)
	// Delete deletes messages by receipt handle: they are done.
	Delete(ctx context.Context, handles []string) error
	// Release makes messages visible again now, for a retry.
	Release(ctx context.Context, handles []string) error
	// Depth returns the approximate numbers of visible and in-flight messages.
	Depth(ctx context.Context) (visible, inFlight int, err error)
	// URL is the queue's URL.
	URL() string
}

var _ Queue = (*Client)(nil)

// Handler processes one batch as the Lambda function does and returns the
// ids of the messages that failed (the partial batch response). An error
// means the whole invocation failed: every message is retried.
type Handler func(ctx context.Context, ev events.SQSEvent) (failedIDs []string, err error)

// PollOptions configure a Poller; zero values are defaults.
type PollOptions struct {
	BatchSize  int           // messages per batch, 1-10; default 10
	Wait       time.Duration // long-poll wait; default 5 s (1 s with Drain)
	Visibility time.Duration // how long a received message stays hidden; default 5 min
	Drain      bool          // stop once the queue has no visible and no in-flight message
	Region     string        // for the event source ARN; default us-east-1
	Log        *slog.Logger  // failed invocations; nil: discarded
}

// PollStats are a Poller's counts so far; safe to read while it runs.
type PollStats struct {
	Received, Deleted, Retried int64
}

// Poller consumes a queue the way the SQS event source mapping does:
// messages are received in batches, handed to the function as an SQS
// event, deleted only once the function has handled them, and the failed
// ones are made visible again after a backoff.
type Poller struct {
	q                          Queue
	h                          Handler
	o                          PollOptions
	received, deleted, retried atomic.Int64
}

// NewPoller returns a Poller of q that hands batches to h.
func NewPoller(q Queue, h Handler, o PollOptions) (*Poller, error) {
	if q == nil || h == nil {
		return nil, errors.New("sqs: NewPoller needs a queue and a handler")
	}
	if o.BatchSize < 0 || o.BatchSize > MaxBatchEntries {
		return nil, fmt.Errorf("sqs: batch size %d: want 1 to %d", o.BatchSize, MaxBatchEntries)
	}
	if o.BatchSize == 0 {
		o.BatchSize = MaxBatchEntries
	}
	if o.Wait <= 0 {
		o.Wait = 5 * time.Second
		if o.Drain {
			o.Wait = time.Second
		}
	}
	if o.Visibility <= 0 {
		o.Visibility = 5 * time.Minute
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Poller{q: q, h: h, o: o}, nil
}

// Stats returns the counts so far.
func (p *Poller) Stats() PollStats {
	return PollStats{Received: p.received.Load(), Deleted: p.deleted.Load(), Retried: p.retried.Load()}
}

// Run polls until ctx is done (it then returns ctx.Err() once the batch in
// hand is settled) or, with Drain, until the queue is empty.
func (p *Poller) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		msgs, err := p.q.Receive(ctx, p.o.BatchSize, p.o.Wait, p.o.Visibility)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		if len(msgs) == 0 {
			if p.o.Drain {
				visible, inFlight, err := p.q.Depth(ctx)
				if err != nil {
					return fmt.Errorf("sqs: depth of %s: %w", p.q.URL(), err)
				}
				if visible == 0 && inFlight == 0 {
					return nil
				}
			}
			continue
		}
		p.received.Add(int64(len(msgs)))
		if err := p.settle(ctx, msgs, p.invoke(ctx, msgs)); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// invoke hands msgs to the handler and returns the set of failed ids.
func (p *Poller) invoke(ctx context.Context, msgs []Message) map[string]bool {
	failedIDs, err := p.h(ctx, p.event(msgs))
	failed := map[string]bool{}
	if err != nil { // the invocation failed: every message is retried
		p.o.Log.Warn("batch failed", "queue", p.q.URL(), "messages", len(msgs), "error", err)
		for _, m := range msgs {
			failed[m.ID] = true
		}
		return failed
	}
	for _, id := range failedIDs {
		failed[id] = true
	}
	return failed
}

// settle deletes what was handled and, after a backoff, releases the rest.
func (p *Poller) settle(ctx context.Context, msgs []Message, failed map[string]bool) error {
	var done, again []string
	for _, m := range msgs {
		if failed[m.ID] {
			again = append(again, m.ReceiptHandle)
		} else {
			done = append(done, m.ReceiptHandle)
		}
	}
	if err := p.q.Delete(ctx, done); err != nil {
		return err
	}
	p.deleted.Add(int64(len(done)))
	if len(again) == 0 {
		return nil
	}
	n := p.retried.Add(int64(len(again)))
	retry.Sleep(ctx, retry.Delay(int(n%8))) // back off before they come back; ends early on ctx
	return p.q.Release(context.WithoutCancel(ctx), again)
}

// event is the SQS event Lambda would send for msgs.
func (p *Poller) event(msgs []Message) events.SQSEvent {
	arn := "arn:aws:sqs:" + p.o.Region + ":000000000000:" + queueName(p.q.URL())
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = events.SQSMessage{
			MessageId: m.ID, ReceiptHandle: m.ReceiptHandle, Body: string(m.Body), EventSource: "aws:sqs", EventSourceARN: arn,
			AWSRegion: p.o.Region,
			Attributes: map[string]string{
				"SentTimestamp":           strconv.FormatInt(m.SentAt.UnixMilli(), 10),
				"ApproximateReceiveCount": strconv.Itoa(m.ReceiveCount),
			},
		}
	}
	return ev
}

// queueName is the last path segment of a queue URL.
func queueName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }
