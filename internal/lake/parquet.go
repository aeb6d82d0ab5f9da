package lake

import (
	"bytes"
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/eventlake/eventlake/internal/event"
)

// Format is the file format of lake objects (dead letters are always NDJSON).
type Format int

const (
	JSONL   Format = iota // NDJSON, compressed as the Compression says
	Parquet               // Parquet, zstd, typed common columns plus the whole event
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

// parquetCodec compresses Parquet pages at zstd's fastest level (a third of
// the CPU of its default for 2-4% more bytes; docs/performance.md). It is
// shared so that its pool of encoders is reused across objects: a new
// encoder per object cost more than the compression of a small object.
// Its settings never change; it is safe for concurrent use.
var parquetCodec = &zstd.Codec{Level: zstd.SpeedFastest}

// encodeParquet turns NDJSON enriched events, in pieces, into a Parquet
// file. Lines are read where they lie; only those spanning two pieces are
// copied.
func encodeParquet(body [][]byte) ([]byte, error) {
	return parquetOf(splitLines(body))
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

// parquetOf encodes enriched events, one per line (without newlines).
func parquetOf(lines [][]byte) ([]byte, error) {
	enr := event.NewEnricher(&event.Options{MaxSize: 1 << 30})
	rows := make([]Row, 0, len(lines))
	for _, line := range lines {
		info, err := enr.Check(line)
		if err != nil {
			return nil, fmt.Errorf("parquet: an enriched event does not pass the rules: %w", err)
		}
		// The rows only live through parquet.Write, which copies every
		// value into its column buffers: Event may view the line (it does
		// not change). info's fields are in the enricher's buffers, reused
		// by the next Check: they are copied.
		rows = append(rows, Row{
			EventUUID: string(info.UUID), EventName: string(info.Name), EventType: string(info.Type),
			EventSubtype: string(info.Subtype), CreatedAt: string(info.CreatedAt),
			CreatedDatetime: time.Unix(info.Sec, int64(info.Nsec)).UTC(), Event: view(line),
		})
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows, parquet.Compression(parquetCodec), parquet.MaxRowsPerRowGroup(128<<10)); err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return buf.Bytes(), nil
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
