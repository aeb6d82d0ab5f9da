package lake

import (
	"bytes"
	"fmt"
	"strings"
)

// Ext is the name extension of objects in format f; c is the compression of
// NDJSON objects (Parquet compresses its columns itself).
func Ext(f Format, c Compression) string {
	if f == Parquet {
		return ParquetExt
	}
	return c.Ext()
}

// FormatOf tells an object's format and compression from its name.
func FormatOf(key string) (Format, Compression, bool) {
	if strings.HasSuffix(key, ParquetExt) {
		return Parquet, None, true
	}
	c, ok := CompressionOf(key)
	return JSONL, c, ok
}

// Encode makes an object body in format f (and compression c for NDJSON)
// from enriched events, one per line, without newlines: compaction's
// objects, so Parquet pages are zstd (landed ones are Snappy).
func Encode(f Format, c Compression, lines [][]byte) ([]byte, error) {
	if f == Parquet {
		return parquetOf(lines, parquetCodec) // compaction's: zstd
	}
	body := make([][]byte, 0, 2*len(lines))
	nl := []byte{'\n'}
	for _, l := range lines {
		body = append(body, l, nl)
	}
	enc := newEncoder(c)
	out, release, err := enc.encode(body)
	if err != nil {
		return nil, err
	}
	defer release()
	return bytes.Join(out, nil), nil
}

// Lines are the enriched events stored in the object key with body, one per
// line without newlines, in stored order, whatever its format.
func Lines(key string, body []byte) ([][]byte, error) {
	f, _, ok := FormatOf(key)
	if !ok {
		return nil, fmt.Errorf("%s: not a lake object (want .jsonl, .jsonl.gz, .jsonl.zst or .parquet)", key)
	}
	if f == Parquet {
		rows, err := ReadParquet(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		lines := make([][]byte, len(rows))
		for i := range rows {
			lines[i] = []byte(rows[i].Event)
		}
		return lines, nil
	}
	body, err := decompress(key, body)
	if err != nil {
		return nil, err
	}
	var lines [][]byte
	for len(body) > 0 {
		line, rest, _ := bytes.Cut(body, []byte{'\n'})
		body = rest
		if len(line) > 0 {
			lines = append(lines, line)
		}
	}
	return lines, nil
}
