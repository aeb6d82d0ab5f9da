package lake

import (
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/event"
)

func info(typ string, t time.Time) event.Info {
	return event.Info{Type: []byte(typ), Subtype: []byte("s"), Sec: t.Unix(), Nsec: int32(t.Nanosecond())}
}

func TestLayoutPaths(t *testing.T) {
	ts := time.Date(2024, 3, 17, 10, 15, 30, 0, time.UTC)
	tests := []struct {
		layout Layout
		typ    string
		want   string
	}{
		{LayoutDaily, "payment", "event_type=payment/created_date=2024-03-17/"},
		{LayoutType, "payment", "event_type=payment/"},
		{LayoutHourly, "payment", "event_type=payment/created_date=2024-03-17/created_hour=10/"},
		{LayoutType, "..", "event_type=../"},
		{LayoutType, "../../etc", "event_type=..%2F..%2Fetc/"},
		{LayoutType, "/", "event_type=%2F/"},
		{LayoutType, "a=b", "event_type=a%3Db/"},
		{LayoutType, "100%", "event_type=100%25/"},
		{LayoutType, "%25", "event_type=%2525/"},
		{LayoutType, `a\b`, "event_type=a%5Cb/"},
		{LayoutType, "tab\there", "event_type=tab%09here/"},
		{LayoutType, "nul\x00", "event_type=nul%00/"},
		{LayoutType, "Zahlung ü 北京", "event_type=Zahlung ü 北京/"},
		{LayoutType, "a:b#c?d*e'f\"g{h[i]j^k\x7f", "event_type=a%3Ab%23c%3Fd%2Ae%27f%22g%7Bh%5Bi%5Dj%5Ek%7F/"},
	}
	for _, tc := range tests {
		got := string(tc.layout.AppendPath(nil, info(tc.typ, ts)))
		if got != tc.want {
			t.Errorf("%s %q: got %q, want %q", tc.layout, tc.typ, got, tc.want)
		}
		// Whatever the value, the path is exactly the layout's folders.
		if err := CheckKey(got + "x"); err != nil {
			t.Errorf("%q: %v", got, err)
		}
		if c := path.Clean(got); strings.Count(c, "/")+1 != len(tc.layout.Keys()) {
			t.Errorf("%q has %d folders, want %d", got, strings.Count(c, "/")+1, len(tc.layout.Keys()))
		}
		seg := strings.TrimPrefix(strings.SplitN(got, "/", 2)[0], "event_type=")
		if back, err := Unescape(seg); err != nil || back != tc.typ {
			t.Errorf("Unescape(%q) = %q, %v; want %q", seg, back, err, tc.typ)
		}
	}
}

func TestEscapingIsOneToOne(t *testing.T) {
	seen := map[string]string{}
	values := []string{"a", "a%", "a%25", "a/", "a%2F", "%", "%%", "/", "=", "%3D", ".", "..", "...", "a b", "a+b"}
	for c := 0; c < 256; c++ {
		values = append(values, string([]byte{byte(c)}))
	}
	for _, v := range values {
		e := string(AppendEscaped(nil, []byte(v)))
		if prev, ok := seen[e]; ok && prev != v {
			t.Fatalf("%q and %q both escape to %q", prev, v, e)
		}
		seen[e] = v
	}
}

func TestParseLayoutAndCompression(t *testing.T) {
	for _, s := range []string{"daily", "type", "hourly"} {
		l, err := ParseLayout(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseLayout(%q) = %v, %v", s, l, err)
		}
	}
	if _, err := ParseLayout("weekly"); err == nil {
		t.Error("ParseLayout(weekly) succeeded")
	}
	for _, s := range []string{"none", "gzip", "zstd"} {
		c, err := ParseCompression(s)
		if err != nil || c.String() != s {
			t.Errorf("ParseCompression(%q) = %v, %v", s, c, err)
		}
		if back, ok := CompressionOf("x" + c.Ext()); !ok || back != c {
			t.Errorf("CompressionOf(%q) = %v", c.Ext(), back)
		}
	}
	if _, err := ParseCompression("lz4"); err == nil {
		t.Error("ParseCompression(lz4) succeeded")
	}
}

func TestSourceStem(t *testing.T) {
	for in, want := range map[string]string{
		"events.jsonl": "events", "/data/day1/events.jsonl.gz": "events", "stdin": "stdin",
		"../../x y.json": "x_y", "": "input", ".hidden": "_hidden", "über.jsonl": "__ber",
		strings.Repeat("a", 100): strings.Repeat("a", 64),
	} {
		if got := SourceStem(in); got != want {
			t.Errorf("SourceStem(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckPartition: an event type whose escaped folder name is over 255
// bytes is refused by the rule, before any I/O.
func TestCheckPartition(t *testing.T) {
	ts := time.Date(2024, 3, 17, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		typ  string
		ok   bool
	}{
		{"plain", "payment", true},
		{"81 percent signs: 254 bytes", strings.Repeat("%", 81), true},
		{"82 percent signs: 257 bytes", strings.Repeat("%", 82), false},
		{"244 plain bytes: 255", strings.Repeat("a", 244), true},
		{"245 plain bytes: 256", strings.Repeat("a", 245), false},
		{"escaped colons and slashes", strings.Repeat(":/", 41), false},
		{"control characters", strings.Repeat("\x01", 82), false},
		{"multi-byte UTF-8 is not escaped", strings.Repeat("北", 81), true},
	}
	for _, tc := range tests {
		for _, l := range []Layout{LayoutDaily, LayoutType, LayoutHourly} {
			err := l.Check(info(tc.typ, ts))
			if (err == nil) != tc.ok {
				t.Errorf("%s, %s: Check = %v, want ok %v", tc.name, l, err, tc.ok)
			}
			var ee *event.Error
			if err != nil && (!errors.As(err, &ee) || ee.Reason != event.ReasonPartitionTooLong) {
				t.Errorf("%s: err %v, want reason %s", tc.name, err, event.ReasonPartitionTooLong)
			}
			if p := l.AppendPath(nil, info(tc.typ, ts)); tc.ok && len(p) > MaxPartitionLen {
				t.Errorf("%s: path of %d bytes, more than MaxPartitionLen %d", tc.name, len(p), MaxPartitionLen)
			}
		}
	}
}

// TestLongestKeyFitsS3: the longest object key the lake makes, under the
// longest prefix an S3 lake accepts, is within S3's limit.
func TestLongestKeyFitsS3(t *testing.T) {
	typ := strings.Repeat("a", MaxSegment-len("event_type="))
	part := LayoutHourly.AppendPath(nil, info(typ, time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC)))
	if err := LayoutHourly.Check(info(typ, time.Now())); err != nil || len(part) != MaxPartitionLen {
		t.Fatalf("longest partition: %d bytes (%v), MaxPartitionLen %d", len(part), err, MaxPartitionLen)
	}
	name := Name{Source: SourceStem(strings.Repeat("s", 200)), First: SafePosition(strings.Repeat("9", 200)), Last: SafePosition(strings.Repeat("9", 200)), Hash: 1<<64 - 1}
	key := string(part) + name.String() + Zstd.Ext()
	if len(key) != MaxRelKeyLen {
		t.Errorf("longest key %d bytes, MaxRelKeyLen %d", len(key), MaxRelKeyLen)
	}
	prefix := strings.Repeat("p", MaxPrefixLen-1) + "/"
	if full := prefix + key; len(full) > MaxKeyLen || CheckKey(key) != nil {
		t.Errorf("prefix + longest key = %d bytes, S3 allows %d", len(full), MaxKeyLen)
	}
}
