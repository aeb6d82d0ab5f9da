//go:build iceberg

package main

import (
	"context"
	"fmt"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/function/tablemaint"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/pipeline"
	"github.com/eventlake/eventlake/internal/table"
	"github.com/eventlake/eventlake/internal/table/tableurl"
)

// tableSink opens the Iceberg table EVENTLAKE_TABLE names (creating it at
// the first start) and returns the sink that lands batches into it, its
// dead letters written to the lake store as the lake writer writes them.
func tableSink(ctx context.Context, cfg function.Config, store lake.Store) (pipeline.Sink, func() error, error) {
	tb, closeTable, err := tableurl.Open(ctx, cfg.TableURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", function.EnvTable, err)
	}
	dead, err := lake.NewWriter(store, &lake.WriterOptions{Compression: cfg.Compression, Format: cfg.Format})
	if err == nil {
		var sink *table.Sink
		if sink, err = table.NewSink(tb, dead); err == nil {
			return sink, closeTable, nil
		}
	}
	closeTable()
	return nil, nil, err
}

// maintainedTable is the table EVENTLAKE_TABLE names, for the compaction
// function to maintain. It is opened at the first run, never created (the
// landing function creates it): until then a run does nothing, and the
// function's role needs no glue:CreateTable.
func maintainedTable(cfg function.CompactConfig) (function.Table, func() error, error) {
	if _, err := tableurl.Parse(cfg.TableURL); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", function.EnvTable, err)
	}
	tb, err := tablemaint.New(func(ctx context.Context) (*table.Table, func() error, error) {
		return tableurl.Open(ctx, cfg.TableURL, &tableurl.Options{Table: table.Options{MustExist: true}})
	})
	if err != nil {
		return nil, nil, err
	}
	return tb, tb.Close, nil
}
