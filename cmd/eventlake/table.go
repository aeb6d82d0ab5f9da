//go:build iceberg

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/pipeline"
	"github.com/eventlake/eventlake/internal/table"
)

// Landing into the Iceberg table (run/demo --iceberg, issue 12), in binaries
// built with -tags iceberg: importing iceberg-go costs every command of the
// binary ~0.2 s and ~50 MB of resident memory at start (its substrait
// package's init), docs/iceberg.md. The table lives in the lake folder: the SQLite catalog at <lake>/catalog.db and the
// table's metadata and Parquet data files below <lake>/eventlake.db/events/,
// which any Iceberg tool opens with that catalog (docs/iceberg.md).

// icebergBuilt: this binary can land into the table.
const icebergBuilt = true

// openTable opens (creating if absent) the table in the lake folder and
// returns the sink that commits each batch to it, dead letters written by
// w.
func openTable(ctx context.Context, lakeURL string, layout lake.Layout, w *lake.Writer) (pipeline.Sink, func() error, error) {
	dir, _ := localLake(lakeURL)
	tb, err := table.Open(ctx, table.Options{Warehouse: dir, Hourly: layout == lake.LayoutHourly})
	if err != nil {
		return nil, nil, fmt.Errorf("--iceberg: %w", err)
	}
	sink, err := table.NewSink(tb, w)
	if err != nil {
		tb.Close()
		return nil, nil, err
	}
	return conflictHint{sink}, tb.Close, nil
}

// conflictHint adds what to do to the table's refusal of a batch that
// shares its name with another input's.
type conflictHint struct{ *table.Sink }

func (c conflictHint) Write(ctx context.Context, name lake.Name, objs []lake.Object) error {
	err := c.Sink.Write(ctx, name, objs)
	if errors.Is(err, table.ErrConflictingBatch) {
		return fmt.Errorf("%w: an input of the same name (%q) with other events was landed before; give this one its own --source-id", err, name.Source)
	}
	return err
}

// showTable prints what the table holds and how to open it.
func showTable(ctx context.Context, w io.Writer, dir string) error {
	tb, err := table.Open(ctx, table.Options{Warehouse: dir})
	if err != nil {
		return err
	}
	defer tb.Close()
	s, err := tb.Describe(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nThe table %s in %s: %d rows in %d Parquet data files (%.1f MB), %d snapshots.\n",
		s.Name, dir, s.Rows, s.Files, float64(s.Bytes)/1e6, s.Snapshots)
	for i, t := range s.Types {
		if i == 4 {
			fmt.Fprintf(w, "  ... and %d more event types\n", len(s.Types)-4)
			break
		}
		fmt.Fprintf(w, "  %s/  (%d data files)\n", t.Folder, t.Files)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	fmt.Fprintf(w, "\nOpen it with any Iceberg tool through its SQLite catalog, e.g. PyIceberg:\n"+
		"  load_catalog(\"eventlake\", type=\"sql\", uri=\"sqlite:///%s\", warehouse=\"file://%s\").load_table(\"eventlake.events\")\n",
		filepath.Join(abs, table.CatalogFile), strings.TrimSuffix(abs, "/"))
	fmt.Fprintf(w, "Dead letters: %s\n", filepath.Join(dir, lake.DeadLetterPrefix))
	fmt.Fprintf(w, "\nRun the same command again: every batch is already in the table, so nothing is committed.\n")
	return nil
}
