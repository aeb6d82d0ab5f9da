package table

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/apache/iceberg-go"
	pgcompress "github.com/parquet-go/parquet-go/compress"

	"github.com/eventlake/eventlake/internal/lake"
)

// tableField is a column of the table as its metadata JSON declares it.
type tableField struct {
	ID       int
	Name     string
	Required bool
	Type     string
}

// checkDataFile reads the schema of a data file with arrow-go's Parquet
// reader (the files are written with parquet-go) and checks it against the
// table's columns: every column present with its Iceberg field id, required
// as the table says, strings as STRING and timestamptz as a timestamp in
// microseconds adjusted to UTC (the Iceberg spec's Parquet mapping).
func checkDataFile(t testing.TB, path string, fields []tableField) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer rd.Close()
	sc := rd.MetaData().Schema
	if sc.NumColumns() != len(fields) {
		t.Fatalf("%s: %d columns, the table has %d", path, sc.NumColumns(), len(fields))
	}
	for _, f := range fields {
		i := sc.ColumnIndexByName(f.Name)
		if i < 0 {
			t.Fatalf("%s: no column %s", path, f.Name)
		}
		col := sc.Column(i)
		node := col.SchemaNode()
		if node.FieldID() != int32(f.ID) {
			t.Errorf("%s: column %s has field id %d, want %d", path, f.Name, node.FieldID(), f.ID)
		}
		want := parquet.Repetitions.Optional
		if f.Required {
			want = parquet.Repetitions.Required
		}
		if node.RepetitionType() != want {
			t.Errorf("%s: column %s is %s, want %s", path, f.Name, node.RepetitionType(), want)
		}
		switch f.Type {
		case "string":
			if _, ok := col.LogicalType().(schema.StringLogicalType); !ok || col.PhysicalType() != parquet.Types.ByteArray {
				t.Errorf("%s: column %s is %s %s, want a STRING byte array", path, f.Name, col.PhysicalType(), col.LogicalType())
			}
		case "timestamptz":
			ts, ok := col.LogicalType().(schema.TimestampLogicalType)
			if !ok || col.PhysicalType() != parquet.Types.Int64 || ts.TimeUnit() != schema.TimeUnitMicros || !ts.IsAdjustedToUTC() {
				t.Errorf("%s: column %s is %s %s, want int64 TIMESTAMP(MICROS, adjusted to UTC)",
					path, f.Name, col.PhysicalType(), col.LogicalType())
			}
		default:
			t.Fatalf("column %s of type %s: the check knows no such type", f.Name, f.Type)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestEncodeValues: an empty string and the Unix epoch are values, not
// nulls, and the same rows give the same bytes (a retry finds the file it
// wrote by its size).
func TestEncodeValues(t *testing.T) {
	sc, _, _ := Definition(false)
	ff, err := newFileFormat(sc, landingCodec)
	if err != nil {
		t.Fatal(err)
	}
	rows := []lake.Row{
		{EventUUID: "a", EventName: "x:y", EventType: "x", EventSubtype: "y", CreatedAt: "", CreatedDatetime: time.Unix(0, 0).UTC(), Event: "{}"},
		{EventUUID: "b", EventName: "x:y", EventType: "x", EventSubtype: "y", CreatedAt: "1", CreatedDatetime: time.UnixMicro(1).UTC(), Event: "{}"},
	}
	data, md, err := ff.encode(rows, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if md.NumRows != 2 || md.NumRowGroups() != 1 {
		t.Fatalf("footer: %d rows in %d row groups", md.NumRows, md.NumRowGroups())
	}
	again, _, err := ff.encode(rows, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Fatal("the same rows gave other bytes")
	}
	rd, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rg := rd.RowGroup(0)
	read := func(col string) (defs []int16) {
		cr, err := rg.Column(rd.MetaData().Schema.ColumnIndexByName(col))
		if err != nil {
			t.Fatal(err)
		}
		defs = make([]int16, 2)
		switch cr := cr.(type) {
		case *file.ByteArrayColumnChunkReader:
			vals := make([]parquet.ByteArray, 2)
			_, n, err := cr.ReadBatch(2, vals, defs, nil)
			if err != nil || n != 2 || string(vals[0]) != "" || string(vals[1]) != "1" {
				t.Fatalf("%s: %d values %q, %v", col, n, vals[:n], err)
			}
		case *file.Int64ColumnChunkReader:
			vals := make([]int64, 2)
			_, n, err := cr.ReadBatch(2, vals, defs, nil)
			if err != nil || n != 2 || vals[0] != 0 || vals[1] != 1 {
				t.Fatalf("%s: %d values %v, %v", col, n, vals[:n], err)
			}
		default:
			t.Fatalf("%s: reader %T", col, cr)
		}
		return defs
	}
	for _, col := range []string{ColCreated, ColDatetime} {
		if defs := read(col); defs[0] != 1 || defs[1] != 1 {
			t.Fatalf("%s: definition levels %v, want [1 1] (no nulls)", col, defs)
		}
	}
}

// TestFileFormatRefuses: a table that requires a column eventlake writes
// as optional, or that has a required column eventlake has no value for,
// is refused before anything is written.
func TestFileFormatRefuses(t *testing.T) {
	sc, _, _ := Definition(false)
	fields := sc.Fields()
	fields[1].Required = true // event_name
	if _, err := newFileFormat(icebergSchema(fields), landingCodec); err == nil || !strings.Contains(err.Error(), "event_name is required") {
		t.Fatalf("event_name required: %v", err)
	}
	fields = sc.Fields()
	fields = append(fields, fields[0])
	fields[len(fields)-1].ID, fields[len(fields)-1].Name = 8, "region"
	if _, err := newFileFormat(icebergSchema(fields), landingCodec); err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("a required column region: %v", err)
	}
	fields[len(fields)-1].Required = false
	if _, err := newFileFormat(icebergSchema(fields), landingCodec); err != nil {
		t.Fatalf("an optional column region: %v", err)
	}
}

func icebergSchema(fields []iceberg.NestedField) *iceberg.Schema {
	return iceberg.NewSchema(0, fields...)
}

// tableFields are the columns of a table's current schema.
func tableFields(t testing.TB, tb *Table) []tableField {
	t.Helper()
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var fields []tableField
	for _, f := range tbl.Schema().Fields() {
		fields = append(fields, tableField{ID: f.ID, Name: f.Name, Required: f.Required, Type: f.Type.String()})
	}
	return fields
}

// BenchmarkEncode encodes 100,000 generated events into one data file, with
// each codec: parquet-go's column writes, statistics, dictionaries and the
// codec, without the partitioning, the file system or the commit
// (BenchmarkCommit).
func BenchmarkEncode(b *testing.B) {
	b.Run("landing", func(b *testing.B) { benchmarkEncode(b, landingCodec) })
	b.Run("compaction", func(b *testing.B) { benchmarkEncode(b, compactCodec) })
}

func benchmarkEncode(b *testing.B, codec pgcompress.Codec) {
	rows := genRows(b, 100_000, 42)
	idx := make([]int, len(rows))
	in := 0
	for i := range rows {
		idx[i] = i
		in += len(rows[i].Event)
	}
	sc, _, _ := Definition(false)
	ff, err := newFileFormat(sc, codec)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(in))
	b.ReportAllocs()
	size := 0
	for b.Loop() {
		data, _, err := ff.encode(rows, idx)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size)/float64(in), "bytes/event-byte")
}

// TestEncodeFormat: the data files are what arrow-go wrote before
// parquet-go did: version 1 data pages, PLAIN values or a dictionary (no
// DELTA_* encodings), read back by arrow-go; landing's are Snappy,
// compaction's zstd with pages of hex digits compressed (zstd's fastest
// level stores a block without matches as it is unless told to entropy-code
// its literals).
func TestEncodeFormat(t *testing.T) {
	t.Run("landing", func(t *testing.T) { testEncodeFormat(t, landingCodec, compress.Codecs.Snappy) })
	t.Run("compaction", func(t *testing.T) { testEncodeFormat(t, compactCodec, compress.Codecs.Zstd) })
}

func testEncodeFormat(t *testing.T, codec pgcompress.Codec, want compress.Compression) {
	rows := genRows(t, 2000, 3)
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sc, _, _ := Definition(false)
	ff, err := newFileFormat(sc, codec)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := ff.encode(rows, idx)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	md := rd.MetaData()
	for g := range md.NumRowGroups() {
		rg := rd.RowGroup(g)
		for c := range md.Schema.NumColumns() {
			name := md.Schema.Column(c).Name()
			cc, err := md.RowGroup(g).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Compression() != want {
				t.Errorf("%s: compression %s", name, cc.Compression())
			}
			for _, e := range cc.Encodings() {
				switch e {
				case parquet.Encodings.Plain, parquet.Encodings.RLE, parquet.Encodings.RLEDict:
				default:
					t.Errorf("%s: encoding %s", name, e)
				}
			}
			if name == ColUUID && want == compress.Codecs.Zstd && float64(cc.TotalCompressedSize()) > 0.7*float64(cc.TotalUncompressedSize()) {
				t.Errorf("%s: %d bytes compressed of %d", name, cc.TotalCompressedSize(), cc.TotalUncompressedSize())
			}
			pr, err := rg.GetColumnPageReader(c)
			if err != nil {
				t.Fatal(err)
			}
			for pr.Next() {
				switch p := pr.Page().(type) {
				case *file.DataPageV1, *file.DictionaryPage:
				default:
					t.Errorf("%s: a page %T", name, p)
				}
			}
			if err := pr.Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
