package kinesis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// fakeFunction answers each Kinesis event with resp and err, and keeps the
// events it was given.
type fakeFunction struct {
	resp events.KinesisEventResponse
	err  error
	got  []events.KinesisEvent
}

func (f *fakeFunction) Kinesis(_ context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	f.got = append(f.got, ev)
	return f.resp, f.err
}

func testBatch() Batch {
	at := time.Unix(1_700_000_000, 0).UTC()
	return Batch{Stream: "events", StreamARN: "arn:aws:kinesis:eu-west-1:123456789012:stream/events", ShardID: "shardId-000000000001",
		Records: []Record{
			{Data: []byte(`{"a":1}`), PartitionKey: "k1", SequenceNumber: "100", ArrivalTime: at},
			{Data: []byte(`{"a":2}`), PartitionKey: "k2", SequenceNumber: "101", ArrivalTime: at.Add(time.Second)},
		}}
}

func TestFunctionProcessorSendsTheMappingsEventAndReadsItsAnswer(t *testing.T) {
	b := testBatch()
	for _, tc := range []struct {
		name       string
		resp       events.KinesisEventResponse
		err        error
		failedFrom string
	}{
		{"all done", events.KinesisEventResponse{}, nil, ""},
		{"partial", events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: "101"}}}, nil, "101"},
		{"invocation failed", events.KinesisEventResponse{}, errors.New("function crashed"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := &fakeFunction{resp: tc.resp, err: tc.err}
			failedFrom, err := FunctionProcessor(fn, "eu-west-1").Process(context.Background(), b)
			if !errors.Is(err, tc.err) || failedFrom != tc.failedFrom {
				t.Fatalf("Process = %q, %v; want %q, %v", failedFrom, err, tc.failedFrom, tc.err)
			}
			if len(fn.got) != 1 {
				t.Fatalf("function invoked %d times, want once", len(fn.got))
			}
		})
	}
}

func TestEventIsWhatTheMappingSends(t *testing.T) {
	b := testBatch()
	ev := Event(b, "eu-west-1")
	if len(ev.Records) != 2 {
		t.Fatalf("%d records, want 2", len(ev.Records))
	}
	for i, rec := range ev.Records {
		r := b.Records[i]
		if rec.EventSource != "aws:kinesis" || rec.EventName != "aws:kinesis:record" || rec.EventVersion != "1.0" ||
			rec.EventID != b.ShardID+":"+r.SequenceNumber || rec.EventSourceArn != b.StreamARN || rec.AwsRegion != "eu-west-1" ||
			rec.Kinesis.KinesisSchemaVersion != "1.0" || rec.Kinesis.PartitionKey != r.PartitionKey ||
			rec.Kinesis.SequenceNumber != r.SequenceNumber || !bytes.Equal(rec.Kinesis.Data, r.Data) ||
			!rec.Kinesis.ApproximateArrivalTimestamp.Time.Equal(r.ArrivalTime) {
			t.Errorf("record %d: %+v", i, rec)
		}
	}
	// As JSON, the data is base64 and the arrival time in epoch seconds, as
	// a Lambda function reads them.
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"data":"eyJhIjoxfQ=="`) || !strings.Contains(string(out), `"approximateArrivalTimestamp":1700000000`) {
		t.Errorf("event JSON: %s", out)
	}
}

func TestDescribeFailure(t *testing.T) {
	b := testBatch()
	at := time.Date(2026, 11, 28, 12, 0, 0, 5, time.FixedZone("x", 3600))
	got := DescribeFailure(b, errors.New("2 of 2 records not done"), 11, at)
	// The same bytes as the map the CLI encoded before the record had a type.
	want, err := json.Marshal(map[string]any{
		"requestContext":  map[string]any{"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
		"responseContext": map[string]any{"error": "2 of 2 records not done"},
		"KinesisBatchInfo": map[string]any{
			"shardId": b.ShardID, "startSequenceNumber": "100", "endSequenceNumber": "101", "batchSize": 2, "streamArn": b.StreamARN,
		},
		"timestamp": "2026-11-28T11:00:00.000000005Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("DescribeFailure =\n%s\nwant\n%s", got, want)
	}
}

// fakeSender keeps what it is sent.
type fakeSender struct {
	mu   sync.Mutex
	sent [][]byte
	err  error
}

func (s *fakeSender) SendAll(_ context.Context, bodies [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, bodies...)
	return s.err
}

func TestOnFailureDestinations(t *testing.T) {
	ctx := context.Background()
	b, cause := testBatch(), errors.New("boom")
	decode := func(t *testing.T, line []byte) failureRecord {
		t.Helper()
		var r failureRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if r.BatchInfo.ShardID != b.ShardID || r.BatchInfo.BatchSize != 2 || r.RequestContext.ApproximateInvokeCount != 3 || r.ResponseContext.Error != "boom" {
			t.Errorf("record %+v", r)
		}
		return r
	}
	t.Run("queue", func(t *testing.T) {
		q := &fakeSender{}
		if err := SendFailures(q, 3)(ctx, b, cause); err != nil {
			t.Fatal(err)
		}
		if len(q.sent) != 1 {
			t.Fatalf("%d messages sent, want 1", len(q.sent))
		}
		decode(t, q.sent[0])
		q.err = errors.New("queue down")
		if err := SendFailures(q, 3)(ctx, b, cause); !errors.Is(err, q.err) {
			t.Errorf("a send that fails = %v, want its error", err)
		}
	})
	t.Run("log", func(t *testing.T) {
		var w bytes.Buffer
		log := LogFailures(&w, 3)
		for range 2 {
			if err := log(ctx, b, cause); err != nil {
				t.Fatal(err)
			}
		}
		lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines, want 2:\n%s", len(lines), w.String())
		}
		for _, l := range lines {
			rest, ok := strings.CutPrefix(l, "on-failure: ")
			if !ok {
				t.Fatalf("line %q lacks the prefix", l)
			}
			decode(t, []byte(rest))
		}
	})
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "failed.jsonl")
		appendTo := AppendFailures(path, 3)
		for range 2 {
			if err := appendTo(ctx, b, cause); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		if len(lines) != 2 {
			t.Fatalf("%d lines, want 2:\n%s", len(lines), data)
		}
		for _, l := range lines {
			decode(t, l)
		}
		if err := AppendFailures(filepath.Join(path, "not-a-folder", "x"), 3)(ctx, b, cause); err == nil {
			t.Error("a file that cannot be created gave no error")
		}
	})
}
