package event_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
)

func sampleLines(b *testing.B) [][]byte {
	var lines [][]byte
	gen.Each(gen.Options{Events: 10000, Seed: 1}, func(line []byte, _ gen.Kind) error {
		lines = append(lines, bytes.Clone(line))
		return nil
	})
	return lines
}

func size(lines [][]byte) (n int64) {
	for _, l := range lines {
		n += int64(len(l))
	}
	return n
}

// BenchmarkEnrich measures decode, validate and enrich on realistic events.
func BenchmarkEnrich(b *testing.B) {
	lines := sampleLines(b)
	benchEnrich(b, lines)
}

// BenchmarkEncodingJSONBaseline does the same job the plain way, with
// encoding/json (decode to a map, add the members, encode), for comparison.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	lines := sampleLines(b)
	b.SetBytes(size(lines) / int64(len(lines)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(lines[i%len(lines)]))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			b.Fatal(err)
		}
		m["created_datetime"] = "2024-03-17T10:15:30Z"
		m["event_type"], m["event_subtype"] = "a", "b"
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidOnly is encoding/json.Valid alone: the floor for a
// validating pass with the standard library.
func BenchmarkValidOnly(b *testing.B) {
	lines := sampleLines(b)
	b.SetBytes(size(lines) / int64(len(lines)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if !json.Valid(lines[i%len(lines)]) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkEnrichNonASCII is BenchmarkEnrich on bigger events whose text is
// mostly not ASCII (a ~1.2 kB member of Cyrillic, CJK, accented Latin and
// emoji added to each), the kind of data that flatters a scanner least.
func BenchmarkEnrichNonASCII(b *testing.B) {
	text := bytes.Repeat([]byte("Привет, мир! 東京都渋谷区 Zürich Straße ŁÓDŹ 😀🎉 "), 16)
	var lines [][]byte
	for _, l := range sampleLines(b) {
		l = bytes.TrimSuffix(l, []byte("}"))
		l = append(append(append(l, `,"note":"`...), text...), `"}`...)
		lines = append(lines, l)
	}
	benchEnrich(b, lines)
}

// benchEnrich enriches lines round-robin, one per iteration.
func benchEnrich(b *testing.B, lines [][]byte) {
	e := event.NewEnricher(nil)
	var dst []byte
	b.SetBytes(size(lines) / int64(len(lines)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var err error
		dst, _, err = e.Enrich(dst[:0], lines[i%len(lines)])
		if err != nil {
			b.Fatal(err)
		}
	}
}
