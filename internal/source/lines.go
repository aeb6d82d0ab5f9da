// Package source reads inputs and hands them on as chunks of whole lines
// with their position (line number and byte offset), so that batches can be
// named by where they came from. It knows nothing of events or the lake.
package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/eventlake/eventlake/internal/event"
)

// Chunk is a run of whole lines from the input.
type Chunk struct {
	// Data holds whole lines; each ends in '\n' except perhaps the last line
	// of the input.
	Data []byte
	// Line is the 1-based number of the first line in Data.
	Line int64
	// Offset is the byte offset of Data in the input.
	Offset int64
	// Cut, when > 0, says that Data is one line that was longer than the
	// reader keeps; Data holds its first bytes and Cut its full length
	// (without the newline).
	Cut int64
}

// DefaultChunkSize is the amount of input read at once.
const DefaultChunkSize = 1 << 20

// DefaultMaxLine is the longest line kept whole: longer lines are cut (and
// then refused as too large by the event rules, with their true size).
const DefaultMaxLine = 64 << 20

// LineReader splits an io.Reader into chunks of whole lines.
type LineReader struct {
	r       io.Reader
	size    int
	maxLine int
	carry   []byte // the start of a line not yet ended
	line    int64
	off     int64
	eof     bool
	err     error
	bomDone bool // the start of the input was checked for a byte order mark
}

// bom is dropped at the start of the input (see event.BOM).
const bom = event.BOM

// LineReaderOptions tune a LineReader; zero values mean defaults.
type LineReaderOptions struct {
	ChunkSize int // bytes read at once
	MaxLine   int // the longest line kept whole
}

// NewLineReader reads r. A nil opts means defaults.
func NewLineReader(r io.Reader, opts *LineReaderOptions) *LineReader {
	lr := &LineReader{r: r, size: DefaultChunkSize, maxLine: DefaultMaxLine, line: 1}
	if opts != nil {
		if opts.ChunkSize > 0 {
			lr.size = opts.ChunkSize
		}
		if opts.MaxLine > 0 {
			lr.maxLine = opts.MaxLine
		}
	}
	return lr
}

// Next returns the next chunk, built in buf (reused when large enough). It
// returns a chunk as soon as a read brings at least one whole line and
// either fills the chunk or comes back short (a pipe or terminal with no
// more data for now), so a slow stream is not held back. At the end of the
// input it returns io.EOF.
func (lr *LineReader) Next(buf []byte) (Chunk, error) {
	if lr.err != nil {
		return Chunk{}, lr.err
	}
	buf = append(buf[:0], lr.carry...)
	lr.carry = lr.carry[:0]
	for {
		if !lr.bomDone {
			buf = lr.skipBOM(buf)
		}
		if lr.eof {
			end := bytes.LastIndexByte(buf, '\n') + 1
			switch {
			case len(buf) == 0:
				lr.err = io.EOF
				return Chunk{}, io.EOF
			case len(buf)-end <= lr.maxLine:
				return lr.emit(buf, len(buf)), nil
			case end > 0: // whole lines first, the overlong last line next time
				return lr.emit(buf, end), nil
			default:
				return lr.cutLine(buf)
			}
		}
		if lr.bomDone && len(buf) >= lr.maxLine && bytes.IndexByte(buf, '\n') < 0 {
			return lr.cutLine(buf)
		}
		if cap(buf)-len(buf) < lr.size/2 {
			nb := make([]byte, len(buf), len(buf)+lr.size)
			copy(nb, buf)
			buf = nb
		}
		want := min(cap(buf), max(lr.size, len(buf)+lr.size/2))
		n, err := lr.r.Read(buf[len(buf):want])
		buf = buf[:len(buf)+n]
		if !lr.bomDone {
			buf = lr.skipBOM(buf)
		}
		if err == io.EOF {
			lr.eof = true
			continue
		}
		if err != nil {
			lr.err = fmt.Errorf("read input at byte %d: %w", lr.off+int64(len(buf)), err)
			return Chunk{}, lr.err
		}
		short := len(buf) < want
		if lr.bomDone && (len(buf) >= lr.size || (short && n > 0)) {
			if end := bytes.LastIndexByte(buf, '\n'); end >= 0 {
				return lr.emit(buf, end+1), nil
			}
		}
	}
}

// skipBOM drops a byte order mark at the start of the input once enough of
// it is read to tell (3 bytes, or the end).
func (lr *LineReader) skipBOM(buf []byte) []byte {
	if len(buf) < len(bom) && !lr.eof && strings.HasPrefix(bom, string(buf)) {
		return buf // too early to tell
	}
	lr.bomDone = true
	if bytes.HasPrefix(buf, []byte(bom)) {
		buf = append(buf[:0], buf[len(bom):]...)
		lr.off += int64(len(bom))
	}
	return buf
}

// emit returns buf[:end] as a chunk and keeps the rest for the next call.
func (lr *LineReader) emit(buf []byte, end int) Chunk {
	lr.carry = append(lr.carry, buf[end:]...)
	data := buf[:end]
	lines := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines++
	}
	c := Chunk{Data: data, Line: lr.line, Offset: lr.off}
	lr.line += int64(lines)
	lr.off += int64(end)
	return c
}

// cutLine handles a line longer than maxLine: it keeps the first maxLine
// bytes, reads and drops the rest up to the newline, and returns the kept
// part with the line's full length.
func (lr *LineReader) cutLine(buf []byte) (Chunk, error) {
	total := int64(len(buf)) // the line's length, without its newline
	consumed := int64(0)     // plus the newline, when there is one
	rest := make([]byte, 64<<10)
	var tail []byte
	for !lr.eof {
		n, err := lr.r.Read(rest)
		if i := bytes.IndexByte(rest[:n], '\n'); i >= 0 {
			total += int64(i)
			consumed = 1
			tail = rest[i+1 : n]
			break
		}
		total += int64(n)
		if errors.Is(err, io.EOF) {
			lr.eof = true
			break
		}
		if err != nil {
			lr.err = fmt.Errorf("read input at byte %d: %w", lr.off+total, err)
			return Chunk{}, lr.err
		}
	}
	c := Chunk{Data: buf[:lr.maxLine], Line: lr.line, Offset: lr.off, Cut: total}
	lr.line++
	lr.off += total + consumed
	lr.carry = append(lr.carry[:0], tail...)
	return c, nil
}
