package table

import (
	"fmt"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Data file paths. iceberg-go v0.7.0 builds a partition folder as
// name=url.QueryEscape(value) and joins it to the table location with
// url.URL.JoinPath, which decodes it again: the event type "/../.." becomes
// the folders "event_type=", "..", "..", above the table. Java engines
// treat '%' in a path as a literal byte, so no escaping that uses '%' reads
// the same everywhere. Commit names the folders itself instead, with only
// bytes that need no escaping in a URL, an S3 key or a file name.
//
// A value made of [a-z0-9_.-] that does not start with '.' is used as it
// is (event_type=payment, created_datetime_day=2026-11-01). Any other value
// becomes '~', its first 32 bytes lower-cased with other bytes as '_' (for
// people), '~' and the xxhash64 of the whole value in hex
// (event_type=~payment~e502e172e6af39b5 for "Payment"). '~' never appears in a
// plain value, so two values share a folder only if their 64-bit hashes
// collide; upper case is hashed too, so that no two folders differ only by
// case (macOS). The file names in a folder carry the batch, so folders may
// even be shared: a batch whose partitions would share one is refused.
const (
	maxPlain  = 128 // event types are at most 128 bytes (event.MaxPartLen)
	maxPrefix = 32
)

// Segment is the folder name of a partition field: name=value, safe as a
// path segment on any store.
func Segment(name, value string) string {
	return safe(name) + "=" + safe(value)
}

// safe returns v if it is plain, else its hashed form.
func safe(v string) string {
	if plain(v) {
		return v
	}
	var b strings.Builder
	b.WriteByte('~')
	for i := 0; i < len(v) && i < maxPrefix; i++ {
		c := v[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case !plainByte(c):
			c = '_'
		}
		b.WriteByte(c)
	}
	fmt.Fprintf(&b, "~%016x", xxhash.Sum64String(v))
	return b.String()
}

func plain(v string) bool {
	if v == "" || len(v) > maxPlain || v[0] == '.' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !plainByte(v[i]) {
			return false
		}
	}
	return true
}

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// checkRel refuses a relative data file path that could leave its folder:
// an empty, "." or ".." segment, or a byte a URL or a file system would
// read differently ('%', '\\', '?', '#', control bytes). Segment never makes
// one; this is defence in depth before any write.
func checkRel(rel string) error {
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg == "." || seg == ".." || len(seg) > 255 {
			return fmt.Errorf("table: unsafe data file path %q", rel)
		}
	}
	for i := 0; i < len(rel); i++ {
		if c := rel[i]; c < 0x20 || c == 0x7f || strings.IndexByte(`%\?#`, c) >= 0 {
			return fmt.Errorf("table: unsafe data file path %q", rel)
		}
	}
	return nil
}
