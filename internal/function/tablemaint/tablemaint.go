// Package tablemaint gives the compaction function (internal/function) the
// Iceberg table to maintain: function.Table over internal/table's Compact,
// ExpireSnapshots and DeleteOrphans. It is its own package so that only
// the bootstrap built with -tags iceberg links iceberg-go (docs/iceberg.md,
// "Glue and the Lambda").
package tablemaint

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/table"
)

// Opener opens the table to maintain. It must not create it: a missing
// table is table.ErrNoTable (table.Options.MustExist), so the maintainer
// needs no right to create tables and a run before the landing function's
// first start does nothing.
type Opener func(ctx context.Context) (tb *table.Table, release func() error, err error)

// Table is a function.Table that opens the table at its first use and
// keeps it open; until the table exists each use tries again.
type Table struct {
	open Opener

	mu      sync.Mutex
	tb      *table.Table
	release func() error
}

var _ function.Table = (*Table)(nil)

// New returns the table open opens.
func New(open Opener) (*Table, error) {
	if open == nil {
		return nil, errors.New("tablemaint: no opener")
	}
	return &Table{open: open}, nil
}

// Close releases the table, if it was opened.
func (t *Table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.release == nil {
		return nil
	}
	err := t.release()
	t.tb, t.release = nil, nil
	return err
}

func (t *Table) table(ctx context.Context) (*table.Table, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tb != nil {
		return t.tb, nil
	}
	tb, release, err := t.open(ctx)
	if errors.Is(err, table.ErrNoTable) {
		return nil, function.ErrNoTable
	}
	if err != nil {
		return nil, err
	}
	t.tb, t.release = tb, release
	return tb, nil
}

// Compact is table.Compact with TargetSize targetSize, MergeBy mergeBy and
// the other options at their defaults (the CLI's).
func (t *Table) Compact(ctx context.Context, targetSize int64, mergeBy time.Time) (function.TableCompaction, error) {
	tb, err := t.table(ctx)
	if err != nil {
		return function.TableCompaction{}, err
	}
	r, err := tb.Compact(ctx, table.CompactOptions{TargetSize: targetSize, MergeBy: mergeBy})
	return function.TableCompaction{
		Partitions: r.Partitions, Committed: r.Committed, Already: r.Already, Dropped: r.Dropped, Failed: r.Failed, Deferred: r.Deferred,
		FilesBefore: r.FilesBefore, FilesAfter: r.FilesAfter, BytesBefore: r.BytesBefore, BytesAfter: r.BytesAfter,
		Events: r.Events, Duplicates: r.Duplicates, Attempts: r.Attempts,
	}, err
}

// ExpireSnapshots is table.ExpireSnapshots.
func (t *Table) ExpireSnapshots(ctx context.Context, olderThan time.Duration, retainLast, rememberBatches int) (function.TableExpiry, error) {
	tb, err := t.table(ctx)
	if err != nil {
		return function.TableExpiry{}, err
	}
	r, err := tb.ExpireSnapshots(ctx, table.ExpireOptions{OlderThan: olderThan, RetainLast: retainLast, RememberBatches: rememberBatches})
	return function.TableExpiry{Expired: r.Expired, Kept: r.Kept, Batches: r.Batches, Remembered: r.Remembered, Forgotten: r.Forgotten}, err
}

// DeleteOrphans is table.DeleteOrphans with OlderThan grace.
func (t *Table) DeleteOrphans(ctx context.Context, grace time.Duration) (function.TableOrphans, error) {
	if grace <= 0 {
		return function.TableOrphans{}, errors.New("tablemaint: the orphan sweep needs a grace period")
	}
	tb, err := t.table(ctx)
	if err != nil {
		return function.TableOrphans{}, err
	}
	r, err := tb.DeleteOrphans(ctx, table.OrphanOptions{OlderThan: grace})
	return function.TableOrphans{Deleted: len(r.Deleted), Bytes: r.Bytes, Young: r.Young}, err
}
