package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// fakePut fails entries the way Kinesis does under load: some entries of a
// call come back with ProvisionedThroughputExceededException, or the whole
// call fails. It records every entry stored.
type fakePut struct {
	mu         sync.Mutex
	stored     map[string]int // data -> times stored
	calls      int
	failEntry  func(call int, data string) bool
	failCall   func(call int) error
	maxEntries int
}

func (f *fakePut) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(in.Records) > MaxPutRecords {
		return nil, fmt.Errorf("%d records in one call", len(in.Records))
	}
	f.maxEntries = max(f.maxEntries, len(in.Records))
	if f.failCall != nil {
		if err := f.failCall(f.calls); err != nil {
			return nil, err
		}
	}
	out := &kinesis.PutRecordsOutput{}
	for _, r := range in.Records {
		if f.failEntry != nil && f.failEntry(f.calls, string(r.Data)) {
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException")})
			continue
		}
		f.stored[string(r.Data)]++
		out.Records = append(out.Records, types.PutRecordsResultEntry{SequenceNumber: aws.String("1"), ShardId: aws.String("shardId-000000000000")})
	}
	return out, nil
}

func putN(t *testing.T, api PutAPI, n int) (*Producer, error) {
	t.Helper()
	p := NewProducer(api, "events", 4)
	in := make(chan Entry)
	go func() {
		defer close(in)
		for i := range n {
			in <- Entry{PartitionKey: fmt.Sprint(i), Data: []byte(fmt.Sprintf("r%05d", i))}
		}
	}()
	return p, p.PutAll(context.Background(), in)
}

// TestProducerRetriesOnlyFailedEntries: entries refused for throughput are
// put again (only they), every record lands exactly once.
func TestProducerRetriesOnlyFailedEntries(t *testing.T) {
	f := &fakePut{stored: map[string]int{}, failEntry: func(call int, data string) bool {
		return call <= 6 && strings.HasSuffix(data, "7") // every 10th record fails in the first calls
	}}
	p, err := putN(t, f, 2000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if n := f.stored[fmt.Sprintf("r%05d", i)]; n != 1 {
			t.Fatalf("record %d stored %d times, want once", i, n)
		}
	}
	s := p.Stats()
	if s.Records != 2000 || s.Retried == 0 || s.Retried > 200*6 || f.maxEntries != MaxPutRecords {
		t.Errorf("stats %+v, largest call %d: want 2000 records, some but not all retried, 500-record calls", s, f.maxEntries)
	}
}

// TestProducerGivesUpOnPersistentErrors: a call error that is not
// throttling ends the put after a few attempts, with the cause.
func TestProducerGivesUpOnPersistentErrors(t *testing.T) {
	denied := errors.New("AccessDeniedException: not allowed")
	f := &fakePut{stored: map[string]int{}, failCall: func(int) error { return denied }}
	_, err := putN(t, f, 10)
	if !errors.Is(err, denied) || !strings.Contains(err.Error(), "events") {
		t.Fatalf("PutAll = %v, want the cause, naming the stream", err)
	}
	if f.calls > 8 {
		t.Errorf("%d calls for a persistent error", f.calls)
	}
}
