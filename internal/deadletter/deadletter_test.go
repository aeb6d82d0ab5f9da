package deadletter

import (
	"bytes"
	"testing"
)

func TestRoundTripKeepsOriginalBytes(t *testing.T) {
	for _, raw := range [][]byte{
		[]byte(`{"a":1} trailing`),
		[]byte("Ren\xe9 \x00 \xff"),
		[]byte("line with \"quotes\", <html> & \\ back\u2028slash"),
		{},
	} {
		line := Append([]byte("x"), New("invalid_json", "bad", "f.jsonl:3", raw, int64(len(raw))))
		if bytes.ContainsAny(line[1:], "\n\r") {
			t.Fatalf("record is not one line: %q", line)
		}
		r, err := Parse(line[1:])
		if err != nil {
			t.Fatalf("Parse(%s): %v", line, err)
		}
		if !bytes.Equal(r.Original(), raw) || r.Reason != "invalid_json" || r.Source != "f.jsonl:3" || r.Size != int64(len(raw)) || r.Truncated {
			t.Errorf("round trip of %q gave %+v", raw, r)
		}
		if (r.Raw == nil) == (r.RawBase64 == nil) && len(raw) > 0 {
			t.Errorf("want exactly one of raw and raw_base64: %s", line)
		}
	}
}

func TestTruncatedIsMarked(t *testing.T) {
	r, err := Parse(Append(nil, New("too_large", "big", "s:1", []byte("abc"), 100)))
	if err != nil || !r.Truncated || r.Size != 100 {
		t.Fatalf("got %+v, %v", r, err)
	}
}

func TestParseRefusesOtherJSON(t *testing.T) {
	if _, err := Parse([]byte(`{"event_uuid":"x"}`)); err == nil {
		t.Fatal("Parse accepted a non-dead-letter line")
	}
}
