package lake

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is how object bodies are encoded.
type Compression int

const (
	Gzip Compression = iota // the default: every tool reads it
	None
	Zstd
)

var compressionNames = [...]string{Gzip: "gzip", None: "none", Zstd: "zstd"}

// ParseCompression reads none, gzip or zstd.
func ParseCompression(s string) (Compression, error) {
	for c, n := range compressionNames {
		if s == n {
			return Compression(c), nil
		}
	}
	return 0, fmt.Errorf("unknown compression %q: want none, gzip or zstd", s)
}

func (c Compression) String() string { return compressionNames[c] }

// Ext is the file name extension of NDJSON objects so compressed.
func (c Compression) Ext() string {
	switch c {
	case None:
		return ".jsonl"
	case Zstd:
		return ".jsonl.zst"
	default:
		return ".jsonl.gz"
	}
}

// The levels, chosen by measured speed and size on 1M events of two data
// sets (docs/performance.md): the fastest level of each codec costs a
// quarter to a third of the CPU of its default and stores 5-15% more bytes;
// landing is CPU-bound, storage is cheap, and compaction rewrites
// partitions later anyway.
const (
	GzipLevel  = gzip.BestSpeed
	ZstdLevel  = zstd.SpeedFastest
	zstdWindow = 1 << 20 // objects are read whole; a small window keeps encoders small
	// Not zstd.WithLowerEncoderMem: it made encoding 25-40% slower
	// (BenchmarkEncode/zstd) for encoders that are pooled and few.
)

// encoder compresses whole objects, reusing compressor state.
type encoder struct {
	c    Compression
	gz   sync.Pool // *gzip.Writer
	zstd sync.Pool // *zstd.Encoder
	bufs sync.Pool // *bytes.Buffer
}

func newEncoder(c Compression) *encoder { return &encoder{c: c} }

// resetWriter is a streaming compressor.
type resetWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// encode returns body compressed, in pieces. For None it returns body
// itself. release gives the buffer back once the caller is done with it.
func (e *encoder) encode(body [][]byte) (out [][]byte, release func(), err error) {
	if e.c == None {
		return body, func() {}, nil
	}
	buf, _ := e.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	pool := &e.gz
	if e.c == Zstd {
		pool = &e.zstd
	}
	zw, _ := pool.Get().(resetWriter)
	switch {
	case zw != nil:
		zw.Reset(buf)
	case e.c == Zstd:
		zw, err = zstd.NewWriter(buf, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(ZstdLevel),
			zstd.WithWindowSize(zstdWindow))
	default:
		zw, err = gzip.NewWriterLevel(buf, GzipLevel)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, b := range body {
		if _, err := zw.Write(b); err != nil {
			return nil, nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	zw.Reset(io.Discard)
	pool.Put(zw)
	return [][]byte{buf.Bytes()}, func() { buf.Reset(); e.bufs.Put(buf) }, nil
}

// NewReader returns a reader of an object body written with compression c.
func NewReader(c Compression, r io.Reader) (io.ReadCloser, error) {
	switch c {
	case None:
		return io.NopCloser(r), nil
	case Zstd:
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	default:
		return gzip.NewReader(r)
	}
}

// NewFileReader returns a reader of a file named name whose body is r,
// decompressed by the name's last extension: .gz is gzip, .zst is zstd,
// anything else is read as is. It reads input files (run --from), whose
// names need not end in an object extension.
func NewFileReader(name string, r io.Reader) (io.ReadCloser, error) {
	c := None
	switch {
	case strings.HasSuffix(name, ".gz"):
		c = Gzip
	case strings.HasSuffix(name, ".zst"):
		c = Zstd
	}
	return NewReader(c, r)
}

// CompressionOf tells an object's compression from its name.
func CompressionOf(key string) (Compression, bool) {
	for _, c := range []Compression{Gzip, Zstd, None} {
		if len(key) >= len(c.Ext()) && key[len(key)-len(c.Ext()):] == c.Ext() {
			return c, true
		}
	}
	return 0, false
}
