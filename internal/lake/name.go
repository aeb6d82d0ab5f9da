package lake

import (
	"fmt"
	"strings"
)

// Name identifies a batch by its source position: the source, the first and
// last position (line numbers of a file, sequence numbers of a shard, ids of
// messages) and a hash of the batch's input bytes. The same input always
// gives the same name, so re-running it finds every object already there and
// adds nothing; different inputs never share a name, even from two files
// with the same base name.
type Name struct {
	Source      string // a short stem naming the source, made safe by SourceStem
	First, Last string // positions: only [A-Za-z0-9_-], as LineNumber and SafePosition make them
	Hash        uint64
}

// MaxObjectNameLen bounds the object names a Writer makes: a source stem
// (64), two positions (80 each), the hash and the longest extension.
const MaxObjectNameLen = maxStem + 1 + maxPosition + 1 + maxPosition + 1 + 16 + len(".jsonl.zst")

const (
	maxStem     = 64
	maxPosition = 80
)

func (n Name) String() string {
	return fmt.Sprintf("%s-%s-%s-%016x", n.Source, n.First, n.Last, n.Hash)
}

// LineNumber formats a line number as a position that sorts in order.
func LineNumber(n int64) string { return fmt.Sprintf("%010d", n) }

// SafePosition makes a position from outside (a sequence number, a message
// id) safe in an object name: only [A-Za-z0-9_-] are kept, others become
// '_', and it is cut to 80 bytes.
func SafePosition(p string) string {
	b := []byte(p)
	if len(b) > maxPosition {
		b = b[:maxPosition]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
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
	for i := 0; i < len(src) && b.Len() < maxStem; i++ {
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
