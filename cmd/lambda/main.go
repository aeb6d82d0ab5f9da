// Command lambda is the eventlake Lambda function (built as "bootstrap" for
// the provided.al2023 runtime; see scripts/buildlambda). The function's
// handler setting (the _HANDLER variable of custom runtimes) picks the job:
// "land" (or empty) lands Kinesis and SQS batches in the S3 lake (or, when
// EVENTLAKE_TABLE is set and it is built with -tags iceberg, in an Iceberg
// table in Glue);
// "compact" compacts the lake, run on a schedule (and, when EVENTLAKE_TABLE
// is set and it is built with -tags iceberg, maintains the table: compaction,
// snapshot expiry, orphan files);
// "commit" (built with -tags iceberg) commits the batches that landing
// functions with EVENTLAKE_TABLE_COMMIT_QUEUE_URL staged, many per snapshot. Configuration comes from
// the environment: see internal/function/config.go and compact.go.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/sqs"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "eventlake function:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	switch h := os.Getenv("_HANDLER"); h {
	case "", "land", "bootstrap":
		return land(ctx)
	case "compact":
		return compact(ctx)
	case "commit":
		return commit(ctx)
	default:
		return fmt.Errorf("unknown handler %q: want land, compact or commit", h)
	}
}

// commit runs the Iceberg table's committer: SQS events of staged batches
// (EVENTLAKE_TABLE_COMMIT_QUEUE_URL of the landing functions), committed
// many per snapshot. It reads the landing function's configuration.
func commit(ctx context.Context) error {
	cfg, err := function.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	setMemoryLimit()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	h, closeTable, err := committer(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeTable()
	lambda.Start(h)
	return nil
}

func compact(ctx context.Context) error {
	cfg, err := function.CompactConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	setMemoryLimit()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	store, err := lakeurl.Open(ctx, cfg.LakeURL, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", function.EnvLakeURL, err)
	}
	deps := function.CompactDeps{Lake: store, Log: log, Metrics: os.Stdout, FunctionName: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")}
	if cfg.TableURL != "" {
		tb, closeTable, err := maintainedTable(cfg)
		if err != nil {
			return err
		}
		defer closeTable()
		deps.Table = tb
	}
	if cfg.QueueURL != "" {
		q, err := sqs.Open(ctx, cfg.QueueURL, sqs.Options{})
		if err != nil {
			return fmt.Errorf("%s: %w", function.EnvCompactQueueURL, err)
		}
		deps.Queue = q
	}
	c, err := function.NewCompactor(cfg, deps)
	if err != nil {
		return err
	}
	lambda.Start(c.Invoke)
	return nil
}

// setMemoryLimit sets the Go memory limit to 80% of the function's memory
// unless GOMEMLIMIT says otherwise: collect harder before the function's
// memory runs out.
func setMemoryLimit() {
	if mb, err := strconv.ParseInt(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64); err == nil && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(mb << 20 * 8 / 10)
	}
}

func land(ctx context.Context) error {
	cfg, err := function.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	store, err := lakeurl.Open(ctx, cfg.LakeURL, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", function.EnvLakeURL, err)
	}
	deps := function.Deps{Lake: store, Log: log, Metrics: os.Stdout, FunctionName: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")}
	if cfg.TableURL != "" {
		sink, closeTable, err := tableSink(ctx, cfg, store)
		if err != nil {
			return err
		}
		defer closeTable()
		deps.Sink = sink
		setMemoryLimit() // Parquet encoding allocates ~10x a batch's bytes
	}
	if cfg.DeadLetterQueueURL != "" {
		q, err := sqs.Open(ctx, cfg.DeadLetterQueueURL, sqs.Options{})
		if err != nil {
			return fmt.Errorf("%s: %w", function.EnvDeadLetterQueueURL, err)
		}
		deps.DeadLetters = q
	}
	h, err := function.New(cfg, deps)
	if err != nil {
		return err
	}
	lambda.Start(h.Invoke)
	return nil
}
