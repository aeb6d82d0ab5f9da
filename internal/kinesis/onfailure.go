package kinesis

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// OnFailure is an on-failure destination (ConsumerOptions.OnFailure): it
// is told about a batch that kept failing, and an error stops the consumer.
type OnFailure = func(ctx context.Context, b Batch, cause error) error

// failureRecord is what Lambda sends an on-failure destination about a
// Kinesis batch. The fields are in the order encoding/json gives a map's
// keys, the order of the records the CLI has always written.
type failureRecord struct {
	BatchInfo struct {
		BatchSize           int    `json:"batchSize"`
		EndSequenceNumber   string `json:"endSequenceNumber"`
		ShardID             string `json:"shardId"`
		StartSequenceNumber string `json:"startSequenceNumber"`
		StreamARN           string `json:"streamArn"`
	} `json:"KinesisBatchInfo"`
	RequestContext struct {
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
		Condition              string `json:"condition"`
	} `json:"requestContext"`
	ResponseContext struct {
		Error string `json:"error"`
	} `json:"responseContext"`
	Timestamp string `json:"timestamp"`
}

// DescribeFailure is the record, in JSON, of batch b (not empty) that
// failed with cause after invokeCount invocations, at time at: the
// shard, the sequence range and the cause, as Lambda describes it.
func DescribeFailure(b Batch, cause error, invokeCount int, at time.Time) []byte {
	var r failureRecord
	r.BatchInfo.BatchSize = len(b.Records)
	r.BatchInfo.ShardID, r.BatchInfo.StreamARN = b.ShardID, b.StreamARN
	r.BatchInfo.StartSequenceNumber = b.Records[0].SequenceNumber
	r.BatchInfo.EndSequenceNumber = b.Records[len(b.Records)-1].SequenceNumber
	r.RequestContext.ApproximateInvokeCount, r.RequestContext.Condition = invokeCount, "RetryAttemptsExhausted"
	r.ResponseContext.Error = cause.Error()
	r.Timestamp = at.UTC().Format(time.RFC3339Nano)
	out, err := json.Marshal(r)
	if err != nil { // strings and numbers only: cannot happen
		panic(err)
	}
	return out
}

// Sender sends messages; *sqs.Client is one.
type Sender interface {
	// SendAll sends every body, or returns why not.
	SendAll(ctx context.Context, bodies [][]byte) error
}

// SendFailures is the destination that sends each failed batch's record
// (DescribeFailure) as one message to q, as to an SQS on-failure queue.
func SendFailures(q Sender, invokeCount int) OnFailure {
	return func(ctx context.Context, b Batch, cause error) error {
		return q.SendAll(ctx, [][]byte{DescribeFailure(b, cause, invokeCount, time.Now())})
	}
}

// LogFailures is the destination that writes each failed batch's record
// to w (a log, such as stderr) on a line of its own, after "on-failure: ".
// Like any log line, one that cannot be written does not stop the consumer.
func LogFailures(w io.Writer, invokeCount int) OnFailure {
	var mu sync.Mutex // shards fail at once
	return func(_ context.Context, b Batch, cause error) error {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "on-failure: %s\n", DescribeFailure(b, cause, invokeCount, time.Now()))
		return nil
	}
}

// AppendFailures is the destination that appends each failed batch's
// record, one JSON line, to the file at path (created if missing).
func AppendFailures(path string, invokeCount int) OnFailure {
	var mu sync.Mutex
	return func(_ context.Context, b Batch, cause error) error {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(append(DescribeFailure(b, cause, invokeCount, time.Now()), '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
}
