package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eventlake/eventlake/internal/retry"
)

// Record is one record read from a shard.
type Record struct {
	Data           []byte
	PartitionKey   string
	SequenceNumber string
	ArrivalTime    time.Time
}

// Batch is what the consumer hands to the processor: records of one shard,
// in order.
type Batch struct {
	Stream, StreamARN, ShardID string
	Records                    []Record
}

// Processor is invoked with each batch, as an event source mapping invokes
// a Lambda function.
type Processor interface {
	// Process handles b. It returns "" when every record is done, or the
	// sequence number of the first record not done (every record before it
	// is done), as a partial batch response says. An error means the
	// invocation failed and nothing is known to be done.
	Process(ctx context.Context, b Batch) (failedFrom string, err error)
}

// ProcessorFunc adapts a function to Processor.
type ProcessorFunc func(ctx context.Context, b Batch) (string, error)

// Process calls f.
func (f ProcessorFunc) Process(ctx context.Context, b Batch) (string, error) { return f(ctx, b) }

// StartPosition is where reading starts on a shard without a checkpoint.
type StartPosition string

const (
	TrimHorizon StartPosition = "TRIM_HORIZON"
	Latest      StartPosition = "LATEST"
	AtTimestamp StartPosition = "AT_TIMESTAMP"
)

// ConsumerOptions configure a Consumer. Zero values mean the defaults given.
type ConsumerOptions struct {
	Start       StartPosition // TRIM_HORIZON: nothing is missed
	Timestamp   time.Time     // for AT_TIMESTAMP
	BatchSize   int           // records per batch; 100
	BatchBytes  int           // bytes per batch; 4 MiB, which keeps a KinesisEvent under Lambda's 6 MB payload limit
	Window      time.Duration // wait up to this long to fill a batch; 0: deliver as soon as the shard's tip is reached
	MaxRetries  int           // retries of a failing batch before the on-failure destination; 0 means 10, -1 forever
	Bisect      bool          // split a batch in two when the processor returns an error (not on partial responses)
	OnFailure   func(ctx context.Context, b Batch, cause error) error
	Checkpoints *Checkpoints  // nil: in memory only
	Drain       bool          // return once every shard is read to its tip (or closed) and written
	Poll        time.Duration // wait between reads of an idle shard; 250 ms
	Log         *slog.Logger
}

// ConsumerStats count what a Consumer did.
type ConsumerStats struct {
	Records, Batches, Invocations, Retries, SentToOnFailure, ShardsDone int64
}

// ReadAPI is the part of the Kinesis API a Consumer calls; *kinesis.Client
// is one, and unit tests use a fake.
type ReadAPI interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

var _ ReadAPI = (*kinesis.Client)(nil)

// Consumer reads a stream like a Lambda event source mapping.
type Consumer struct {
	api    ReadAPI
	stream string
	proc   Processor
	o      ConsumerOptions

	records, batches, invocations, retries, failed, shardsDone atomic.Int64
}

// NewConsumer returns a consumer of stream.
func NewConsumer(api ReadAPI, stream string, proc Processor, o ConsumerOptions) (*Consumer, error) {
	if o.Start == "" {
		o.Start = TrimHorizon
	}
	switch o.Start {
	case TrimHorizon, Latest:
	case AtTimestamp:
		if o.Timestamp.IsZero() {
			return nil, errors.New("kinesis: AT_TIMESTAMP needs a timestamp")
		}
	default:
		return nil, fmt.Errorf("kinesis: unknown start position %q: want TRIM_HORIZON, LATEST or AT_TIMESTAMP", o.Start)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.BatchSize > 10000 {
		return nil, fmt.Errorf("kinesis: batch size %d is over 10000, the GetRecords limit", o.BatchSize)
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 10
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Checkpoints == nil {
		o.Checkpoints = &Checkpoints{Stream: stream, Shards: map[string]ShardCheckpoint{}}
	}
	return &Consumer{api: api, stream: stream, proc: proc, o: o}, nil
}

// Stats returns the counts so far.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{Records: c.records.Load(), Batches: c.batches.Load(), Invocations: c.invocations.Load(),
		Retries: c.retries.Load(), SentToOnFailure: c.failed.Load(), ShardsDone: c.shardsDone.Load()}
}

type shardInfo struct {
	id, parent, adjacent string
}

type shardState struct {
	atTip   atomic.Bool
	running bool
	done    bool
}

// shardExit is how a shard reader ended: nil when the shard is finished.
type shardExit struct {
	shard string
	err   error
}

// Run consumes until ctx is done (nil error) or, with Drain, until every
// shard is at its tip or finished and everything read is written.
func (c *Consumer) Run(ctx context.Context) error {
	arn, err := c.streamARN(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // idle shard readers stop here
	states := map[string]*shardState{}
	exits := make(chan shardExit)
	tick := time.NewTicker(max(c.o.Poll, time.Second))
	defer tick.Stop()
	for {
		shards, err := c.listShards(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, s := range c.ready(shards, states) {
			st := states[s] // not read in the goroutine: the map grows here
			wg.Go(func() {
				err := c.shardLoop(ctx, arn, s, st)
				select {
				case exits <- shardExit{s, err}:
				case <-ctx.Done():
				}
			})
		}
		if c.o.Drain && c.drained(shards, states) {
			return nil
		}
		select {
		case e := <-exits:
			states[e.shard].running = false
			if e.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("shard %s: %w", e.shard, e.err)
			}
			states[e.shard].done = true
			c.shardsDone.Add(1)
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// ready returns the shards to start reading now, marking them running in
// states (which gets a state for every shard listed): those neither
// running nor finished whose parents are finished, or gone from the
// stream, for children wait for their parents.
func (c *Consumer) ready(shards []shardInfo, states map[string]*shardState) []string {
	known := map[string]bool{}
	for _, s := range shards {
		known[s.id] = true
	}
	isDone := func(id string) bool {
		if id == "" || !known[id] { // no parent, or expired from the stream
			return true
		}
		if st := states[id]; st != nil && st.done {
			return true
		}
		return c.o.Checkpoints.Get(id).Done
	}
	var start []string
	for _, s := range shards {
		st := states[s.id]
		if st == nil {
			st = &shardState{}
			states[s.id] = st
		}
		if st.running || st.done {
			continue
		}
		if c.o.Checkpoints.Get(s.id).Done {
			st.done = true
			continue
		}
		if !isDone(s.parent) || !isDone(s.adjacent) {
			continue
		}
		st.running = true
		start = append(start, s.id)
	}
	return start
}

// drained reports whether every shard is finished, or running and idle at
// its tip, with nothing waiting for its parents.
func (c *Consumer) drained(shards []shardInfo, states map[string]*shardState) bool {
	for _, s := range shards {
		st := states[s.id]
		switch {
		case st.done:
		case st.running && st.atTip.Load():
		default:
			return false
		}
	}
	return true
}

func (c *Consumer) streamARN(ctx context.Context) (string, error) {
	out, err := c.api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(c.stream)})
	if err != nil {
		return "", fmt.Errorf("kinesis: stream %s: %w", c.stream, err)
	}
	return aws.ToString(out.StreamDescriptionSummary.StreamARN), nil
}

func (c *Consumer) listShards(ctx context.Context) ([]shardInfo, error) {
	var out []shardInfo
	in := &kinesis.ListShardsInput{StreamName: aws.String(c.stream)}
	for {
		res, err := c.api.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("kinesis: list shards of %s: %w", c.stream, err)
		}
		for _, s := range res.Shards {
			out = append(out, shardInfo{id: aws.ToString(s.ShardId), parent: aws.ToString(s.ParentShardId), adjacent: aws.ToString(s.AdjacentParentShardId)})
		}
		if res.NextToken == nil {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: res.NextToken}
	}
}

func (c *Consumer) iterator(ctx context.Context, shard string) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(c.stream), ShardId: aws.String(shard)}
	if cp := c.o.Checkpoints.Get(shard); cp.Sequence != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(cp.Sequence)
	} else {
		in.ShardIteratorType = types.ShardIteratorType(c.o.Start)
		if c.o.Start == AtTimestamp {
			in.Timestamp = aws.Time(c.o.Timestamp)
		}
	}
	out, err := c.api.GetShardIterator(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("kinesis: iterator for %s: %w", shard, err)
	}
	return out.ShardIterator, nil
}

// pending is what a shard reader has read and not yet delivered.
type pending struct {
	records []Record
	bytes   int
	since   time.Time // when the first of them was read, or the last delivery was
}

func (p *pending) add(r Record) {
	if len(p.records) == 0 {
		p.since = time.Now()
	}
	p.records = append(p.records, r)
	p.bytes += len(r.Data)
}

func (p *pending) clear() { p.records, p.bytes = p.records[:0], 0 }

// shardLoop reads one shard to its end (nil error) or until ctx is done.
func (c *Consumer) shardLoop(ctx context.Context, arn, shard string, st *shardState) error {
	log := c.o.Log.With("shard", shard)
	iter, err := c.iterator(ctx, shard)
	if err != nil {
		return err
	}
	var p pending
	deliver := func() error {
		if err := c.deliver(ctx, Batch{Stream: c.stream, StreamARN: arn, ShardID: shard, Records: p.records}, log); err != nil {
			return err
		}
		p.clear()
		p.since = time.Now()
		return nil
	}
	attempt := 0
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		out, err := c.api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(int32(c.o.BatchSize))})
		if err != nil {
			reread, err := c.readFailed(ctx, shard, err, &attempt)
			if err != nil {
				return err
			}
			if reread { // from the checkpoint: pending records are read again
				p.clear()
				if iter, err = c.iterator(ctx, shard); err != nil {
					return err
				}
			}
			continue
		}
		attempt = 0
		for _, r := range out.Records {
			p.add(Record{Data: r.Data, PartitionKey: aws.ToString(r.PartitionKey), SequenceNumber: aws.ToString(r.SequenceNumber), ArrivalTime: aws.ToTime(r.ApproximateArrivalTimestamp)})
			if len(p.records) == c.o.BatchSize || p.bytes >= c.o.BatchBytes {
				if err := deliver(); err != nil {
					return err
				}
			}
		}
		closed := out.NextShardIterator == nil
		atTip := len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0
		windowOver := c.o.Window > 0 && time.Since(p.since) >= c.o.Window
		if len(p.records) > 0 && (closed || windowOver || (c.o.Window == 0 && atTip)) {
			if err := deliver(); err != nil {
				return err
			}
		}
		if closed {
			if err := c.o.Checkpoints.Set(shard, ShardCheckpoint{Sequence: c.o.Checkpoints.Get(shard).Sequence, Done: true}); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
			log.Info("shard finished")
			return nil
		}
		st.atTip.Store(atTip && len(p.records) == 0)
		iter = out.NextShardIterator
		if len(out.Records) == 0 {
			if err := retry.Sleep(ctx, c.o.Poll); err != nil {
				return err
			}
		}
	}
}

// readFailed decides what a failed GetRecords of shard means: read again
// from the checkpoint (reread: the iterator expired), retry after a
// backoff (throttling, or any error the first 5 times in a row; attempt
// counts them), or stop with the error returned.
func (c *Consumer) readFailed(ctx context.Context, shard string, err error, attempt *int) (reread bool, _ error) {
	var expired *types.ExpiredIteratorException
	var tput *types.ProvisionedThroughputExceededException
	switch {
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.As(err, &expired):
		return true, nil
	case errors.As(err, &tput) || *attempt < 5:
		*attempt++
		return false, retry.Wait(ctx, *attempt)
	default:
		return false, fmt.Errorf("kinesis: read %s: %w", shard, err)
	}
}

// deliver hands b to the processor as the event source mapping would:
// retry from the first record not done, bisect on errors when asked, and
// after MaxRetries send the batch to the on-failure destination. It
// checkpoints every record that is done.
func (c *Consumer) deliver(ctx context.Context, b Batch, log *slog.Logger) error {
	c.batches.Add(1)
	queue := []Batch{b}
	attempts := 0
	for len(queue) > 0 {
		cur := queue[0]
		c.invocations.Add(1)
		failedFrom, err := c.proc.Process(ctx, cur)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fnErr := err != nil // the invocation itself failed, not some records
		done := len(cur.Records)
		if err == nil && failedFrom != "" {
			done = -1
			for i, r := range cur.Records {
				if r.SequenceNumber == failedFrom {
					done = i
					break
				}
			}
			if done < 0 { // an identifier not in the batch: the whole batch failed
				done = 0
				err = fmt.Errorf("partial batch response names %q, which is not in the batch", failedFrom)
			} else {
				err = fmt.Errorf("%d of %d records not done", len(cur.Records)-done, len(cur.Records))
			}
		}
		if done > 0 {
			if cerr := c.checkpoint(cur.ShardID, cur.Records[done-1].SequenceNumber); cerr != nil {
				return cerr
			}
			c.records.Add(int64(done))
			cur.Records = cur.Records[done:]
			queue[0] = cur
		}
		if err == nil {
			queue = queue[1:]
			attempts = 0
			continue
		}
		attempts++
		c.retries.Add(1)
		log.Warn("batch failed", "error", err, "records", len(cur.Records), "attempt", attempts)
		if c.o.MaxRetries >= 0 && attempts > c.o.MaxRetries {
			if c.o.OnFailure != nil {
				if ferr := c.o.OnFailure(ctx, cur, err); ferr != nil {
					return fmt.Errorf("on-failure destination: %w", ferr)
				}
			}
			c.failed.Add(int64(len(cur.Records)))
			log.Error("batch sent to the on-failure destination and skipped", "records", len(cur.Records), "first_sequence", cur.Records[0].SequenceNumber)
			if cerr := c.checkpoint(cur.ShardID, cur.Records[len(cur.Records)-1].SequenceNumber); cerr != nil {
				return cerr
			}
			queue = queue[1:]
			attempts = 0
			continue
		}
		if c.o.Bisect && fnErr && len(cur.Records) > 1 {
			h := len(cur.Records) / 2
			left, right := cur, cur
			left.Records, right.Records = cur.Records[:h], cur.Records[h:]
			queue = append([]Batch{left, right}, queue[1:]...)
		}
		if err := retry.Wait(ctx, attempts); err != nil {
			return err
		}
	}
	return nil
}

func (c *Consumer) checkpoint(shard, seq string) error {
	if err := c.o.Checkpoints.Set(shard, ShardCheckpoint{Sequence: seq}); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
