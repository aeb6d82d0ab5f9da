package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/cespare/xxhash/v2"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/kinesis"
	"github.com/eventlake/eventlake/internal/sqs"
)

// stringMember finds the value of a string member without parsing: good
// enough for choosing a partition key, never for the event's rules.
func stringMember(line []byte, name string) ([]byte, bool) {
	k := `"` + name + `":"`
	if i := bytes.Index(line, []byte(k)); i >= 0 {
		rest := line[i+len(k):]
		if j := bytes.IndexByte(rest, '"'); j > 0 && j <= 256 {
			return rest[:j], true
		}
	}
	return nil, false
}

// partitionKey is the event_uuid of a line, or a hash of the line when it
// has none (bad events). With spread > 0 it is the event type and one of
// spread buckets chosen by the event_uuid: each shard then carries few
// event types, so a batch writes few, larger objects, and copies of an
// event still share a shard.
func partitionKey(line []byte, spread int) string {
	uuid, ok := stringMember(line, "event_uuid")
	if !ok {
		sum := md5.Sum(line)
		return hex.EncodeToString(sum[:])
	}
	if spread <= 0 {
		return string(uuid)
	}
	name, ok := stringMember(line, "event_name")
	typ, _, _ := bytes.Cut(name, []byte(":"))
	if !ok || len(typ) == 0 {
		return string(uuid)
	}
	return fmt.Sprintf("%s#%d", typ, xxhash.Sum64(uuid)%uint64(spread))
}

// genKinesis puts generated events into a stream (partition keys: see
// partitionKey).
func (e env) genKinesis(ctx context.Context, to string, opts gen.Options, endpoint string, shards, spread int, quiet bool) error {
	stream, err := kinesis.StreamName(to)
	if err != nil {
		return err
	}
	api, err := kinesis.NewAPI(ctx, kinesis.Options{Endpoint: endpoint})
	if err != nil {
		return err
	}
	if shards > 0 {
		if err := createStream(ctx, api, stream, int32(shards)); err != nil {
			return err
		}
	}
	p := kinesis.NewProducer(api, stream, 8)
	in := make(chan kinesis.Entry, 1024)
	genErr := make(chan error, 1)
	go func() {
		defer close(in)
		genErr <- gen.Each(opts, func(line []byte, _ gen.Kind) error {
			select {
			case in <- kinesis.Entry{PartitionKey: partitionKey(line, spread), Data: bytes.Clone(line)}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	start := time.Now()
	stop := e.progress(quiet, func() string {
		s := p.Stats()
		return fmt.Sprintf("%s of %s records put  %s records/s  %d retried", count(s.Records), count(int64(opts.Events)), count(int64(float64(s.Records)/time.Since(start).Seconds())), s.Retried)
	})
	err = p.PutAll(ctx, in)
	stop()
	if gerr := <-genErr; err == nil {
		err = gerr
	}
	s := p.Stats()
	secs := time.Since(start).Seconds()
	fmt.Fprintf(e.stderr, "put %d records (%s) into %s in %.2fs: %.0f records/s, %d PutRecords calls, %d entries retried\n",
		s.Records, bytesize(s.Bytes), stream, secs, float64(s.Records)/secs, s.Calls, s.Retried)
	if err != nil && ctx.Err() != nil {
		return errInterrupted
	}
	return err
}

func createStream(ctx context.Context, api *awskinesis.Client, stream string, shards int32) error {
	_, err := api.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(shards)})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create stream %s: %w", stream, err)
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := api.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err != nil {
			return err
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return nil
		}
	}
	return fmt.Errorf("stream %s did not become active", stream)
}

// genSQS sends generated events to a queue, one event per message.
func (e env) genSQS(ctx context.Context, to string, opts gen.Options, endpoint string, quiet bool) error {
	q, err := sqs.Open(ctx, to, sqs.Options{Endpoint: endpoint})
	if err != nil {
		return err
	}
	start := time.Now()
	var sent atomic.Int64 // read by the progress line
	var skipped, refused int64
	var reason string
	var batch [][]byte
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := q.SendAll(ctx, batch)
		var ref *sqs.RefusedError
		if errors.As(err, &ref) {
			refused += int64(len(ref.Indexes))
			reason = ref.Reason
			err = nil
			sent.Add(-int64(len(ref.Indexes)))
		}
		if err != nil {
			return err
		}
		sent.Add(int64(len(batch)))
		batch = batch[:0]
		return nil
	}
	stop := e.progress(quiet, func() string {
		return fmt.Sprintf("%s of %s messages sent", count(sent.Load()), count(int64(opts.Events)))
	})
	err = gen.Each(opts, func(line []byte, _ gen.Kind) error {
		if len(line) > sqs.MaxBatchBytes || !sqs.Sendable(line) {
			skipped++ // SQS refuses it; said below, never silently
			return nil
		}
		batch = append(batch, bytes.Clone(line))
		if len(batch) == 100 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	stop()
	secs := time.Since(start).Seconds()
	fmt.Fprintf(e.stderr, "sent %d messages to %s in %.2fs: %.0f messages/s\n", sent.Load(), q.URL(), secs, float64(sent.Load())/secs)
	if refused > 0 {
		fmt.Fprintf(e.stderr, "the queue refused %d generated events (%s)\n", refused, reason)
	}
	if skipped > 0 {
		fmt.Fprintf(e.stderr, "skipped %d generated events that SQS cannot carry (invalid UTF-8, characters outside XML's range, or over %d bytes)\n", skipped, sqs.MaxBatchBytes)
	}
	return err
}
