package source

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, r io.Reader, opts *LineReaderOptions) []Chunk {
	t.Helper()
	lr := NewLineReader(r, opts)
	var out []Chunk
	for {
		c, err := lr.Next(nil)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

func TestChunksAreWholeLinesWithPositions(t *testing.T) {
	var in strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&in, "line %d %s\n", i, strings.Repeat("x", i%97))
	}
	in.WriteString("last line without newline")
	input := in.String()
	readers := map[string]func() io.Reader{
		"plain":    func() io.Reader { return strings.NewReader(input) },
		"one-byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(input)) },
		"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(input)) },
		"data-err": func() io.Reader { return iotest.DataErrReader(strings.NewReader(input)) },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			chunks := readAll(t, mk(), &LineReaderOptions{ChunkSize: 4096})
			var got bytes.Buffer
			line, off := int64(1), int64(0)
			for _, c := range chunks {
				if c.Line != line || c.Offset != off {
					t.Fatalf("chunk at line %d offset %d, want %d %d", c.Line, c.Offset, line, off)
				}
				if len(c.Data) == 0 {
					t.Fatal("empty chunk")
				}
				if c.Data[len(c.Data)-1] != '\n' && off+int64(len(c.Data)) != int64(len(input)) {
					t.Fatalf("chunk ends mid-line: %q", c.Data[len(c.Data)-10:])
				}
				first := bytes.SplitN(c.Data, []byte(" "), 3)[1]
				if string(first) != fmt.Sprint(line) && !bytes.HasPrefix(c.Data, []byte("last")) {
					t.Fatalf("chunk starts with line %s, want %d", first, line)
				}
				got.Write(c.Data)
				line += int64(bytes.Count(c.Data, []byte("\n")))
				off += int64(len(c.Data))
			}
			if got.String() != input {
				t.Fatal("chunks do not add up to the input")
			}
		})
	}
}

func TestLongLinesAreCutWithTheirSize(t *testing.T) {
	input := "short\n" + strings.Repeat("L", 10000) + "\nafter\n" + strings.Repeat("E", 5000)
	chunks := readAll(t, iotest.HalfReader(strings.NewReader(input)), &LineReaderOptions{ChunkSize: 512, MaxLine: 1000})
	var lines []string
	var cuts []int64
	for _, c := range chunks {
		if c.Cut > 0 {
			if len(c.Data) != 1000 {
				t.Errorf("cut line keeps %d bytes, want 1000", len(c.Data))
			}
			lines = append(lines, fmt.Sprintf("CUT@%d", c.Line))
			cuts = append(cuts, c.Cut)
			continue
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(c.Data), "\n"), "\n")...)
	}
	want := []string{"short", "CUT@2", "after", "CUT@4"}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	if fmt.Sprint(cuts) != "[10000 5000]" {
		t.Errorf("cut sizes = %v, want [10000 5000]", cuts)
	}
}

type errReader struct{ n int }

func (r *errReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		r.n--
		return copy(p, "a\nb\n"), nil
	}
	return 0, fmt.Errorf("disk on fire")
}

func TestReadErrorsAreReported(t *testing.T) {
	lr := NewLineReader(&errReader{n: 2}, &LineReaderOptions{ChunkSize: 64})
	var err error
	for range 10 {
		if _, err = lr.Next(nil); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want the read error", err)
	}
}

// TestByteOrderMarkIsStrippedAtTheStart: a UTF-8 byte order mark starts
// many files written on Windows; at the start of the input it is not part
// of the first line (its offset still counts), anywhere else it is data.
func TestByteOrderMarkIsStrippedAtTheStart(t *testing.T) {
	const bom = "\xef\xbb\xbf"
	tests := []struct {
		name, in, want string
		offset         int64 // of the first chunk
	}{
		{"at the start", bom + "a\nb\n", "a\nb\n", 3},
		{"alone", bom, "", 3},
		{"before a last line without newline", bom + "a", "a", 3},
		{"on the second line", "a\n" + bom + "b\n", "a\n" + bom + "b\n", 0},
		{"twice", bom + bom + "a\n", bom + "a\n", 3},
		{"a partial mark is data", "\xef\xbb", "\xef\xbb", 0},
		{"none", "a\n", "a\n", 0},
	}
	for _, tc := range tests {
		for rname, mk := range map[string]func(string) io.Reader{
			"plain":    func(s string) io.Reader { return strings.NewReader(s) },
			"one-byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		} {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				chunks := readAll(t, mk(tc.in), &LineReaderOptions{ChunkSize: 64})
				var got bytes.Buffer
				for i, c := range chunks {
					if i == 0 && (c.Offset != tc.offset || c.Line != 1) {
						t.Errorf("first chunk at offset %d line %d, want %d, 1", c.Offset, c.Line, tc.offset)
					}
					got.Write(c.Data)
				}
				if got.String() != tc.want {
					t.Errorf("read %q, want %q", got.String(), tc.want)
				}
			})
		}
	}
}

var xs = bytes.Repeat([]byte("x"), 64<<10)

// endless yields n bytes of 'x' without holding them.
type endless struct{ n int64 }

func (r *endless) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), r.n)], xs)
	r.n -= int64(k)
	return k, nil
}

// TestGiantLineIsSkippedNotBuffered: the part of a line past MaxLine is
// counted while it is read and dropped; it is never held in memory.
func TestGiantLineIsSkippedNotBuffered(t *testing.T) {
	const size = 256 << 20
	in := io.MultiReader(&endless{n: size}, strings.NewReader("\nnext\n"))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	chunks := readAll(t, in, &LineReaderOptions{ChunkSize: 1 << 20, MaxLine: 1 << 20})
	runtime.ReadMemStats(&after)
	if len(chunks) != 2 || chunks[0].Cut != size || len(chunks[0].Data) != 1<<20 || string(chunks[1].Data) != "next\n" {
		t.Fatalf("chunks: %d, first cut %d keeping %d", len(chunks), chunks[0].Cut, len(chunks[0].Data))
	}
	if chunks[1].Offset != size+1 || chunks[1].Line != 2 {
		t.Errorf("line after the giant one at offset %d line %d, want %d, 2", chunks[1].Offset, chunks[1].Line, size+1)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("reading a %d MiB line allocated %d MiB", size>>20, alloc>>20)
	}
}
