package lake

import (
	"fmt"
	"strings"
)

// Name identifies a batch by its source position: the source, the first and
// last line (or sequence number) and a hash of the batch's input bytes. The
// same input always gives the same name, so re-running it finds every object
// already there and adds nothing; different inputs never share a name, even
// from two files with the same base name.
type Name struct {
	Source      string // a short stem naming the source, made safe by SourceStem
	First, Last int64
	Hash        uint64
}

func (n Name) String() string {
	return fmt.Sprintf("%s-%010d-%010d-%016x", n.Source, n.First, n.Last, n.Hash)
}

// SourceStem makes a source name (a file path, "stdin", a stream name) into
// a safe object-name stem: the base name without extensions, only
// [A-Za-z0-9_.-], at most 64 bytes, never empty.
func SourceStem(src string) string {
	if i := strings.LastIndexAny(src, `/\`); i >= 0 {
		src = src[i+1:]
	}
	if i := strings.IndexByte(src, '.'); i > 0 {
		src = src[:i]
	}
	var b strings.Builder
	for i := 0; i < len(src) && b.Len() < 64; i++ {
		c := src[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "input"
	}
	return b.String()
}
