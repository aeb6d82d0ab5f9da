// Package tablecommit is the Iceberg table's committer: the function that
// drains the commit queue, where landing functions hand their staged
// batches (table.Stage, table.NewStagingSink), and commits what one
// invocation receives in one snapshot (table.CommitStaged). Hundreds of
// shards committing every batch to one table would spend their time
// losing compare-and-swaps on its catalog row (docs/iceberg.md, "A
// committer per table"); one committer, or two, commit many batches a
// snapshot. It is its own package so that only the bootstrap built with
// -tags iceberg links iceberg-go.
package tablecommit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/table"
)

// Committer commits the staged batches of SQS events to one table.
type Committer struct {
	tb   *table.Table
	opts Options
}

// Options tune a Committer. Zero values mean defaults.
type Options struct {
	Log *slog.Logger // each invocation's line (nil: the default logger)
	// Metrics, if set, takes each invocation's EMF document
	// (function.EmitCommit) in Namespace, for FunctionName.
	Metrics                 io.Writer
	Namespace, FunctionName string
}

// New returns a Committer of tb.
func New(tb *table.Table, opts Options) (*Committer, error) {
	if tb == nil {
		return nil, errors.New("tablecommit: nil table")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Committer{tb: tb, opts: opts}, nil
}

// SQS commits the staged batches of ev in one snapshot (at most
// table.MaxStagedBatches messages: the event source mapping's batch size
// is below it). A message that is not a staged batch, or whose batch
// cannot be committed (its files are not this table's, or the table holds
// its positions with other rows), is reported failed: the queue delivers
// it again and, after its maxReceiveCount, keeps it in its dead-letter
// queue with its original bytes; the others commit. An error of the commit
// as a whole (the catalog, too many conflicts) fails the invocation, and
// every message is delivered again: the batches a retry finds committed
// commit nothing.
func (c *Committer) SQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	start := time.Now()
	m := function.CommitMetrics{Messages: len(ev.Records)}
	var resp events.SQSEventResponse
	defer func() {
		m.Took = time.Since(start)
		if !m.Failed {
			m.Refused = len(resp.BatchItemFailures)
		}
		if c.opts.Metrics != nil {
			function.EmitCommit(c.opts.Metrics, c.opts.Namespace, c.opts.FunctionName, m)
		}
	}()
	log := c.opts.Log
	fail := func(id string) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	if len(ev.Records) > table.MaxStagedBatches {
		m.Failed = true
		return resp, fmt.Errorf("tablecommit: %d messages in one invocation, at most %d: lower the event source mapping's batch size",
			len(ev.Records), table.MaxStagedBatches)
	}
	staged := make([]table.Staged, 0, len(ev.Records))
	ids := make([]string, 0, len(ev.Records))
	for _, msg := range ev.Records {
		st, err := c.tb.ReadStaged(ctx, []byte(msg.Body))
		if err != nil {
			log.Error("not a staged batch", "message_id", msg.MessageId, "error", err.Error())
			fail(msg.MessageId)
			continue
		}
		staged = append(staged, st)
		ids = append(ids, msg.MessageId)
		if age := time.Since(time.UnixMilli(st.StagedAt)).Milliseconds(); age > m.OldestAge {
			m.OldestAge = age
		}
	}
	if len(staged) == 0 {
		return resp, nil
	}
	res, err := c.tb.CommitStaged(ctx, staged)
	m.Attempts = res.Attempts
	if err != nil {
		m.Failed = true
		log.Error("commit failed", "batches", len(staged), "attempts", res.Attempts, "error", err.Error())
		return events.SQSEventResponse{}, err
	}
	already, refused := 0, 0
	for i, r := range res.Results {
		switch {
		case r.Err != nil:
			refused++
			log.Error("staged batch refused", "message_id", ids[i], "batch", r.Batch, "error", r.Err.Error())
			fail(ids[i])
		case r.AlreadyCommitted:
			already++
		}
	}
	m.BatchesCommitted, m.AlreadyCommitted = res.Batches, already
	log.Info("committed", "messages", len(ev.Records), "batches", res.Batches, "files", res.Files,
		"already_committed", already, "refused", refused+len(ev.Records)-len(staged),
		"snapshot_id", res.SnapshotID, "attempts", res.Attempts)
	return resp, nil
}
