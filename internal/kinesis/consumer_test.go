package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// fakeShard is a stream of one shard holding records with sequence
// numbers 1..n, which closes once they are read. Iterators are positions;
// GetRecords returns at most perCall records, and fails on the calls
// listed in fail (counting from 1).
type fakeShard struct {
	mu      sync.Mutex
	n       int
	perCall int
	fail    map[int]error
	calls   int
}

var _ ReadAPI = (*fakeShard)(nil)

func (f *fakeShard) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{StreamARN: aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/events")}}, nil
}

func (f *fakeShard) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return &kinesis.ListShardsOutput{Shards: []types.Shard{{ShardId: aws.String("shardId-0")}}}, nil
}

func (f *fakeShard) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeAfterSequenceNumber:
		seq, err := strconv.Atoi(aws.ToString(in.StartingSequenceNumber))
		if err != nil {
			return nil, err
		}
		pos = seq
	default:
		return nil, fmt.Errorf("iterator type %s not faked", in.ShardIteratorType)
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(strconv.Itoa(pos))}, nil
}

func (f *fakeShard) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if err := f.fail[f.calls]; err != nil {
		return nil, err
	}
	pos, err := strconv.Atoi(aws.ToString(in.ShardIterator))
	if err != nil {
		return nil, err
	}
	end := min(pos+f.perCall, f.n, pos+int(aws.ToInt32(in.Limit)))
	out := &kinesis.GetRecordsOutput{MillisBehindLatest: aws.Int64(int64(f.n-end) * 1000)}
	for i := pos; i < end; i++ {
		seq := strconv.Itoa(i + 1)
		out.Records = append(out.Records, types.Record{Data: []byte("r" + seq), PartitionKey: aws.String("k"), SequenceNumber: aws.String(seq), ApproximateArrivalTimestamp: aws.Time(time.Unix(1_700_000_000, 0))})
	}
	if end < f.n {
		out.NextShardIterator = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

// TestConsumerReadsAgainAfterAnExpiredIterator: records read but not yet
// delivered when the iterator expires are read again from the checkpoint,
// a throttled read is retried, and each record is delivered once, in
// order, in batches of BatchSize; the closed shard is checkpointed done.
func TestConsumerReadsAgainAfterAnExpiredIterator(t *testing.T) {
	api := &fakeShard{n: 10, perCall: 3, fail: map[int]error{
		2: &types.ExpiredIteratorException{Message: aws.String("expired")},
		3: &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")},
	}}
	var got []string
	var sizes []int
	proc := ProcessorFunc(func(_ context.Context, b Batch) (string, error) {
		if b.ShardID != "shardId-0" || b.StreamARN == "" {
			t.Errorf("batch of %q in %q", b.ShardID, b.StreamARN)
		}
		sizes = append(sizes, len(b.Records))
		for _, r := range b.Records {
			got = append(got, string(r.Data))
		}
		return "", nil
	})
	c, err := NewConsumer(api, "events", proc, ConsumerOptions{BatchSize: 5, Drain: true, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10"}
	if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(sizes) != "[5 5]" {
		t.Errorf("delivered %v in batches of %v; want %v in two batches of 5", got, sizes, want)
	}
	if cp := c.o.Checkpoints.Get("shardId-0"); cp.Sequence != "10" || !cp.Done {
		t.Errorf("checkpoint %+v, want sequence 10, done", cp)
	}
	if s := c.Stats(); s.Records != 10 || s.Batches != 2 || s.ShardsDone != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestConsumerStopsOnAReadErrorThatLasts: an error that is not throttling
// ends the run once the first retries fail, naming the shard.
func TestConsumerStopsOnAReadErrorThatLasts(t *testing.T) {
	denied := errors.New("AccessDeniedException")
	api := &fakeShard{n: 10, perCall: 3, fail: map[int]error{1: denied, 2: denied, 3: denied, 4: denied, 5: denied, 6: denied}}
	c, err := NewConsumer(api, "events", ProcessorFunc(func(context.Context, Batch) (string, error) { return "", nil }), ConsumerOptions{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, denied) || !strings.Contains(err.Error(), "shardId-0") || api.calls != 6 {
		t.Fatalf("Run = %v after %d reads; want the read error after 6", err, api.calls)
	}
}
