package table

import (
	"strings"
	"testing"
)

// TestSegment: plain values name their folder; others are hashed behind a
// readable, lower-cased prefix.
func TestSegment(t *testing.T) {
	for _, c := range []struct{ name, value, want string }{
		{"event_type", "payment", "event_type=payment"},
		{"event_type", "user-account_v2.1", "event_type=user-account_v2.1"},
		{"created_datetime_day", "2026-11-01", "created_datetime_day=2026-11-01"},
		{"created_datetime_hour", "2026-11-01-10", "created_datetime_hour=2026-11-01-10"},
		{"event_type", "Payment", "event_type=~payment~e502e172e6af39b5"},
		{"event_type", "a/b", "event_type=~a_b~*"},
		{"event_type", "..", "event_type=~..~*"},
		{"event_type", "", "event_type=~~*"},
	} {
		got := Segment(c.name, c.value)
		prefix, hashed := strings.CutSuffix(c.want, "*")
		if hashed && (!strings.HasPrefix(got, prefix) || len(got) != len(prefix)+16) || !hashed && got != c.want {
			t.Errorf("Segment(%q, %q) = %q, want %q", c.name, c.value, got, c.want)
		}
	}
}

// TestSegmentOneToOne: different values never share a folder, even when
// a file system ignores case; every folder is a safe path segment.
func TestSegmentOneToOne(t *testing.T) {
	values := []string{"", ".", "..", "...", "/", "//", "a/b", "a_b", "A_B", "a%2Fb", "%2F", "~", "~a~",
		"payment", "Payment", "PAYMENT", "~payment~e502e172e6af39b5", "\x00", "\n", "é", "e\u0301",
		strings.Repeat("x", 128), strings.Repeat("x", 129), strings.Repeat("é", 64), strings.Repeat("%", 128)}
	seen := map[string]string{}
	for _, v := range values {
		s := strings.ToLower(Segment("event_type", v))
		if prev, ok := seen[s]; ok {
			t.Fatalf("%q and %q share the folder %s", prev, v, s)
		}
		seen[s] = v
		if err := checkRel(s + "/f.parquet"); err != nil || len(s) > 255 {
			t.Fatalf("%q: folder %q (%d bytes): %v", v, s, len(s), err)
		}
	}
}

func TestCheckRel(t *testing.T) {
	for _, rel := range []string{"", "/a", "a//b", "a/./b", "a/../b", "..", "a%2Fb", `a\b`, "a?b", "a#b", "a\x00b", "a\nb", strings.Repeat("x", 256)} {
		if checkRel(rel) == nil {
			t.Errorf("checkRel(%q) passed", rel)
		}
	}
	if err := checkRel("event_type=~a_b~0123456789abcdef/created_datetime_day=2026-11-01/s-1-2-0123456789abcdef.parquet"); err != nil {
		t.Error(err)
	}
}
