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
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/table"
)

// Committer commits the staged batches of SQS events to one table.
type Committer struct {
	tb  *table.Table
	log *slog.Logger
}

// New returns a Committer of tb, logging each invocation to log (nil: the
// default logger).
func New(tb *table.Table, log *slog.Logger) (*Committer, error) {
	if tb == nil {
		return nil, errors.New("tablecommit: nil table")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Committer{tb: tb, log: log}, nil
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
	var resp events.SQSEventResponse
	fail := func(id string) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	if len(ev.Records) > table.MaxStagedBatches {
		return resp, fmt.Errorf("tablecommit: %d messages in one invocation, at most %d: lower the event source mapping's batch size",
			len(ev.Records), table.MaxStagedBatches)
	}
	staged := make([]table.Staged, 0, len(ev.Records))
	ids := make([]string, 0, len(ev.Records))
	for _, m := range ev.Records {
		st, err := c.tb.ReadStaged(ctx, []byte(m.Body))
		if err != nil {
			c.log.Error("not a staged batch", "message_id", m.MessageId, "error", err.Error())
			fail(m.MessageId)
			continue
		}
		staged = append(staged, st)
		ids = append(ids, m.MessageId)
	}
	if len(staged) == 0 {
		return resp, nil
	}
	res, err := c.tb.CommitStaged(ctx, staged)
	if err != nil {
		c.log.Error("commit failed", "batches", len(staged), "attempts", res.Attempts, "error", err.Error())
		return events.SQSEventResponse{}, err
	}
	already, refused := 0, 0
	for i, r := range res.Results {
		switch {
		case r.Err != nil:
			refused++
			c.log.Error("staged batch refused", "message_id", ids[i], "batch", r.Batch, "error", r.Err.Error())
			fail(ids[i])
		case r.AlreadyCommitted:
			already++
		}
	}
	c.log.Info("committed", "messages", len(ev.Records), "batches", res.Batches, "files", res.Files,
		"already_committed", already, "refused", refused+len(ev.Records)-len(staged),
		"snapshot_id", res.SnapshotID, "attempts", res.Attempts)
	return resp, nil
}
