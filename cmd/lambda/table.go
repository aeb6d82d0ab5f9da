//go:build iceberg

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/function/tablecommit"
	"github.com/eventlake/eventlake/internal/function/tablemaint"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/pipeline"
	"github.com/eventlake/eventlake/internal/sqs"
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
		if cfg.TableCommitQueueURL == "" {
			sink, err = table.NewSink(tb, dead)
		} else {
			sink, err = stagingSink(ctx, cfg, tb, dead)
		}
		if err == nil {
			return sink, closeTable, nil
		}
	}
	closeTable()
	return nil, nil, err
}

// stagingSink returns the sink that stages each batch and sends it to the
// table's committer, EVENTLAKE_TABLE_COMMIT_QUEUE_URL.
func stagingSink(ctx context.Context, cfg function.Config, tb *table.Table, dead *lake.Writer) (*table.Sink, error) {
	q, err := sqs.Open(ctx, cfg.TableCommitQueueURL, sqs.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", function.EnvTableCommitQueueURL, err)
	}
	return table.NewStagingSink(tb, dead, func(ctx context.Context, st table.Staged) error {
		msg, err := tb.StageMessage(ctx, st)
		if err != nil {
			return err
		}
		return q.SendAll(ctx, [][]byte{msg})
	})
}

// committer runs the table's committer (the "commit" handler): it commits
// the staged batches the landing functions send to its queue. The table
// must exist (the landing function creates it before it stages anything),
// so its role needs no glue:CreateTable.
func committer(ctx context.Context, cfg function.Config, log *slog.Logger) (func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), func() error, error) {
	if cfg.TableURL == "" {
		return nil, nil, fmt.Errorf("the commit handler needs %s, the table to commit to", function.EnvTable)
	}
	tb, closeTable, err := tableurl.Open(ctx, cfg.TableURL, &tableurl.Options{Table: table.Options{MustExist: true}})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", function.EnvTable, err)
	}
	c, err := tablecommit.New(tb, tablecommit.Options{Log: log, Metrics: os.Stdout, Namespace: cfg.MetricsNamespace,
		FunctionName: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")})
	if err != nil {
		closeTable()
		return nil, nil, err
	}
	return c.SQS, closeTable, nil
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
