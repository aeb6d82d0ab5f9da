package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestEnrichAccepts(t *testing.T) {
	tests := []struct {
		name, in, want string
		typ, sub, uuid string
		sec            int64
		nsec           int32
	}{
		{
			name: "three-part name, integer seconds",
			in:   `{"event_uuid":"u1","event_name":"payment:order:completed","created_at":1710670530,"amount":12.50}`,
			want: `{"event_uuid":"u1","event_name":"payment:order:completed","created_at":1710670530,"amount":12.50,"created_datetime":"2024-03-17T10:15:30Z","event_type":"payment","event_subtype":"order"}`,
			typ:  "payment", sub: "order", uuid: "u1", sec: 1710670530,
		},
		{
			name: "two-part name",
			in:   `{"event_uuid":"u","event_name":"account:created","created_at":0}`,
			want: `{"event_uuid":"u","event_name":"account:created","created_at":0,"created_datetime":"1970-01-01T00:00:00Z","event_type":"account","event_subtype":"created"}`,
			typ:  "account", sub: "created", uuid: "u",
		},
		{
			name: "fractional seconds keep milliseconds",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":1710670530.25}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1710670530.25,"created_datetime":"2024-03-17T10:15:30.250Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1710670530, nsec: 250_000_000,
		},
		{
			name: "fraction of zero still shows milliseconds",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":1710670530.0}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1710670530.0,"created_datetime":"2024-03-17T10:15:30.000Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1710670530,
		},
		{
			name: "milliseconds",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":1710670530123}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1710670530123,"created_datetime":"2024-03-17T10:15:30.123Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1710670530, nsec: 123_000_000,
		},
		{
			name: "microseconds truncate to milliseconds",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":1710670530123999}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1710670530123999,"created_datetime":"2024-03-17T10:15:30.123Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1710670530, nsec: 123_999_000,
		},
		{
			name: "nanoseconds",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":1710670530987654321}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1710670530987654321,"created_datetime":"2024-03-17T10:15:30.987Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1710670530, nsec: 987_654_321,
		},
		{
			name: "exponent seconds without fraction",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":1.71067053E9}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1.71067053E9,"created_datetime":"2024-03-17T10:15:30Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1710670530,
		},
		{
			name: "numeric string",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":"1710670530.5"}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":"1710670530.5","created_datetime":"2024-03-17T10:15:30.500Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1710670530, nsec: 500_000_000,
		},
		{
			name: "pre-existing enrichment members are replaced, not duplicated",
			in:   `{"event_type":"forged","event_uuid":"u","created_datetime":"x","event_name":"a:b","created_at":1,"event_subtype":null}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1,"created_datetime":"1970-01-01T00:00:01Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1,
		},
		{
			name: "escaped key spelling of an enrichment member is replaced too",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":1,"event\u005ftype":"x"}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1,"created_datetime":"1970-01-01T00:00:01Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1,
		},
		{
			name: "big integers, key order, non-ASCII and escapes kept byte for byte",
			in:   `{"z":1,"event_uuid":"u","big":123456789012345678901234567890,"f":1.0e+2,"event_name":"a:b","created_at":1,"text":"Zoë \u00e9 北京 😀","esc":"a\"b\\c\/\n","n":null,"nested":{"k":[1,{"x":"y"}]}}`,
			want: `{"z":1,"event_uuid":"u","big":123456789012345678901234567890,"f":1.0e+2,"event_name":"a:b","created_at":1,"text":"Zoë \u00e9 北京 😀","esc":"a\"b\\c\/\n","n":null,"nested":{"k":[1,{"x":"y"}]},"created_datetime":"1970-01-01T00:00:01Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1,
		},
		{
			name: "whitespace kept inside, newlines removed",
			in:   "{ \"event_uuid\" : \"u\",\n\t\"event_name\":\"a:b\",\r\n \"created_at\": 1, \"p\": [ 1,\n 2 ] , \"s\":\"x y\" }\n",
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1,"p":[1,2],"s":"x y","created_datetime":"1970-01-01T00:00:01Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1,
		},
		{
			name: "spaces without newlines are kept",
			in:   `  { "event_uuid": "u", "event_name": "a:b", "created_at": 1 }  `,
			want: `{ "event_uuid": "u", "event_name": "a:b", "created_at": 1,"created_datetime":"1970-01-01T00:00:01Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1,
		},
		{
			name: "escaped event name is decoded, then re-encoded",
			in:   `{"event_uuid":"\u0075","event_name":"p\u00e4y\"x\u003aord\\er:z","created_at":1}`,
			want: `{"event_uuid":"\u0075","event_name":"p\u00e4y\"x\u003aord\\er:z","created_at":1,"created_datetime":"1970-01-01T00:00:01Z","event_type":"päy\"x","event_subtype":"ord\\er"}`,
			typ:  "päy\"x", sub: "ord\\er", uuid: "u", sec: 1,
		},
		{
			name: "hostile name parts are values, not paths",
			in:   `{"event_uuid":"u","event_name":"../../etc:/=%","created_at":1}`,
			want: `{"event_uuid":"u","event_name":"../../etc:/=%","created_at":1,"created_datetime":"1970-01-01T00:00:01Z","event_type":"../../etc","event_subtype":"/=%"}`,
			typ:  "../../etc", sub: "/=%", uuid: "u", sec: 1,
		},
		{
			name: "empty third part is allowed",
			in:   `{"event_uuid":"u","event_name":"a:b:","created_at":1}`,
			want: `{"event_uuid":"u","event_name":"a:b:","created_at":1,"created_datetime":"1970-01-01T00:00:01Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1,
		},
		{
			name: "largest value read as seconds",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":99999999999}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":99999999999,"created_datetime":"5138-11-16T09:46:39Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 99999999999,
		},
		{
			name: "minus zero is zero",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":-0}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":-0,"created_datetime":"1970-01-01T00:00:00Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 0,
		},
		{
			name: "minus zero with a fraction and an exponent, as a string",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":"-0.0e5"}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":"-0.0e5","created_datetime":"1970-01-01T00:00:00Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 0,
		},
		{
			name: "first unambiguous milliseconds: 13 digits",
			in:   `{"event_uuid":"u","event_name":"a:b","created_at":1000000000000}`,
			want: `{"event_uuid":"u","event_name":"a:b","created_at":1000000000000,"created_datetime":"2001-09-09T01:46:40.000Z","event_type":"a","event_subtype":"b"}`,
			typ:  "a", sub: "b", uuid: "u", sec: 1000000000,
		},
	}
	e := NewEnricher(nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, info, err := e.Enrich([]byte("prefix:"), []byte(tc.in))
			if err != nil {
				t.Fatalf("Enrich: %v", err)
			}
			got, ok := bytes.CutPrefix(out, []byte("prefix:"))
			if !ok {
				t.Fatalf("dst prefix lost: %s", out)
			}
			if string(got) != tc.want {
				t.Errorf("output\n got %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) || bytes.ContainsAny(got, "\n\r") {
				t.Errorf("output is not one line of valid JSON: %q", got)
			}
			if string(info.Type) != tc.typ || string(info.Subtype) != tc.sub || string(info.UUID) != tc.uuid {
				t.Errorf("info = %q %q %q, want %q %q %q", info.Type, info.Subtype, info.UUID, tc.typ, tc.sub, tc.uuid)
			}
			if info.Sec != tc.sec || info.Nsec != tc.nsec {
				t.Errorf("time = %d.%09d, want %d.%09d", info.Sec, info.Nsec, tc.sec, tc.nsec)
			}
		})
	}
}

func TestEnrichRejects(t *testing.T) {
	long := `{"event_uuid":"u","event_name":"a:b","created_at":1,"pad":"` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name, in string
		want     Reason
		msg      string // a fragment of the message
	}{
		{"truncated", `{"event_uuid":"u","event_name":"a:b"`, ReasonInvalidJSON, "unterminated object"},
		{"trailing garbage", `{"event_uuid":"u","event_name":"a:b","created_at":1} x`, ReasonInvalidJSON, "after the object"},
		{"two objects", `{"a":1}{"b":2}`, ReasonInvalidJSON, "after the object"},
		{"bare word", `hello`, ReasonInvalidJSON, "unexpected character"},
		{"bad escape", `{"event_uuid":"\x","event_name":"a:b","created_at":1}`, ReasonInvalidJSON, "invalid escape"},
		{"raw control char", "{\"event_uuid\":\"a\tb\",\"event_name\":\"a:b\",\"created_at\":1}", ReasonInvalidJSON, "control character"},
		{"leading zero", `{"event_uuid":"u","event_name":"a:b","created_at":01}`, ReasonInvalidJSON, "expected ',' or"},
		{"trailing comma", `{"event_uuid":"u","event_name":"a:b","created_at":1,}`, ReasonInvalidJSON, "expected a string key"},
		{"single quotes", `{'event_uuid':'u'}`, ReasonInvalidJSON, "expected a string key"},
		{"NaN", `{"event_uuid":"u","event_name":"a:b","created_at":NaN}`, ReasonInvalidJSON, "unexpected character"},
		{"too deep", strings.Repeat("[", 600) + strings.Repeat("]", 600), ReasonInvalidJSON, "nesting deeper"},
		{"invalid utf8", "{\"event_uuid\":\"\xff\",\"event_name\":\"a:b\",\"created_at\":1}", ReasonInvalidUTF8, "byte 15"},
		{"invalid utf8 outside strings", "{\"event_uuid\":\"u\",\xff}", ReasonInvalidUTF8, "byte 18"},
		{"utf8 surrogate half", "{\"event_uuid\":\"\xed\xa0\x80\",\"event_name\":\"a:b\",\"created_at\":1}", ReasonInvalidUTF8, "byte 15"},
		{"overlong utf8", "{\"event_uuid\":\"\xc0\xaf\",\"event_name\":\"a:b\",\"created_at\":1}", ReasonInvalidUTF8, "byte 15"},
		{"truncated utf8 at the end", "{\"event_uuid\":\"\xe2\x82", ReasonInvalidUTF8, "byte 15"},
		{"invalid utf8 in a non-object", "[\"\xff\"]", ReasonInvalidUTF8, "byte 2"},
		{"array", `[1,2]`, ReasonNotObject, "array"},
		{"string", `"x"`, ReasonNotObject, "string"},
		{"number", `12`, ReasonNotObject, "number"},
		{"null", `null`, ReasonNotObject, "null"},
		{"duplicate uuid", `{"event_uuid":"u","event_uuid":"v","event_name":"a:b","created_at":1}`, ReasonDuplicateKey, "event_uuid"},
		{"duplicate created_at via escape", `{"event_uuid":"u","event_name":"a:b","created_at":1,"created\u005fat":2}`, ReasonDuplicateKey, "created_at"},
		{"missing uuid", `{"event_name":"a:b","created_at":1}`, ReasonMissingEventUUID, "event_uuid"},
		{"uuid number", `{"event_uuid":7,"event_name":"a:b","created_at":1}`, ReasonBadEventUUID, "number"},
		{"uuid empty", `{"event_uuid":"","event_name":"a:b","created_at":1}`, ReasonBadEventUUID, "empty"},
		{"uuid null", `{"event_uuid":null,"event_name":"a:b","created_at":1}`, ReasonBadEventUUID, "null"},
		{"missing name", `{"event_uuid":"u","created_at":1}`, ReasonMissingEventName, "event_name"},
		{"name one part", `{"event_uuid":"u","event_name":"payment","created_at":1}`, ReasonBadEventName, "no ':'"},
		{"name empty first", `{"event_uuid":"u","event_name":":b","created_at":1}`, ReasonBadEventName, "empty first"},
		{"name empty second", `{"event_uuid":"u","event_name":"a::c","created_at":1}`, ReasonBadEventName, "empty second"},
		{"name empty", `{"event_uuid":"u","event_name":"","created_at":1}`, ReasonBadEventName, "no ':'"},
		{"name array", `{"event_uuid":"u","event_name":["a","b"],"created_at":1}`, ReasonBadEventName, "array"},
		{"name type too long", `{"event_uuid":"u","event_name":"` + strings.Repeat("t", 129) + `:b","created_at":1}`, ReasonBadEventName, "129 bytes"},
		{"missing created_at", `{"event_uuid":"u","event_name":"a:b"}`, ReasonMissingCreatedAt, "created_at"},
		{"created_at word", `{"event_uuid":"u","event_name":"a:b","created_at":"yesterday"}`, ReasonBadCreatedAt, "not a number"},
		{"created_at empty string", `{"event_uuid":"u","event_name":"a:b","created_at":""}`, ReasonBadCreatedAt, "not a number"},
		{"created_at padded string", `{"event_uuid":"u","event_name":"a:b","created_at":" 1"}`, ReasonBadCreatedAt, "not a number"},
		{"created_at bool", `{"event_uuid":"u","event_name":"a:b","created_at":true}`, ReasonBadCreatedAt, "boolean"},
		{"created_at null", `{"event_uuid":"u","event_name":"a:b","created_at":null}`, ReasonBadCreatedAt, "null"},
		{"created_at negative", `{"event_uuid":"u","event_name":"a:b","created_at":-5}`, ReasonBadCreatedAt, "before 1970"},
		{"created_at huge", `{"event_uuid":"u","event_name":"a:b","created_at":1e30}`, ReasonBadCreatedAt, "out of range"},
		{"created_at negative fraction", `{"event_uuid":"u","event_name":"a:b","created_at":-0.001}`, ReasonBadCreatedAt, "before 1970"},
		// 12, 15 and 18 integer digits: both readings are implausible.
		{"created_at year 10000 in seconds", `{"event_uuid":"u","event_name":"a:b","created_at":253402300800}`, ReasonBadCreatedAt, "ambiguous"},
		{"created_at first 12-digit value", `{"event_uuid":"u","event_name":"a:b","created_at":100000000000}`, ReasonBadCreatedAt, "1973-03-03"},
		{"created_at last 12-digit value", `{"event_uuid":"u","event_name":"a:b","created_at":999999999999.9}`, ReasonBadCreatedAt, "ambiguous"},
		{"created_at 15 digits", `{"event_uuid":"u","event_name":"a:b","created_at":"253402300800000"}`, ReasonBadCreatedAt, "microseconds"},
		{"created_at 18 digits", `{"event_uuid":"u","event_name":"a:b","created_at":2.534023008e17}`, ReasonBadCreatedAt, "nanoseconds"},
		{"created_at ISO string", `{"event_uuid":"u","event_name":"a:b","created_at":"2024-03-17T10:15:30Z"}`, ReasonBadCreatedAt, "not a number"},
		{"too large", long, ReasonTooLarge, "limit of 4096"},
	}
	e := NewEnricher(&Options{MaxSize: 4096})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := e.Enrich([]byte("keep"), []byte(tc.in))
			var ee *Error
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want *Error with reason %s", err, tc.want)
			}
			if ee.Reason != tc.want {
				t.Errorf("reason = %s (%s), want %s", ee.Reason, ee.Msg, tc.want)
			}
			if !strings.Contains(ee.Error(), tc.msg) {
				t.Errorf("message %q does not mention %q", ee.Error(), tc.msg)
			}
			if string(out) != "keep" {
				t.Errorf("dst changed on error: %q", out)
			}
		})
	}
}

func TestEnrichBlank(t *testing.T) {
	for _, in := range []string{"", " ", "\r", "\t \r\n"} {
		if _, _, err := NewEnricher(nil).Enrich(nil, []byte(in)); !errors.Is(err, ErrBlank) {
			t.Errorf("Enrich(%q) err = %v, want ErrBlank", in, err)
		}
	}
}

// TestScannerAgreesWithEncodingJSON checks validity decisions on tricky
// inputs against the standard library.
func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, `{"a":[]}`, `{"a":{}}`, `{"a":-0}`, `{"a":-}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`,
		`{"a":1E+5}`, `{"a":1e-5}`, `{"a":"\u12"}`, `{"a":"\uD800"}`, `{"a":"\ud83d\ude00"}`,
		`{"a":tru}`, `{"a":true}`, `{"a":nul}`, `{"a" "b"}`, `{"a":1 "b":2}`, `{,}`, `{"a":[1,]}`,
		`{"a":[,1]}`, `{"a":"x"}}`, `{"a":"\/"}`, `{"a":00}`, `{"a":0.0e0}`, `{"a":[[[[]]]]}`,
		"{\"a\":\"\x7f\"}", "{\"a\":\"\x1f\"}", `{"a":"\a"}`, `{"a":1}` + "\n", "\n{\"a\":1}",
		`{"a":"` + strings.Repeat("abcdefgh", 5) + `\"` + strings.Repeat("z", 13) + `"}`,
	}
	for _, in := range inputs {
		s := scanner{b: []byte(in)}
		i := s.skipWS(0)
		end, err := s.scanValue(i, 0)
		ok := err == nil && s.skipWS(end) == len(in)
		if want := json.Valid([]byte(in)); ok != want {
			t.Errorf("valid(%q) = %v (%v), encoding/json says %v", in, ok, err, want)
		}
	}
}

func TestNotPlain8FindsTheFirstSpecialByte(t *testing.T) {
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			var x uint64
			for i := 7; i >= 0; i-- {
				b := byte('a')
				if i == pos {
					b = byte(c)
				}
				x = x<<8 | uint64(b)
			}
			m := notPlain8(x)
			if want := !plain[c]; (m != 0) != want {
				t.Fatalf("byte %#x at %d: flagged %v, want %v", c, pos, m != 0, want)
			} else if want && m&(uint64(1)<<(8*pos)-1) != 0 {
				t.Fatalf("byte %#x at %d: a lower byte flagged: %#x", c, pos, m)
			}
		}
	}
}

// TestGolden runs every line of testdata/enrich.input.jsonl through the rules
// and compares with testdata/enrich.golden (go test -update rewrites it).
func TestGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/enrich.input.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	e := NewEnricher(&Options{MaxSize: 4096})
	sc := bufio.NewScanner(bytes.NewReader(in))
	for n := 1; sc.Scan(); n++ {
		out, _, err := e.Enrich(nil, sc.Bytes())
		if err != nil {
			fmt.Fprintf(&got, "%d ERROR %v\n", n, err)
			continue
		}
		fmt.Fprintf(&got, "%d %s\n", n, out)
	}
	if *update {
		if err := os.WriteFile("testdata/enrich.golden", got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/enrich.golden")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("output differs from testdata/enrich.golden (run go test ./event -run TestGolden -update and review the diff):\n%s", got.Bytes())
	}
}
