// Package kinesis talks to Kinesis Data Streams: a producer that puts
// records in PutRecords batches with retries of failed entries only, and a
// consumer that does locally what the Lambda event source mapping does —
// every shard in order, parents before children, checkpoints after durable
// writes, partial-batch retries, bisection, and an on-failure destination.
// It also holds what joins the consumer to a Lambda function: the Kinesis
// event a mapping sends (Event, FunctionProcessor) and the on-failure
// destinations (a queue, a file, a log) with the record Lambda writes
// there (DescribeFailure). It is the only package that imports the Kinesis
// SDK.
package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eventlake/eventlake/internal/awsconfig"
	"github.com/eventlake/eventlake/internal/retry"
)

// PutRecords limits.
const (
	MaxPutRecords = 500
	MaxPutBytes   = 5 << 20 // data plus partition keys
)

// Options say how to reach Kinesis. Empty fields fall back to the AWS
// configuration (AWS_REGION, AWS_ENDPOINT_URL_KINESIS, ...).
type Options struct {
	Endpoint string
	Region   string
}

// NewAPI returns a Kinesis API client.
func NewAPI(ctx context.Context, opts Options) (*kinesis.Client, error) {
	cfg, err := awsconfig.Load(ctx, opts.Region)
	if err != nil {
		return nil, err
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	}), nil
}

// StreamName reads kinesis://NAME.
func StreamName(u string) (string, error) {
	name, ok := strings.CutPrefix(u, "kinesis://")
	if !ok || name == "" || strings.ContainsAny(name, "/?#") {
		return "", fmt.Errorf("bad stream %q: want kinesis://NAME", u)
	}
	return name, nil
}

// Entry is one record to put.
type Entry struct {
	PartitionKey string
	Data         []byte
}

// PutStats count what a Producer did.
type PutStats struct {
	Records, Bytes, Calls, Retried int64
}

// PutAPI is the part of the Kinesis API a Producer calls; *kinesis.Client
// is one, and unit tests use a fake.
type PutAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

var _ PutAPI = (*kinesis.Client)(nil)

// Producer puts records with PutRecords: batches of at most 500 records
// and 5 MiB, several calls at once, and only the failed entries of a call
// retried, with exponential backoff and full jitter.
type Producer struct {
	api         PutAPI
	stream      string
	concurrency int
	maxAttempts int

	records, bytes, calls, retried atomic.Int64
}

// NewProducer returns a producer for stream with at most concurrency calls
// in flight (0 means 8).
func NewProducer(api PutAPI, stream string, concurrency int) *Producer {
	if concurrency <= 0 {
		concurrency = 8
	}
	return &Producer{api: api, stream: stream, concurrency: concurrency, maxAttempts: 20}
}

// Stats returns the counts so far.
func (p *Producer) Stats() PutStats {
	return PutStats{Records: p.records.Load(), Bytes: p.bytes.Load(), Calls: p.calls.Load(), Retried: p.retried.Load()}
}

// PutAll puts every entry received from in until it is closed, and returns
// the first error (after which the rest of in is drained and dropped).
func (p *Producer) PutAll(ctx context.Context, in <-chan Entry) error {
	batches := make(chan []Entry, p.concurrency)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range p.concurrency {
		wg.Go(func() {
			for b := range batches {
				if err := p.put(ctx, b); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
	var cur []Entry
	size := 0
	for e := range in {
		n := len(e.Data) + len(e.PartitionKey)
		if len(cur) == MaxPutRecords || size+n > MaxPutBytes {
			batches <- cur
			cur, size = nil, 0
		}
		cur = append(cur, e)
		size += n
	}
	if len(cur) > 0 {
		batches <- cur
	}
	close(batches)
	wg.Wait()
	return first
}

func (p *Producer) put(ctx context.Context, entries []Entry) error {
	pending := entries
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		reqs := make([]types.PutRecordsRequestEntry, len(pending))
		for i, e := range pending {
			reqs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(e.PartitionKey), Data: e.Data}
		}
		p.calls.Add(1)
		out, err := p.api.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(p.stream), Records: reqs})
		var failed []Entry
		if err != nil {
			var tput *types.ProvisionedThroughputExceededException
			if !errors.As(err, &tput) && attempt >= 3 {
				return fmt.Errorf("kinesis: put to %s: %w", p.stream, err)
			}
			failed = pending
		} else {
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					failed = append(failed, pending[i])
					continue
				}
				p.records.Add(1)
				p.bytes.Add(int64(len(pending[i].Data)))
			}
		}
		if len(failed) == 0 {
			return nil
		}
		if attempt+1 >= p.maxAttempts {
			return fmt.Errorf("kinesis: %d records still failing after %d attempts", len(failed), attempt+1)
		}
		p.retried.Add(int64(len(failed)))
		pending = failed
		if err := retry.Wait(ctx, attempt); err != nil {
			return err
		}
	}
}
