package lake

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
)

// TestAppendRows: the rows of an object's body, cut into pieces anywhere,
// are RowOf of each line; an Event lying in one piece views it (no copy);
// rows repeating a name, type or subtype share its string.
func TestAppendRows(t *testing.T) {
	enr := event.NewEnricher(nil)
	var body []byte
	var want []Row
	err := gen.Each(gen.Options{Events: 500, Seed: 5}, func(raw []byte, _ gen.Kind) error {
		info, err := enr.Check(raw)
		if err != nil {
			return nil // bad and repeated events do not matter here
		}
		from := len(body)
		body = enr.AppendEnriched(body)
		want = append(want, RowOf(info, body[from:]))
		body = append(body, '\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var pieces [][]byte
	for rest, n := body, 1; len(rest) > 0; n = n*7%1009 + 1 {
		k := min(n, len(rest))
		pieces = append(pieces, rest[:k])
		rest = rest[k:]
	}
	rows, err := AppendRows(nil, pieces)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	inBody := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		start := uintptr(unsafe.Pointer(&body[0]))
		return p >= start && p < start+uintptr(len(body))
	}
	viewed := 0
	for i, r := range rows {
		if r != want[i] {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, r, want[i])
		}
		if inBody(r.Event) {
			viewed++
		}
	}
	// Pieces of 1 to 1,009 bytes: some lines lie in one piece, most not.
	if viewed == 0 {
		t.Error("no Event views the body")
	}
	one, err := AppendRows(nil, [][]byte{body})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range one {
		if !inBody(r.Event) {
			t.Fatalf("row %d: Event copied though its line lies in one piece", i)
		}
		if i > 0 && r.EventType == one[i-1].EventType && unsafe.StringData(r.EventType) != unsafe.StringData(one[i-1].EventType) {
			t.Fatalf("row %d: equal event_type not shared", i)
		}
	}
	if _, err := AppendRows(nil, [][]byte{[]byte("{\"a\":1}\n")}); err == nil {
		t.Error("a line that is no enriched event made a row")
	}
}

// TestParquetCodecs: a landed Parquet object (encodeParquet, with typed
// rows or parsing its body) is Snappy and a compacted one (Encode) zstd,
// and all three hold the same rows; WithEvents refuses rows that do not
// match the body's lines one to one.
func TestParquetCodecs(t *testing.T) {
	enr := event.NewEnricher(nil)
	var body []byte
	var lines [][]byte
	var typed []Row
	err := gen.Each(gen.Options{Events: 300, Seed: 6}, func(raw []byte, _ gen.Kind) error {
		info, err := enr.Check(raw)
		if err != nil {
			return nil
		}
		typed = AppendTypedRow(typed, info)
		from := len(body)
		body = enr.AppendEnriched(body)
		lines = append(lines, body[from:])
		body = append(body, '\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	landedTyped, err := encodeParquet([][]byte{body}, typed)
	if err != nil {
		t.Fatal(err)
	}
	landedParsed, err := encodeParquet([][]byte{body}, nil)
	if err != nil {
		t.Fatal(err)
	}
	compacted, err := Encode(Parquet, None, lines)
	if err != nil {
		t.Fatal(err)
	}
	want, err := AppendRows(nil, [][]byte{body})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		data  []byte
		codec format.CompressionCodec
	}{{"landed, typed rows", landedTyped, format.Snappy}, {"landed, parsed", landedParsed, format.Snappy}, {"compacted", compacted, format.Zstd}} {
		f, err := parquet.OpenFile(bytes.NewReader(c.data), int64(len(c.data)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, rg := range f.Metadata().RowGroups {
			for _, cc := range rg.Columns {
				if cc.MetaData.Codec != c.codec {
					t.Errorf("%s: column %v is %v, want %v", c.name, cc.MetaData.PathInSchema, cc.MetaData.Codec, c.codec)
				}
			}
		}
		rows, err := ReadParquet(bytes.NewReader(c.data), int64(len(c.data)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(rows) != len(want) {
			t.Fatalf("%s: %d rows, want %d", c.name, len(rows), len(want))
		}
		for i := range rows {
			if !rows[i].CreatedDatetime.Equal(want[i].CreatedDatetime) {
				t.Fatalf("%s: row %d created_datetime %v, want %v", c.name, i, rows[i].CreatedDatetime, want[i].CreatedDatetime)
			}
			rows[i].CreatedDatetime = want[i].CreatedDatetime
			if rows[i] != want[i] {
				t.Fatalf("%s: row %d:\n got %+v\nwant %+v", c.name, i, rows[i], want[i])
			}
		}
	}
	if _, err := WithEvents(nil, typed[1:], [][]byte{body}); err == nil {
		t.Error("WithEvents took one typed row fewer than the body's events")
	}
}
