// Package lake owns where and how events land: the Hive-style partition
// layout, object names, compression, and the stores (a local folder, S3,
// memory) that objects are created in, never overwritten. It knows the event
// rules but nothing of where events come from.
package lake

import (
	"fmt"

	"github.com/eventlake/eventlake/internal/event"
)

// Layout is the partition scheme under the lake's root.
type Layout int

const (
	// LayoutDaily is event_type=<event_type>/created_date=<YYYY-MM-DD>/, the default.
	LayoutDaily Layout = iota
	// LayoutType is event_type=<event_type>/, the original design.
	LayoutType
	// LayoutHourly is event_type=<event_type>/created_date=<YYYY-MM-DD>/created_hour=<HH>/.
	LayoutHourly
)

var layoutNames = [...]string{LayoutDaily: "daily", LayoutType: "type", LayoutHourly: "hourly"}

// ParseLayout reads a layout name: daily, type or hourly.
func ParseLayout(s string) (Layout, error) {
	for l, n := range layoutNames {
		if s == n {
			return Layout(l), nil
		}
	}
	return 0, fmt.Errorf("unknown layout %q: want daily (event_type=/created_date=), type (event_type=) or hourly (event_type=/created_date=/created_hour=)", s)
}

func (l Layout) String() string { return layoutNames[l] }

// Template is the layout as a path pattern, as documented and as Glue
// partition projection spells it.
func (l Layout) Template() string {
	switch l {
	case LayoutType:
		return "event_type=${event_type}/"
	case LayoutHourly:
		return "event_type=${event_type}/created_date=${created_date}/created_hour=${created_hour}/"
	default:
		return "event_type=${event_type}/created_date=${created_date}/"
	}
}

// Keys are the partition columns of the layout, in path order.
func (l Layout) Keys() []string {
	switch l {
	case LayoutType:
		return []string{"event_type"}
	case LayoutHourly:
		return []string{"event_type", "created_date", "created_hour"}
	default:
		return []string{"event_type", "created_date"}
	}
}

// Bucket is the time part of an event's partition: the day or hour since
// the epoch (0 for LayoutType). Two events of one event_type share a
// partition exactly when their buckets are equal.
func (l Layout) Bucket(info event.Info) int64 {
	switch l {
	case LayoutType:
		return 0
	case LayoutHourly:
		return info.Sec / 3600
	default:
		return info.Sec / 86400
	}
}

// AppendPath appends the partition folder of an event, ending in '/'.
// Values are escaped, so the result is always one folder per partition key
// below the root, whatever the event holds.
func (l Layout) AppendPath(dst []byte, info event.Info) []byte {
	dst = append(dst, "event_type="...)
	dst = AppendEscaped(dst, info.Type)
	dst = append(dst, '/')
	if l == LayoutType {
		return dst
	}
	dst = append(dst, "created_date="...)
	dst = info.AppendDate(dst)
	dst = append(dst, '/')
	if l == LayoutHourly {
		dst = append(dst, "created_hour="...)
		dst = info.AppendHour(dst)
		dst = append(dst, '/')
	}
	return dst
}

// escaped marks the bytes Hive escapes in partition values
// (FileUtils.escapePathName), plus NUL. '%' is among them, so the escaping is
// one to one: two different values never share a folder.
var escaped = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for _, c := range "\"#%'*/:=?\\\x7f{[]^" {
		t[c] = true
	}
	return t
}()

// AppendEscaped appends v with Hive-style percent-escaping (%XX, upper case
// hex). Bytes of multi-byte UTF-8 characters are kept as they are.
func AppendEscaped(dst, v []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range v {
		if escaped[c] {
			dst = append(dst, '%', hex[c>>4], hex[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// Unescape reverses AppendEscaped.
func Unescape(s string) (string, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			out = append(out, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", fmt.Errorf("bad escape in partition value %q", s)
		}
		out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	return string(out), nil
}

func isHex(c byte) bool { return c-'0' < 10 || c-'A' < 6 || c-'a' < 6 }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
