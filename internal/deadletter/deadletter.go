// Package deadletter owns the dead-letter record: one JSON line per bad
// event with the reason code, a message for people, where the event came
// from, and its original bytes, so that nothing refused is ever lost.
package deadletter

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Record is one dead letter.
type Record struct {
	Reason string `json:"reason"` // a stable code, e.g. invalid_json
	Error  string `json:"error"`  // what is wrong, for people
	Source string `json:"source"` // where it came from, e.g. events.jsonl:1234 or shard id + sequence number
	Size   int64  `json:"size"`   // length of the original bytes
	// Truncated says that only the first bytes were kept (lines longer than
	// the reader's hard limit, 64 MiB by default).
	Truncated bool `json:"truncated,omitempty"`
	// Raw holds the original bytes when they are valid UTF-8, else RawBase64.
	Raw       *string `json:"raw,omitempty"`
	RawBase64 []byte  `json:"raw_base64,omitempty"`
}

// New makes the record of a bad event whose original bytes are raw.
func New(reason, msg, source string, raw []byte, size int64) Record {
	r := Record{Reason: reason, Error: msg, Source: source, Size: size, Truncated: size > int64(len(raw))}
	if utf8.Valid(raw) {
		s := string(raw)
		r.Raw = &s
	} else {
		r.RawBase64 = raw
	}
	return r
}

// Append appends r as one line of JSON, without a newline, to dst.
func Append(dst []byte, r Record) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		// Only strings, numbers and bytes: Encode cannot fail.
		panic(err)
	}
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte{'\n'})...)
}

// Parse reads one dead-letter line back.
func Parse(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return r, err
	}
	if r.Reason == "" || (r.Raw == nil && r.RawBase64 == nil) {
		return r, errors.New("deadletter: record without reason or original bytes")
	}
	return r, nil
}

// Original returns the original bytes kept in r.
func (r Record) Original() []byte {
	if r.Raw != nil {
		return []byte(*r.Raw)
	}
	return r.RawBase64
}
