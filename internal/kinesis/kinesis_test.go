package kinesis

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eventlake/eventlake/internal/testservers"
)

func newStream(t *testing.T, shards int32) (*kinesis.Client, string) {
	t.Helper()
	testservers.Credentials(t)
	api, err := NewAPI(context.Background(), Options{Endpoint: testservers.Kinesalite(t)})
	if err != nil {
		t.Fatal(err)
	}
	name := "events"
	if _, err := api.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	for {
		out, err := api.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return api, name
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func put(t *testing.T, api *kinesis.Client, stream string, from, n int) {
	t.Helper()
	p := NewProducer(api, stream, 1) // one call at a time: records of a key stay in order
	in := make(chan Entry)
	go func() {
		for i := from; i < from+n; i++ {
			in <- Entry{PartitionKey: fmt.Sprintf("key-%d", i%37), Data: []byte(fmt.Sprintf("%d", i))}
		}
		close(in)
	}()
	if err := p.PutAll(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Records; got != int64(n) {
		t.Fatalf("put %d records, want %d", got, n)
	}
}

// collector records what the consumer delivers, per partition key in order.
type collector struct {
	mu    sync.Mutex
	byKey map[string][]string
	seen  map[string]int
	order []string // shard of each batch, in delivery order
}

func (c *collector) Process(_ context.Context, b Batch) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range b.Records {
		c.byKey[r.PartitionKey] = append(c.byKey[r.PartitionKey], string(r.Data))
		c.seen[string(r.Data)]++
	}
	c.order = append(c.order, b.ShardID)
	return "", nil
}

func TestConsumeEveryShardInOrderAcrossASplit(t *testing.T) {
	api, stream := newStream(t, 2)
	put(t, api, stream, 0, 3000)

	// Split the first shard mid-stream, then write more: the new records go
	// to the children, which must be read only after the parent.
	parent := testservers.SplitFirstShard(t, api, stream)
	put(t, api, stream, 3000, 2000)

	cps, err := LoadCheckpoints(filepath.Join(t.TempDir(), "cp.json"), stream)
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{byKey: map[string][]string{}, seen: map[string]int{}}
	c, err := NewConsumer(api, stream, col, ConsumerOptions{BatchSize: 250, Drain: true, Checkpoints: cps, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(col.seen) != 5000 {
		t.Fatalf("%d distinct records delivered, want 5000", len(col.seen))
	}
	for v, n := range col.seen {
		if n != 1 {
			t.Fatalf("record %s delivered %d times", v, n)
		}
	}
	// Order per partition key: the values of one key ascend.
	for k, vs := range col.byKey {
		prev := -1
		for _, v := range vs {
			var n int
			fmt.Sscan(v, &n)
			if n < prev {
				t.Fatalf("key %s: %d after %d", k, n, prev)
			}
			prev = n
		}
	}
	if !cps.Get(parent).Done {
		t.Error("the split parent is not marked done")
	}
	// A second consumer with the same checkpoints reads nothing new.
	col2 := &collector{byKey: map[string][]string{}, seen: map[string]int{}}
	c2, err := NewConsumer(api, stream, col2, ConsumerOptions{BatchSize: 250, Drain: true, Checkpoints: cps, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(col2.seen) != 0 {
		t.Fatalf("restart from checkpoints delivered %d records again", len(col2.seen))
	}
}

// TestPartialFailuresAndRetries: the processor fails a batch from some
// record on; the consumer retries from there, checkpoints what was done, and
// after MaxRetries hands the rest to the on-failure destination.
func TestPartialFailuresAndRetries(t *testing.T) {
	api, stream := newStream(t, 1)
	put(t, api, stream, 0, 100)
	var mu sync.Mutex
	seen := map[string]int{}
	calls := 0
	proc := ProcessorFunc(func(_ context.Context, b Batch) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		for i, r := range b.Records {
			if string(r.Data) == "42" { // a record that never succeeds
				return r.SequenceNumber, nil
			}
			if calls == 1 && i == 10 { // a transient failure
				return r.SequenceNumber, nil
			}
			seen[string(r.Data)]++
		}
		return "", nil
	})
	var sentToFailure []string
	c, err := NewConsumer(api, stream, proc, ConsumerOptions{BatchSize: 50, Drain: true, MaxRetries: 2, Poll: 20 * time.Millisecond,
		OnFailure: func(_ context.Context, b Batch, _ error) error {
			for _, r := range b.Records {
				sentToFailure = append(sentToFailure, string(r.Data))
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// Records before 42 in its batch are done once; 42..49 go to the
	// on-failure destination; the second batch is unaffected.
	if len(sentToFailure) != 8 || sentToFailure[0] != "42" {
		t.Fatalf("on-failure got %v, want 42..49", sentToFailure)
	}
	for i := range 100 {
		want := 1
		if i >= 42 && i < 50 {
			want = 0
		}
		if seen[fmt.Sprint(i)] != want {
			t.Fatalf("record %d done %d times, want %d", i, seen[fmt.Sprint(i)], want)
		}
	}
}
