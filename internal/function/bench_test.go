package function

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	evgen "github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/kpl"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
)

// benchBatch is a 10,000-record Kinesis batch of generated events (1% bad,
// 1% duplicates): one event per record, or with aggregated=true in KPL
// aggregates of 100 user records each, as the KPL packs them.
func benchBatch(b *testing.B, aggregated bool) (events.KinesisEvent, int) {
	b.Helper()
	var lines [][]byte
	err := evgen.Each(evgen.Options{Events: 10_000, Seed: 7, Bad: 0.01, Dup: 0.01}, func(line []byte, _ evgen.Kind) error {
		lines = append(lines, bytes.Clone(line))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	bytesIn := 0
	for _, l := range lines {
		bytesIn += len(l)
	}
	if !aggregated {
		return kinesisEvent("shardId-000000000001", lines...), bytesIn
	}
	var datas [][]byte
	for i := 0; i < len(lines); i += 100 {
		var recs []kpl.Record
		for j, l := range lines[i:min(i+100, len(lines))] {
			recs = append(recs, kpl.Record{PartitionKey: fmt.Sprint(i + j), Data: l})
		}
		datas = append(datas, kpl.Aggregate(recs))
	}
	return kinesisEvent("shardId-000000000001", datas...), bytesIn
}

// BenchmarkKinesisHandler is the Lambda's landing work for one 10,000-event
// batch, with the function's default configuration (gzip NDJSON, daily
// layout) into an in-memory store: what a Lambda pays CPU milliseconds
// for, without S3's latency. A fresh handler and store per iteration, so
// the duplicate window and conditional creates never short-cut the work.
func BenchmarkKinesisHandler(b *testing.B) {
	for _, tc := range []struct {
		name        string
		aggregated  bool
		compression string
	}{
		{"records/gzip", false, "gzip"},
		{"kpl/gzip", true, "gzip"},
		{"records/none", false, "none"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ev, bytesIn := benchBatch(b, tc.aggregated)
			cfg, err := ConfigFromEnv(func(k string) string {
				return map[string]string{EnvLakeURL: "mem://", EnvCompression: tc.compression}[k]
			})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(bytesIn))
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				store, err := lakeurl.Open(context.Background(), "mem://", nil)
				if err != nil {
					b.Fatal(err)
				}
				h, err := New(cfg, Deps{Lake: store, DeadLetters: &queue{}})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				resp, err := h.Kinesis(context.Background(), ev)
				if err != nil || len(resp.BatchItemFailures) != 0 {
					b.Fatal(err, resp.BatchItemFailures)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(10_000*b.N), "ns/event")
		})
	}
}
