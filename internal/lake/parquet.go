package lake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"

	"github.com/eventlake/eventlake/internal/event"
)

// Format is the file format of lake objects (dead letters are always NDJSON).
type Format int

const (
	JSONL   Format = iota // NDJSON, compressed as the Compression says
	Parquet               // Parquet (Snappy when landed, zstd when compacted), typed common columns plus the whole event
)

var formatNames = [...]string{JSONL: "jsonl", Parquet: "parquet"}

// ParseFormat reads jsonl or parquet.
func ParseFormat(s string) (Format, error) {
	for f, n := range formatNames {
		if s == n {
			return Format(f), nil
		}
	}
	return 0, fmt.Errorf("unknown format %q: want jsonl or parquet", s)
}

func (f Format) String() string { return formatNames[f] }

// ParquetExt is the extension of Parquet objects.
const ParquetExt = ".parquet"

// Row is one event in a Parquet object: the common columns typed, and the
// whole enriched event as JSON so that nothing is lost.
type Row struct {
	EventUUID       string    `parquet:"event_uuid"`
	EventName       string    `parquet:"event_name,dict"`
	EventType       string    `parquet:"event_type,dict"`
	EventSubtype    string    `parquet:"event_subtype,dict"`
	CreatedAt       string    `parquet:"created_at"` // as sent: seconds, milliseconds, ... or a numeric string
	CreatedDatetime time.Time `parquet:"created_datetime,timestamp(nanosecond)"`
	Event           string    `parquet:"event,json"`
}

// Parquet pages are compressed with Snappy when landed and with zstd when
// compacted, as the table's data files are (docs/iceberg.md, "Codecs"):
// landed objects are small and live until compaction merges them; Snappy
// compresses them at 3.5-4x zstd's fastest speed for 1.5x the bytes.
//
// parquetCodec is compaction's: zstd's fastest level (a third of the CPU of
// its default for 2-4% more bytes; docs/performance.md), shared so that its
// pool of encoders is reused across objects (a new encoder per object cost
// more than the compression of a small object). Its settings never change;
// it is safe for concurrent use.
var parquetCodec = &zstd.Codec{Level: zstd.SpeedFastest}

// FastSnappy is Parquet's SNAPPY (raw Snappy blocks) written by s2's fast
// Snappy-compatible encoder; parquet-go's own snappy codec uses the
// "better" one, at half the speed for 5% fewer bytes. It writes only
// (parquet-go's writer never decodes); it is safe for concurrent use.
type FastSnappy struct{}

var _ compress.Codec = FastSnappy{}

func (FastSnappy) String() string                            { return "SNAPPY" }
func (FastSnappy) CompressionCodec() format.CompressionCodec { return format.Snappy }
func (FastSnappy) Encode(dst, src []byte) ([]byte, error) {
	if n := s2.MaxEncodedLen(len(src)); cap(dst) < n {
		dst = make([]byte, n)
	}
	return s2.EncodeSnappy(dst[:cap(dst)], src), nil
}
func (FastSnappy) Decode([]byte, []byte) ([]byte, error) {
	return nil, errors.New("lake: FastSnappy only writes")
}

// encodeParquet turns NDJSON enriched events, in pieces, into a Parquet
// file, with their typed columns when given (Object.Rows), else parsing
// each. Lines are read where they lie; only those spanning two pieces are
// copied.
func encodeParquet(body [][]byte, typed []Row) ([]byte, error) {
	if typed == nil {
		return parquetOf(splitLines(body), FastSnappy{})
	}
	rows, err := WithEvents(make([]Row, 0, len(typed)), typed, body)
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return writeParquet(rows, FastSnappy{})
}

// splitLines returns the non-empty lines of the concatenation of body,
// without newlines, pointing into body wherever a line lies in one piece.
func splitLines(body [][]byte) [][]byte {
	var lines [][]byte
	var carry []byte // the start of a line continued in the next piece
	for _, p := range body {
		for len(p) > 0 {
			line, rest, found := bytes.Cut(p, []byte{'\n'})
			p = rest
			if !found {
				carry = append(carry, line...)
				break
			}
			if len(carry) > 0 {
				line = append(carry, line...)
				carry = nil
			}
			if len(line) > 0 {
				lines = append(lines, line)
			}
		}
	}
	if len(carry) > 0 {
		lines = append(lines, carry)
	}
	return lines
}

// parquetOf encodes enriched events, one per line (without newlines), with
// codec.
func parquetOf(lines [][]byte, codec compress.Codec) ([]byte, error) {
	// The rows only live through parquet.Write, which copies every value
	// into its column buffers: Event may view the line (it does not change).
	rows, err := appendRows(make([]Row, 0, len(lines)), lines)
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return writeParquet(rows, codec)
}

// writeParquet encodes rows as a Parquet object with codec.
func writeParquet(rows []Row, codec compress.Codec) ([]byte, error) {
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows, parquet.Compression(codec), parquet.MaxRowsPerRowGroup(128<<10)); err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return buf.Bytes(), nil
}

// RowOf is the typed row of an enriched event: info from
// event.Enricher.Check (or Enrich) of line, the enriched event. The row
// holds copies: info and line may change afterwards.
func RowOf(info event.Info, line []byte) Row {
	return rowOf(info, string(line), &Row{})
}

// AppendTypedRow appends to dst the row of an event without its Event:
// info from event.Enricher.Check (or Enrich), copied; a name, type or
// subtype equal to the last row's shares its string. Object.Rows holds
// such rows.
func AppendTypedRow(dst []Row, info event.Info) []Row {
	prev := &Row{}
	if n := len(dst); n > 0 {
		prev = &dst[n-1]
	}
	return append(dst, rowOf(info, "", prev))
}

// WithEvents appends to dst the rows typed, each with its Event: the
// matching line of body (an object's NDJSON, in pieces), viewed where it
// lies in one piece, so the rows are valid only while body does not change.
// typed must hold one row per line of body.
func WithEvents(dst, typed []Row, body [][]byte) ([]Row, error) {
	lines := splitLines(body)
	if len(lines) != len(typed) {
		return dst, fmt.Errorf("%d typed rows for %d events", len(typed), len(lines))
	}
	for i, line := range lines {
		r := typed[i]
		r.Event = view(line)
		dst = append(dst, r)
	}
	return dst, nil
}

// AppendRows appends to dst the rows of an object's body (Object.Body:
// enriched events as NDJSON, in pieces), as Parquet objects hold them. The
// rows' Event views body wherever a line lies in one piece: the rows are
// valid only while body does not change. An event that does not pass the
// rules again (not an enriched event) is an error.
func AppendRows(dst []Row, body [][]byte) ([]Row, error) {
	return appendRows(dst, splitLines(body))
}

// appendRows appends the rows of enriched events, one per line, each Event
// viewing its line.
func appendRows(dst []Row, lines [][]byte) ([]Row, error) {
	enr := event.NewEnricher(&event.Options{MaxSize: 1 << 30})
	prev := &Row{}
	for _, line := range lines {
		info, err := enr.Check(line)
		if err != nil {
			return dst, fmt.Errorf("an enriched event does not pass the rules: %w", err)
		}
		dst = append(dst, rowOf(info, view(line), prev))
		prev = &dst[len(dst)-1]
	}
	return dst, nil
}

// rowOf is the one row builder: the typed columns of info, copied (they
// are in the enricher's buffers, reused by its next Check), and ev, the
// whole enriched event. Name, type and subtype repeat from row to row in
// an object: equal to prev's, they share prev's strings.
func rowOf(info event.Info, ev string, prev *Row) Row {
	return Row{
		EventUUID: string(info.UUID), EventName: reuse(prev.EventName, info.Name),
		EventType: reuse(prev.EventType, info.Type), EventSubtype: reuse(prev.EventSubtype, info.Subtype),
		CreatedAt: string(info.CreatedAt), CreatedDatetime: time.Unix(info.Sec, int64(info.Nsec)).UTC(), Event: ev,
	}
}

// reuse is b as a string: s when they are equal (no allocation).
func reuse(s string, b []byte) string {
	if string(b) == s {
		return s
	}
	return string(b)
}

// view is b as a string without copying; b must not change while the
// string is used.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ReadParquet reads the rows of a Parquet object.
func ReadParquet(r io.ReaderAt, size int64) ([]Row, error) {
	return parquet.Read[Row](r, size)
}
