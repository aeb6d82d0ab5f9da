//go:build iceberg

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventlake/eventlake/internal/query"
	"github.com/eventlake/eventlake/internal/table"
)

// queryTable runs q over the snapshot r selects of the Iceberg table in the
// lake folder dir: the table plans the read (its data files, refusing
// delete files; each file's event_type from its partition), DuckDB reads
// the files (query.RunFiles), skipping those of other types when the SQL
// filters on event_type. It says on stderr which snapshot it read.
// internal/query knows nothing of Iceberg, so that the default binary
// stays without iceberg-go.
func (e env) queryTable(ctx context.Context, dir, q string, r tableRead, opts *query.Options) (*query.Result, error) {
	tb, err := table.Open(ctx, table.Options{Warehouse: dir, MustExist: true})
	if errors.Is(err, table.ErrNoTable) {
		return nil, fmt.Errorf("--iceberg: %w: land events into it first (eventlake run --iceberg --lake %s --from FILE)", err, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("--iceberg: %w", err)
	}
	defer tb.Close()
	if r.list {
		return snapshotList(ctx, tb)
	}
	at := table.Current()
	switch {
	case r.hasSnapshot:
		at = table.SnapshotID(r.snapshot)
	case !r.asOf.IsZero():
		at = table.AsOf(r.asOf)
	}
	planned, info, err := tb.Files(ctx, at)
	if err != nil {
		return nil, err
	}
	files := make([]query.File, len(planned))
	for i, f := range planned {
		files[i] = query.File{Type: f.EventType, TypeKnown: f.TypeKnown}
		if files[i].Path, err = table.LocalPath(f.Location); err != nil {
			return nil, err
		}
	}
	if info.ID == 0 {
		fmt.Fprintf(e.stderr, "the table in %s has no snapshot yet: no rows\n", dir)
	} else {
		batch := ""
		if info.Batch != "" {
			batch = ", batch " + info.Batch
		}
		fmt.Fprintf(e.stderr, "snapshot %d (%s %s%s): %d rows in %d data files (%s)\n",
			info.ID, info.Operation, info.Time.Format(time.RFC3339Nano), batch, info.Rows, info.Files, bytesize(info.Bytes))
	}
	return query.RunFiles(ctx, dir, files, q, opts)
}

// snapshotList is the table's snapshots as a result to print, oldest
// first: what --snapshot and --as-of can select.
func snapshotList(ctx context.Context, tb *table.Table) (*query.Result, error) {
	snaps, err := tb.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	res := &query.Result{Columns: []string{"snapshot_id", "committed_at", "operation", "batch", "rows", "data_files", "current"}}
	for _, s := range snaps {
		res.Rows = append(res.Rows, []any{s.ID, s.Time, s.Operation, s.Batch, s.Rows, s.Files, s.Current})
	}
	return res, nil
}
