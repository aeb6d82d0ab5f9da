// Package lake owns where and how events land: the Hive-style partition
// layout, object names, formats and compression, the Writer of a batch's
// objects, the manifests that say what readers see, and the store contract
// (Store, Lister, ReadLister, ReadWriteStore) that objects are created in,
// never overwritten. The stores themselves are its sub-packages folder, s3
// and mem (lakeurl opens one by URL; storetest checks each). It knows the
// event rules but nothing of where events come from.
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

// Limits of names in the lake. A partition folder name (event_type=<value>)
// must be a valid file name: file systems refuse names over 255 bytes, and an
// S3 lake's partitions become local folders when query mirrors them. Dates
// and hours are fixed-width (the rules refuse years past 9999), so a
// partition path is at most MaxPartitionLen bytes and a key below the
// lake's root at most MaxRelKeyLen; S3 refuses keys over MaxKeyLen bytes,
// which leaves MaxPrefixLen bytes for an S3 lake's prefix.
const (
	MaxSegment      = 255
	MaxPartitionLen = MaxSegment + len("/created_date=2006-01-02/created_hour=15/")
	MaxRelKeyLen    = MaxPartitionLen + MaxObjectNameLen
	MaxKeyLen       = 1024
	MaxPrefixLen    = MaxKeyLen - MaxRelKeyLen
)

// segmentPrefix starts the first folder of every partition.
const segmentPrefix = "event_type="

// Check refuses an event whose partition folder could not be created: one
// whose event_type, Hive-escaped, makes a folder name over MaxSegment bytes
// (escaping turns a byte into up to three, so 82 '%' are enough). It is
// pure and cheap; both landing paths call it for every event before any
// write, so that such an event is a dead letter (partition_too_long) and
// never fails its batch. Every other part of a partition path is
// fixed-width.
func (l Layout) Check(info event.Info) error {
	n := len(segmentPrefix) + EscapedLen(info.Type)
	if n > MaxSegment {
		return &event.Error{Reason: event.ReasonPartitionTooLong, Msg: fmt.Sprintf(
			"event type %s makes a partition folder name of %d bytes once escaped (event_type=%%XX...), more than %d",
			clip(info.Type), n, MaxSegment)}
	}
	return nil
}

// EscapedLen is len(AppendEscaped(nil, v)).
func EscapedLen(v []byte) int {
	n := len(v)
	for _, c := range v {
		if escaped[c] {
			n += 2
		}
	}
	return n
}

// clip quotes at most 40 bytes of v for a message.
func clip(v []byte) string {
	if len(v) > 40 {
		return fmt.Sprintf("%q...", v[:40])
	}
	return fmt.Sprintf("%q", v)
}

// AppendPath appends the partition folder of an event, ending in '/'.
// Values are escaped, so the result is always one folder per partition key
// below the root, whatever the event holds.
func (l Layout) AppendPath(dst []byte, info event.Info) []byte {
	dst = append(dst, segmentPrefix...)
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
