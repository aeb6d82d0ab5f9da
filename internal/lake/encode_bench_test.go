package lake

import (
	"bytes"
	"strings"
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
	// Each object in 128 KiB pieces, as the pipeline hands them over.
	// A landed object holds about 1,000 events (1M generated events land
	// as ~1,040 objects): the per-object costs show there.
	small := body[:bytes.IndexByte(body[len(body)/20:], '\n')+len(body)/20+1]
	for _, c := range []struct {
		name string
		f    Format
		c    Compression
		body []byte
	}{{"none", JSONL, None, body}, {"gzip", JSONL, Gzip, body}, {"zstd", JSONL, Zstd, body}, {"parquet", Parquet, None, body}, {"parquet-1k", Parquet, None, small}} {
		b.Run(c.name, func(b *testing.B) {
			body := c.body
			events := bytes.Count(body, []byte{'\n'})
			var pieces [][]byte
			for rest := body; len(rest) > 0; {
				n := min(len(rest), 128<<10)
				pieces = append(pieces, rest[:n])
				rest = rest[n:]
			}
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

func TestSplitLines(t *testing.T) {
	for _, c := range []struct {
		body [][]byte
		want []string
	}{
		{nil, nil},
		{[][]byte{[]byte("a\nb\n")}, []string{"a", "b"}},
		{[][]byte{[]byte("ab"), []byte("c\nd"), []byte("\n\n"), []byte("e")}, []string{"abc", "d", "e"}},
		{[][]byte{[]byte("x"), []byte("y"), []byte("z\n")}, []string{"xyz"}},
	} {
		got := splitLines(c.body)
		var s []string
		for _, l := range got {
			s = append(s, string(l))
		}
		if strings.Join(s, "|") != strings.Join(c.want, "|") || len(s) != len(c.want) {
			t.Errorf("splitLines(%q) = %q, want %q", c.body, s, c.want)
		}
	}
}
