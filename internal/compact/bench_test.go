package compact

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
)

// BenchmarkCompact compacts a lake of 100,000 events in batches of 1,000
// (about 2,000 small gzip objects) held in memory, into gzip NDJSON and
// into Parquet; the store costs nothing, so this is the CPU work.
func BenchmarkCompact(b *testing.B) {
	var in bytes.Buffer
	if _, err := gen.Write(context.Background(), &in, gen.Options{Events: 100_000, Seed: 1, Span: 24 * time.Hour}, nil); err != nil {
		b.Fatal(err)
	}
	src := memLake(b)
	landLines(b, src, lake.JSONL, "bench", 1000, in.Bytes())
	var objects [][2]string
	for e, err := range src.List(context.Background(), "") {
		if err != nil {
			b.Fatal(err)
		}
		body, err := src.Read(context.Background(), e.Key)
		if err != nil {
			b.Fatal(err)
		}
		objects = append(objects, [2]string{e.Key, string(body)})
	}
	for _, f := range []lake.Format{lake.JSONL, lake.Parquet} {
		b.Run(f.String(), func(b *testing.B) {
			var events int64
			for b.Loop() {
				b.StopTimer()
				r := memLake(b)
				for _, o := range objects {
					if err := r.Create(context.Background(), o[0], []byte(o[1])); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				st, err := Run(context.Background(), r, &Options{Format: &f})
				if err != nil {
					b.Fatal(err)
				}
				events = st.Events
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(len(objects)), "objects_in")
		})
	}
}
