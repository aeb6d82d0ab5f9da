package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/kinesis"
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

// processor runs one batch through the function, here or in a Lambda
// endpoint, and returns its partial batch response.
type processor struct {
	h      *function.Handler
	invoke string
	client *http.Client
	// one invocation at a time: a function endpoint such as the runtime
	// interface emulator is one execution environment, as a Lambda function
	// with a reserved concurrency of 1.
	invokeMu sync.Mutex
}

func (e env) newProcessor(ctx context.Context, lf *lakeFlags, sf *streamFlags, log *slog.Logger) (*processor, func(), error) {
	if sf.invoke != "" {
		return &processor{invoke: sf.invoke, client: &http.Client{Timeout: 15 * time.Minute}}, func() {}, nil
	}
	if lf.to == "" {
		return nil, nil, errors.New("--to is required (or --invoke a function that knows its lake)")
	}
	p, err := lf.parse()
	if err != nil {
		return nil, nil, err
	}
	store, err := lakeurl.Open(ctx, lf.to, &lakeurl.Options{S3Endpoint: lf.s3Endpoint})
	if err != nil {
		return nil, nil, fmt.Errorf("--to: %w", err)
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
	cfg := function.Config{Layout: p.layout, Compression: p.comp, MaxEventSize: lf.maxEventSize, DeadLetterMaxBytes: sqs.MaxBatchBytes, MetricsNamespace: "eventlake"}
	h, err := function.New(cfg, deps)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return &processor{h: h}, func() { store.Close() }, nil
}

// post sends an event to the Lambda endpoint and decodes its answer. A
// function error (an errorType in the answer) is returned as an error.
func (p *processor) post(ctx context.Context, event any, resp any) error {
	p.invokeMu.Lock()
	defer p.invokeMu.Unlock()
	body, err := json.Marshal(event)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.invoke, bytes.NewReader(body))
	if err != nil {
		return err
	}
	res, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	var fnErr struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(out, &fnErr) == nil && fnErr.ErrorType != "" {
		return fmt.Errorf("function error %s: %s", fnErr.ErrorType, fnErr.ErrorMessage)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("invoke: HTTP %d: %s", res.StatusCode, bytes.TrimSpace(out))
	}
	if err := json.Unmarshal(out, resp); err != nil {
		return fmt.Errorf("invoke: answer is not a batch response: %q", out)
	}
	return nil
}

// Process implements kinesis.Processor.
func (p *processor) Process(ctx context.Context, b kinesis.Batch) (string, error) {
	ev := kinesisEvent(b)
	var resp events.KinesisEventResponse
	var err error
	if p.h != nil {
		resp, err = p.h.Kinesis(ctx, ev)
	} else {
		err = p.post(ctx, ev, &resp)
	}
	if err != nil {
		return "", err
	}
	if len(resp.BatchItemFailures) > 0 {
		return resp.BatchItemFailures[0].ItemIdentifier, nil
	}
	return "", nil
}

// kinesisEvent is the event a Kinesis event source mapping would send.
func kinesisEvent(b kinesis.Batch) events.KinesisEvent {
	region := os.Getenv("AWS_REGION")
	ev := events.KinesisEvent{Records: make([]events.KinesisEventRecord, len(b.Records))}
	for i, r := range b.Records {
		rec := &ev.Records[i]
		rec.EventSource, rec.EventVersion, rec.EventName = "aws:kinesis", "1.0", "aws:kinesis:record"
		rec.EventID = b.ShardID + ":" + r.SequenceNumber
		rec.EventSourceArn, rec.AwsRegion = b.StreamARN, region
		rec.Kinesis.KinesisSchemaVersion = "1.0"
		rec.Kinesis.PartitionKey, rec.Kinesis.SequenceNumber, rec.Kinesis.Data = r.PartitionKey, r.SequenceNumber, r.Data
		rec.Kinesis.ApproximateArrivalTimestamp = events.SecondsEpochTime{Time: r.ArrivalTime}
	}
	return ev
}

// processSQS runs one SQS batch and returns the ids of failed messages.
func (p *processor) processSQS(ctx context.Context, ev events.SQSEvent) ([]string, error) {
	var resp events.SQSEventResponse
	var err error
	if p.h != nil {
		resp, err = p.h.SQS(ctx, ev)
	} else {
		err = p.post(ctx, ev, &resp)
	}
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(resp.BatchItemFailures))
	for i, f := range resp.BatchItemFailures {
		ids[i] = f.ItemIdentifier
	}
	return ids, nil
}

// runKinesis consumes a stream like the Lambda event source mapping.
func (e env) runKinesis(ctx context.Context, from string, lf *lakeFlags, sf *streamFlags) error {
	stream, err := kinesis.StreamName(from)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	proc, closeProc, err := e.newProcessor(ctx, lf, sf, log)
	if err != nil {
		return err
	}
	defer closeProc()
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
	c, err := kinesis.NewConsumer(api, stream, proc, opts)
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

// onFailure builds the on-failure destination: a description of the batch
// (shard, sequence range, cause), like Lambda's, to a queue or a file.
func (e env) onFailure(ctx context.Context, sf *streamFlags) (func(context.Context, kinesis.Batch, error) error, error) {
	describe := func(b kinesis.Batch, cause error) []byte {
		d, _ := json.Marshal(map[string]any{
			"requestContext":  map[string]any{"condition": "RetryAttemptsExhausted", "approximateInvokeCount": sf.maxRetries + 1},
			"responseContext": map[string]any{"error": cause.Error()},
			"KinesisBatchInfo": map[string]any{
				"shardId": b.ShardID, "startSequenceNumber": b.Records[0].SequenceNumber,
				"endSequenceNumber": b.Records[len(b.Records)-1].SequenceNumber, "batchSize": len(b.Records),
				"streamArn": b.StreamARN,
			},
			"timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		})
		return d
	}
	switch {
	case sf.onFailure == "":
		return func(_ context.Context, b kinesis.Batch, cause error) error {
			fmt.Fprintf(e.stderr, "on-failure: %s\n", describe(b, cause))
			return nil
		}, nil
	case strings.HasPrefix(sf.onFailure, "sqs://") || strings.HasPrefix(sf.onFailure, "http"):
		q, err := sqs.Open(ctx, sf.onFailure, sqs.Options{Endpoint: sf.sqsEndpoint})
		if err != nil {
			return nil, fmt.Errorf("--on-failure: %w", err)
		}
		return func(ctx context.Context, b kinesis.Batch, cause error) error {
			return q.SendAll(ctx, [][]byte{describe(b, cause)})
		}, nil
	default:
		path := sf.onFailure
		return func(_ context.Context, b kinesis.Batch, cause error) error {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			_, err = f.Write(append(describe(b, cause), '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}, nil
	}
}

// runSQS consumes the ingestion queue like the SQS event source mapping:
// messages are deleted only after they are written (or are dead letters).
func (e env) runSQS(ctx context.Context, from string, lf *lakeFlags, sf *streamFlags) error {
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	proc, closeProc, err := e.newProcessor(ctx, lf, sf, log)
	if err != nil {
		return err
	}
	defer closeProc()
	q, err := sqs.Open(ctx, from, sqs.Options{Endpoint: sf.sqsEndpoint})
	if err != nil {
		return err
	}
	poller, err := sqs.NewPoller(q, proc.processSQS, sqs.PollOptions{
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
