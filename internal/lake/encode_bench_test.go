package lake

import (
	"bytes"
	"testing"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
)

// BenchmarkEncode measures making one object of 20,000 enriched generated
// events in each format and compression: the cost the writer adds to
// landing. Reported per event and as input MB/s.
func BenchmarkEncode(b *testing.B) {
	enr := event.NewEnricher(nil)
	var body []byte
	err := gen.Each(gen.Options{Events: 20000, Seed: 1}, func(line []byte, _ gen.Kind) error {
		if _, err := enr.Check(line); err == nil {
			body = append(enr.AppendEnriched(body), '\n')
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	events := bytes.Count(body, []byte{'\n'})
	// In 128 KiB pieces, as the pipeline hands them over.
	var pieces [][]byte
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 128<<10)
		pieces = append(pieces, rest[:n])
		rest = rest[n:]
	}
	for _, c := range []struct {
		name string
		f    Format
		c    Compression
	}{{"none", JSONL, None}, {"gzip", JSONL, Gzip}, {"zstd", JSONL, Zstd}, {"parquet", Parquet, None}} {
		b.Run(c.name, func(b *testing.B) {
			w := &Writer{enc: newEncoder(c.c), format: c.f}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var size int
			for b.Loop() {
				out, release, err := w.encode(&Object{Body: pieces})
				if err != nil {
					b.Fatal(err)
				}
				size = 0
				for _, p := range out {
					size += len(p)
				}
				release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
			b.ReportMetric(float64(size)/float64(len(body)), "ratio")
		})
	}
}
