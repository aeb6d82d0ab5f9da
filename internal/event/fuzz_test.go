package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

type rawMember struct {
	key string
	val string // compacted
}

// members returns the top-level members of a JSON object, in order, with
// each value compacted, using encoding/json only.
func members(t *testing.T, b []byte) []rawMember {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %q (%v)", b, err)
	}
	var out []rawMember
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("key: %v in %q", err, b)
		}
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			t.Fatalf("value: %v in %q", err, b)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			t.Fatalf("compact: %v", err)
		}
		out = append(out, rawMember{tok.(string), c.String()})
	}
	return out
}

func FuzzEnrich(f *testing.F) {
	if in, err := os.ReadFile("testdata/enrich.input.jsonl"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(in))
		for sc.Scan() {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
	}
	f.Add([]byte(`{"event_uuid":"u","event_name":"a:b","created_at":1}`))
	f.Add([]byte("{\"event_uuid\" :\"u\",\n\"event_name\":\"a:b\",\"created_at\":\"1.5\",\"event_type\":1}"))
	e := NewEnricher(&Options{MaxSize: 1 << 16})
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := append([]byte(nil), in...)
		out, info, err := e.Enrich(nil, in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("input modified")
		}
		if err != nil {
			var ee *Error
			if errors.Is(err, ErrBlank) {
				if len(bytes.TrimSpace(in)) != 0 {
					t.Fatalf("ErrBlank for non-blank %q", in)
				}
				return
			}
			if !errors.As(err, &ee) || ee.Reason == "" || ee.Msg == "" {
				t.Fatalf("error without reason: %v", err)
			}
			if ee.Reason == ReasonInvalidJSON && utf8.Valid(in) && json.Valid(in) && !strings.Contains(ee.Msg, "nesting") {
				t.Fatalf("valid JSON %q refused as invalid: %v", in, err)
			}
			if ee.Reason != ReasonInvalidJSON && ee.Reason != ReasonInvalidUTF8 && ee.Reason != ReasonTooLarge && !json.Valid(in) {
				t.Fatalf("invalid JSON %q got reason %s", in, ee.Reason)
			}
			return
		}
		if !json.Valid(in) || !utf8.Valid(in) {
			t.Fatalf("accepted invalid input %q", in)
		}
		if !json.Valid(out) || bytes.ContainsAny(out, "\n\r") || !utf8.Valid(out) {
			t.Fatalf("output is not one line of valid JSON: %q", out)
		}
		got := members(t, out)
		var want []rawMember
		for _, m := range members(t, in) {
			switch m.key {
			case keyDatetime, keyType, keySubtype:
				continue
			}
			want = append(want, m)
		}
		if len(got) != len(want)+3 {
			t.Fatalf("output has %d members, want %d+3:\n in %q\nout %q", len(got), len(want), in, out)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("member %d changed: %+v -> %+v", i, want[i], got[i])
			}
		}
		tail := got[len(want):]
		var typ, sub string
		if json.Unmarshal([]byte(tail[1].val), &typ) != nil || json.Unmarshal([]byte(tail[2].val), &sub) != nil {
			t.Fatalf("enrichment members not strings: %+v", tail)
		}
		if tail[0].key != keyDatetime || tail[1].key != keyType || tail[2].key != keySubtype ||
			typ != string(info.Type) || sub != string(info.Subtype) {
			t.Fatalf("enrichment members wrong: %+v", tail)
		}
		var name string
		for _, m := range want {
			if m.key == keyName {
				if err := json.Unmarshal([]byte(m.val), &name); err != nil {
					t.Fatal(err)
				}
			}
		}
		parts := strings.Split(name, ":")
		if len(parts) < 2 || parts[0] != string(info.Type) || parts[1] != string(info.Subtype) {
			t.Fatalf("event_name %q split into %q %q", name, info.Type, info.Subtype)
		}
	})
}
