package pipeline

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
)

// discard is a store that keeps nothing: it isolates the pipeline's own
// work from the file system's.
type discard struct{ bytes atomic.Int64 }

func (d *discard) Create(_ context.Context, _ string, body ...[]byte) error {
	for _, b := range body {
		d.bytes.Add(int64(len(b)))
	}
	return nil
}
func (d *discard) Close() error   { return nil }
func (d *discard) String() string { return "discard" }

// BenchmarkPipeline runs 200,000 generated events (about 86 MB) through the
// whole pipeline, uncompressed, into a store that discards.
func BenchmarkPipeline(b *testing.B) {
	var in bytes.Buffer
	if _, err := gen.Write(context.Background(), &in, gen.Options{Events: 200_000, Seed: 42, Bad: 0.001, Dup: 0.001}, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(in.Len()))
	b.ResetTimer()
	for b.Loop() {
		w, err := lake.NewWriter(&discard{}, &lake.WriterOptions{Compression: lake.None})
		if err != nil {
			b.Fatal(err)
		}
		r, err := New(w, Config{Source: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		st, err := r.Run(context.Background(), bytes.NewReader(in.Bytes()))
		if err != nil || st.Written == 0 {
			b.Fatal(err, st.Written)
		}
	}
	b.ReportMetric(float64(200_000*b.N)/b.Elapsed().Seconds(), "events/s")
}
