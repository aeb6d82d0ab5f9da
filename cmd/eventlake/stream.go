package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/invoke"
	"github.com/eventlake/eventlake/internal/kinesis"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/sqs"
)

// streamFlags are the flags of run --from kinesis:// and sqs://.
type streamFlags struct {
	kinesisEndpoint, sqsEndpoint string
	checkpoint, start, at        string
	batchSize                    int
	window, visibility           time.Duration
	drain, bisect                bool
	invoke                       string
	maxRetries                   int
	onFailure, deadLetterQueue   string
}

func (f *streamFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.kinesisEndpoint, "kinesis-endpoint", "", "Kinesis endpoint URL (else AWS_ENDPOINT_URL_KINESIS)")
	fs.StringVar(&f.sqsEndpoint, "sqs-endpoint", "", "SQS endpoint URL (else AWS_ENDPOINT_URL_SQS)")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "kinesis: checkpoint file (default eventlake-<stream>.checkpoint.json)")
	fs.StringVar(&f.start, "start", "TRIM_HORIZON", "kinesis: where shards without a checkpoint start: TRIM_HORIZON, LATEST or AT_TIMESTAMP")
	fs.StringVar(&f.at, "at", "", "kinesis: the RFC 3339 time for --start AT_TIMESTAMP")
	fs.IntVar(&f.batchSize, "batch-size", 100, "records per invocation (Kinesis up to 10000, SQS up to 10)")
	fs.DurationVar(&f.window, "batch-window", 0, "kinesis: wait up to this long to fill a batch")
	fs.DurationVar(&f.visibility, "visibility", 5*time.Minute, "sqs: how long a received message stays hidden before it is delivered again (the queue's visibility timeout in the SQS event source mapping)")
	fs.BoolVar(&f.drain, "drain", false, "exit once everything in the stream or queue is read and written")
	fs.BoolVar(&f.bisect, "bisect", false, "kinesis: split a batch in two when the function fails (not on partial batch responses); the halves are named anew, so objects from the failed attempt may be written twice")
	fs.StringVar(&f.invoke, "invoke", "", "post batches to this Lambda invocation URL (e.g. the runtime interface emulator) instead of running the function here")
	fs.IntVar(&f.maxRetries, "max-retries", 10, "kinesis: retries of a failing batch before the on-failure destination (-1: forever)")
	fs.StringVar(&f.onFailure, "on-failure", "", "kinesis: where batches that keep failing are described: sqs://QUEUE or a file (default: stderr only)")
	fs.StringVar(&f.deadLetterQueue, "dead-letter-queue", "", "send dead letters to this SQS queue (sqs://NAME or URL) instead of the lake")
}

// check refuses values no stream run can use (a usage mistake).
func (f *streamFlags) check(from string) error {
	start := strings.ToUpper(f.start)
	switch start {
	case string(kinesis.TrimHorizon), string(kinesis.Latest), string(kinesis.AtTimestamp):
	default:
		return badUsage("--start %q: want TRIM_HORIZON, LATEST or AT_TIMESTAMP", f.start)
	}
	if _, err := time.Parse(time.RFC3339, f.at); f.at != "" && err != nil {
		return badUsage("--at %q: want an RFC 3339 time like 2026-11-01T00:00:00Z", f.at)
	}
	if start == string(kinesis.AtTimestamp) && f.at == "" && strings.HasPrefix(from, "kinesis://") {
		return badUsage("--start AT_TIMESTAMP needs --at")
	}
	if f.batchSize < 1 || f.batchSize > 10000 {
		return badUsage("--batch-size %d: want 1 to 10000 (Kinesis; SQS takes at most 10)", f.batchSize)
	}
	if f.window < 0 || f.maxRetries < -1 {
		return badUsage("--batch-window %s, --max-retries %d: want a window not negative and retries of -1 (forever) or more", f.window, f.maxRetries)
	}
	if f.visibility < time.Second || f.visibility > 12*time.Hour || f.visibility%time.Second != 0 {
		return badUsage("--visibility %s: want whole seconds from 1s to 12h (the SQS limits)", f.visibility)
	}
	return nil
}

// lambdaFunction is the function the stream mappings invoke: the handler
// run here (*function.Handler) or one elsewhere (*invoke.Client).
type lambdaFunction interface {
	kinesis.Function
	sqs.Function
}

var (
	_ lambdaFunction = (*function.Handler)(nil)
	_ lambdaFunction = (*invoke.Client)(nil)
)

// newFunction is the function --invoke names, or else the handler run here
// over the lake the lake flags describe; the returned func closes it.
func (e env) newFunction(ctx context.Context, lf *lakeFlags, sf *streamFlags, log *slog.Logger) (lambdaFunction, func(), error) {
	if sf.invoke != "" {
		c, err := invoke.New(sf.invoke, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("--invoke: %w", err)
		}
		return c, func() {}, nil
	}
	if lf.lake == "" {
		return nil, nil, errors.New("--lake is required (or --invoke a function that knows its lake)")
	}
	p, err := lf.parse()
	if err != nil {
		return nil, nil, err
	}
	store, err := lakeurl.Open(ctx, lf.lake, &lakeurl.Options{S3Endpoint: lf.s3Endpoint})
	if err != nil {
		return nil, nil, fmt.Errorf("--lake: %w", err)
	}
	deps := function.Deps{Lake: store, Log: log, FunctionName: "eventlake-cli"}
	if sf.deadLetterQueue != "" {
		q, err := sqs.Open(ctx, sf.deadLetterQueue, sqs.Options{Endpoint: sf.sqsEndpoint})
		if err != nil {
			store.Close()
			return nil, nil, fmt.Errorf("--dead-letter-queue: %w", err)
		}
		deps.DeadLetters = q
	}
	closeAll := func() { store.Close() }
	if lf.table {
		// Into the lake folder's Iceberg table, as run --iceberg does: each
		// delivered batch one commit named by its positions, so a replay
		// (from TRIM_HORIZON, or a retried batch) commits nothing again.
		w, err := lake.NewWriter(store, &lake.WriterOptions{Compression: p.comp})
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		sink, closeTable, err := openTable(ctx, lf.lake, p.layout, w)
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		deps.Sink = sink
		closeAll = func() { closeTable(); store.Close() }
	}
	cfg := function.Config{Layout: p.layout, Compression: p.comp, MaxEventSize: lf.maxEventSize, DeadLetterMaxBytes: sqs.MaxBatchBytes, MetricsNamespace: "eventlake"}
	h, err := function.New(cfg, deps)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return h, closeAll, nil
}

// runKinesis consumes a stream like the Lambda event source mapping.
func (e env) runKinesis(ctx context.Context, from string, lf *lakeFlags, sf *streamFlags) error {
	stream, err := kinesis.StreamName(from)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fn, closeFn, err := e.newFunction(ctx, lf, sf, log)
	if err != nil {
		return err
	}
	defer closeFn()
	api, err := kinesis.NewAPI(ctx, kinesis.Options{Endpoint: sf.kinesisEndpoint})
	if err != nil {
		return err
	}
	cpPath := sf.checkpoint
	if cpPath == "" {
		cpPath = "eventlake-" + stream + ".checkpoint.json"
	}
	cps, err := kinesis.LoadCheckpoints(cpPath, stream)
	if err != nil {
		return err
	}
	opts := kinesis.ConsumerOptions{
		Start: kinesis.StartPosition(strings.ToUpper(sf.start)), BatchSize: sf.batchSize, Window: sf.window,
		MaxRetries: sf.maxRetries, Bisect: sf.bisect, Checkpoints: cps, Drain: sf.drain, Log: log,
	}
	if sf.at != "" {
		if opts.Timestamp, err = time.Parse(time.RFC3339, sf.at); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	opts.OnFailure, err = e.onFailure(ctx, sf)
	if err != nil {
		return err
	}
	c, err := kinesis.NewConsumer(api, stream, kinesis.FunctionProcessor(fn, os.Getenv("AWS_REGION")), opts)
	if err != nil {
		return err
	}
	startT := time.Now()
	stop := e.progress(lf.quiet, func() string {
		s := c.Stats()
		return fmt.Sprintf("%d records in %d batches  %d retries  %d shards done", s.Records, s.Batches, s.Retries, s.ShardsDone)
	})
	err = c.Run(ctx)
	stop()
	s := c.Stats()
	secs := time.Since(startT).Seconds()
	fmt.Fprintf(e.stdout, "records          %12d  (%.0f records/s)\nbatches          %12d  (%d invocations, %d retries)\non-failure       %12d\nshards done      %12d\ncheckpoint       %s\n",
		s.Records, float64(s.Records)/secs, s.Batches, s.Invocations, s.Retries, s.SentToOnFailure, s.ShardsDone, cpPath)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	return nil
}

// onFailure is the on-failure destination --on-failure names: a queue, a
// file, or (by default) stderr.
func (e env) onFailure(ctx context.Context, sf *streamFlags) (kinesis.OnFailure, error) {
	invokeCount := sf.maxRetries + 1
	switch {
	case sf.onFailure == "":
		return kinesis.LogFailures(e.stderr, invokeCount), nil
	case strings.HasPrefix(sf.onFailure, "sqs://") || strings.HasPrefix(sf.onFailure, "http"):
		q, err := sqs.Open(ctx, sf.onFailure, sqs.Options{Endpoint: sf.sqsEndpoint})
		if err != nil {
			return nil, fmt.Errorf("--on-failure: %w", err)
		}
		return kinesis.SendFailures(q, invokeCount), nil
	default:
		return kinesis.AppendFailures(sf.onFailure, invokeCount), nil
	}
}

// runSQS consumes the ingestion queue like the SQS event source mapping:
// messages are deleted only after they are written (or are dead letters).
func (e env) runSQS(ctx context.Context, from string, lf *lakeFlags, sf *streamFlags) error {
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fn, closeFn, err := e.newFunction(ctx, lf, sf, log)
	if err != nil {
		return err
	}
	defer closeFn()
	q, err := sqs.Open(ctx, from, sqs.Options{Endpoint: sf.sqsEndpoint})
	if err != nil {
		return err
	}
	poller, err := sqs.NewPoller(q, sqs.FunctionHandler(fn), sqs.PollOptions{
		BatchSize: min(max(sf.batchSize, 1), sqs.MaxBatchEntries), Visibility: sf.visibility, Drain: sf.drain, Region: os.Getenv("AWS_REGION"), Log: log,
	})
	if err != nil {
		return err
	}
	startT := time.Now()
	stop := e.progress(lf.quiet, func() string {
		s := poller.Stats()
		return fmt.Sprintf("%d messages received  %d written  %d to retry", s.Received, s.Deleted, s.Retried)
	})
	defer stop()
	err = poller.Run(ctx)
	stop()
	s := poller.Stats()
	fmt.Fprintf(e.stdout, "messages         %12d  (%.0f messages/s)\nwritten          %12d\nretried          %12d\n", s.Received, float64(s.Received)/time.Since(startT).Seconds(), s.Deleted, s.Retried)
	if ctx.Err() != nil {
		return errInterrupted
	}
	return err
}
