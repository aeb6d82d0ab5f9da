package table

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/iceberg-go"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/format"

	"github.com/eventlake/eventlake/internal/lake"
)

// The table's data files are encoded with parquet-go, as the raw lake's
// Parquet objects are: it allocates a quarter of what arrow-go's pqarrow
// did and takes a little less CPU (docs/iceberg.md); zstd is most of the cost.
// The files keep what arrow-go wrote: v1 data pages, PLAIN values or
// dictionaries, the field ids, so readers meet nothing new. Their footers
// are read back with arrow-go, which iceberg-go's DataFileFromMetadata takes.

// fileRow is a row of a data file: the table's columns, in schema order.
// Optional columns are pointers (nil: null), so that an empty string or the
// Unix epoch stay values, as Iceberg readers expect; they point into the
// batch's rows, as parquet-go copies every value it writes. Each column's
// Iceberg field id is added to its tag from the table's schema (fileFormat),
// created_datetime is timestamptz: microseconds, adjusted to UTC. Strings
// not in a dictionary are PLAIN (parquet-go's default would be
// DELTA_LENGTH_BYTE_ARRAY).
type fileRow struct {
	EventUUID       string     `parquet:"event_uuid,plain"`
	EventName       *string    `parquet:"event_name,dict"`
	EventType       *string    `parquet:"event_type,dict"`
	EventSubtype    *string    `parquet:"event_subtype,dict"`
	CreatedAt       *string    `parquet:"created_at,plain"`
	CreatedDatetime *time.Time `parquet:"created_datetime,timestamp(microsecond:utc)"`
	Event           *string    `parquet:"event,plain"`
}

// fileRowOf views r as a data file's row; it holds pointers into r.
func fileRowOf(r *lake.Row) fileRow {
	return fileRow{
		EventUUID: r.EventUUID, EventName: &r.EventName, EventType: &r.EventType, EventSubtype: &r.EventSubtype,
		CreatedAt: &r.CreatedAt, CreatedDatetime: &r.CreatedDatetime, Event: &r.Event,
	}
}

// Two codecs compress the data files' pages (docs/iceberg.md, "Codecs"):
//   - landingCodec, for the small files each batch lands: Snappy, at its
//     fast level (s2's snappy-compatible encoder): 3.5-4x the speed of
//     zstd's fastest level on the event column for 1.5x the bytes. They
//     live until compaction merges them.
//   - compactCodec, for compaction's files, which stay: zstd at its
//     fastest level (the table's write.parquet.compression-codec).
//
// Both are safe for concurrent use; parquet-go's writer only encodes.
var (
	landingCodec compress.Codec = lake.FastSnappy{}
	compactCodec compress.Codec = zstdCodec{enc: sync.OnceValue(newZstd)}
)

// newZstd is compaction's zstd encoder: its fastest level (about the level
// 1 of zstd's own scale the files had with arrow-go), entropy-coding the
// literals of blocks without matches too, as arrow-go did: without it that
// level stores such pages as they are, and the event_uuid column (hex
// digits) took 1.9x its size, created_datetime 1.3x. One encoder per
// core; EncodeAll is safe for concurrent use.
func newZstd() *zstd.Encoder {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithZeroFrames(true),
		zstd.WithAllLitEntropyCompression(true), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		panic(err) // constant options
	}
	return enc
}

// zstdCodec is a parquet-go codec over a shared zstd encoder; it writes
// only (Decode refuses: parquet-go's writer never decodes).
type zstdCodec struct {
	enc func() *zstd.Encoder
}

var _ compress.Codec = zstdCodec{}

func (zstdCodec) String() string                            { return "ZSTD" }
func (zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }
func (c zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	return c.enc().EncodeAll(src, dst[:0]), nil
}
func (zstdCodec) Decode([]byte, []byte) ([]byte, error) {
	return nil, errors.New("table: the data files' codec only writes")
}

// encodeChunk is how many rows are handed to parquet-go at a time, so that
// the views of a big partition are not all made at once.
const encodeChunk = 8 << 10

// fileFormat is how a table's data files are written: the parquet-go
// options, including fileRow's tags completed with the table's field ids.
type fileFormat struct {
	opts []parquet.WriterOption
}

// newFileFormat checks that fileRow can hold the table's columns (same
// names, required where the table requires them) and tags each with its
// field id. A table's optional column that fileRow does not have is left
// out of the files: Iceberg reads a column missing from a data file as
// null. A required one is refused.
func newFileFormat(sc *iceberg.Schema, codec compress.Codec) (fileFormat, error) {
	ff := fileFormat{opts: []parquet.WriterOption{
		parquet.Compression(codec),
		parquet.MaxRowsPerRowGroup(128 << 10),
		// Pages of 1 MiB (before compression), as arrow-go wrote them:
		// files 4.5% smaller than with parquet-go's 256 KiB
		// (BenchmarkEncode).
		parquet.PageBufferSize(1 << 20),
		parquet.DataPageVersion(1),
	}}
	rt := reflect.TypeFor[fileRow]()
	ours := map[string]bool{}
	for i := range rt.NumField() {
		f := rt.Field(i)
		tag := f.Tag.Get("parquet")
		name, _, _ := strings.Cut(tag, ",")
		ours[name] = true
		col, ok := sc.FindFieldByName(name)
		if !ok {
			return ff, fmt.Errorf("table: the table has no column %s", name)
		}
		if required := f.Type.Kind() != reflect.Pointer; col.Required != required {
			return ff, fmt.Errorf("table: column %s is %s in the table; eventlake writes it %s",
				name, requiredness(col.Required), requiredness(required))
		}
		tag += ",id(" + strconv.Itoa(col.ID) + ")"
		ff.opts = append(ff.opts, &parquet.StructTagOption{
			StructTag: reflect.StructTag(`parquet:"` + tag + `"`), ColumnPath: []string{f.Name},
		})
	}
	for _, col := range sc.Fields() {
		if !ours[col.Name] && col.Required {
			return ff, fmt.Errorf("table: required column %s: no value for it", col.Name)
		}
	}
	return ff, nil
}

func requiredness(required bool) string {
	if required {
		return "required"
	}
	return "optional"
}

// newWriter starts a data file written to w.
func (ff fileFormat) newWriter(w interface{ Write([]byte) (int, error) }) *parquet.GenericWriter[fileRow] {
	return parquet.NewGenericWriter[fileRow](w, ff.opts...)
}

// writeRows writes rows[idx...] to w, encodeChunk rows at a time; buf is
// reused for the views (its new value is returned).
func writeRows(w *parquet.GenericWriter[fileRow], buf []fileRow, rows []lake.Row, idx []int) ([]fileRow, error) {
	for len(idx) > 0 {
		n := min(len(idx), encodeChunk)
		buf = buf[:0]
		for _, k := range idx[:n] {
			buf = append(buf, fileRowOf(&rows[k]))
		}
		if _, err := w.Write(buf); err != nil {
			return buf, err
		}
		idx = idx[n:]
	}
	clear(buf) // drop the views
	return buf, nil
}

// encode writes the rows of a partition as a data file. The same rows
// always give the same bytes.
func (ff fileFormat) encode(rows []lake.Row, idx []int) ([]byte, *metadata.FileMetaData, error) {
	var buf bytes.Buffer
	w := ff.newWriter(&buf)
	if _, err := writeRows(w, make([]fileRow, 0, min(len(idx), encodeChunk)), rows, idx); err != nil {
		return nil, nil, fmt.Errorf("table: parquet: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, fmt.Errorf("table: parquet: %w", err)
	}
	md, err := footer(buf.Bytes())
	if err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), md, nil
}

// footer reads the metadata of a whole Parquet file in memory, with
// arrow-go's reader (as compaction reads its outputs' footers).
func footer(data []byte) (*metadata.FileMetaData, error) {
	rd, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("table: parquet footer: %w", err)
	}
	return rd.MetaData(), nil
}
