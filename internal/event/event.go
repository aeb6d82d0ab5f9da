// Package event owns the rules for a single event: it validates one JSON
// object, derives created_datetime, event_type and event_subtype from it and
// splices them into the original bytes, leaving every input member exactly as
// it came. It does no I/O and keeps no state between calls beyond reusable
// scratch space, so the CLI, the Lambda function, the tests and the fuzzer all
// share it.
package event

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Reason is the stable code of a bad event. Reasons appear in dead-letter
// records and in partition names of the dead-letter area, so they never change
// once released.
type Reason string

// The reasons, in the order the checks run: an event gets the first that
// applies.
const (
	ReasonTooLarge         Reason = "too_large"
	ReasonInvalidUTF8      Reason = "invalid_utf8"
	ReasonInvalidJSON      Reason = "invalid_json"
	ReasonNotObject        Reason = "not_object"
	ReasonDuplicateKey     Reason = "duplicate_key"
	ReasonMissingEventUUID Reason = "missing_event_uuid"
	ReasonBadEventUUID     Reason = "bad_event_uuid"
	ReasonMissingEventName Reason = "missing_event_name"
	ReasonBadEventName     Reason = "bad_event_name"
	ReasonMissingCreatedAt Reason = "missing_created_at"
	ReasonBadCreatedAt     Reason = "bad_created_at"
	// ReasonPartitionTooLong: the event passes the rules above, but its
	// partition folder cannot be created (lake.Layout.Check).
	ReasonPartitionTooLong Reason = "partition_too_long"
)

// Error is why an event was refused. Reason is stable; Msg is for people.
type Error struct {
	Reason Reason
	Msg    string
	Err    error // the underlying cause, if any
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Msg }

func (e *Error) Unwrap() error { return e.Err }

func bad(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Msg: fmt.Sprintf(format, args...)}
}

// TooLarge is the refusal of an event of size bytes, over limit. A reader
// that keeps only the start of a giant line says so with the size it
// counted.
func TooLarge(size int64, limit int) *Error {
	return bad(ReasonTooLarge, "event is %d bytes, more than the limit of %d", size, limit)
}

// BOM is the UTF-8 byte order mark. At the start of an input (a file, a
// record, a message) it is dropped, as most JSON tools do; anywhere else it
// is data.
const BOM = "\xef\xbb\xbf"

// DefaultMaxSize is the largest event accepted by default: 1 MiB, the
// Kinesis Data Streams record limit.
const DefaultMaxSize = 1 << 20

// MaxPartLen bounds event_type and event_subtype (decoded bytes). They become
// folder names, and file systems refuse names over 255 bytes.
const MaxPartLen = 128

// Options tunes an Enricher. The zero value is ready to use.
type Options struct {
	// MaxSize is the largest event in bytes; 0 means DefaultMaxSize.
	MaxSize int
}

// Info describes an accepted event. Its slices point into the input or into
// the Enricher's scratch space and stay valid until the next call to Enrich.
type Info struct {
	UUID      []byte // event_uuid, decoded
	Name      []byte // event_name, decoded
	Type      []byte // event_type, decoded
	Subtype   []byte // event_subtype, decoded
	CreatedAt []byte // created_at as sent: the JSON number, or the string's content
	Sec       int64  // created_at as Unix seconds, UTC
	Nsec      int32  // and nanoseconds within the second
}

// Names of the members the rules read or write.
const (
	keyUUID     = "event_uuid"
	keyName     = "event_name"
	keyCreated  = "created_at"
	keyDatetime = "created_datetime"
	keyType     = "event_type"
	keySubtype  = "event_subtype"
)

type span struct{ start, end int }

// member is one top-level member: the key from its opening quote and the
// value up to its last byte.
type member struct {
	keyStart, valStart, end int
	drop                    bool
}

// Enricher applies the rules to one event at a time. It is not safe for
// concurrent use; give each goroutine its own.
type Enricher struct {
	opts    Options
	sc      scanner
	members []member
	// scratch for decoded strings
	uuidBuf, nameBuf, keyBuf []byte
	last                     checked // what the last Check accepted
	ok                       bool
}

// checked is the state Check leaves for AppendEnriched.
type checked struct {
	raw           []byte
	open, closeAt int
	dropped       bool
	ts            stamp
	info          Info
}

// NewEnricher returns an Enricher. A nil opts means defaults.
func NewEnricher(opts *Options) *Enricher {
	e := &Enricher{}
	if opts != nil {
		e.opts = *opts
	}
	if e.opts.MaxSize <= 0 {
		e.opts.MaxSize = DefaultMaxSize
	}
	return e
}

// ErrBlank is returned for a line holding only whitespace: it is not an event.
var ErrBlank = errors.New("blank line")

// Enrich validates raw and appends the enriched event, one line of JSON
// without the trailing newline, to dst. On a bad event it returns dst
// unchanged and an *Error. raw is never modified.
func (e *Enricher) Enrich(dst, raw []byte) ([]byte, Info, error) {
	info, err := e.Check(raw)
	if err != nil {
		return dst, info, err
	}
	return e.AppendEnriched(dst), info, nil
}

// Check validates raw and returns what the rules derive from it, or an
// *Error (ErrBlank for a blank line). After a nil error, AppendEnriched
// writes the enriched event; Check and AppendEnriched together are Enrich,
// split so that a caller can choose where the output goes from the Info.
//
// Check is one long function on purpose: it is the hot path (about a
// microsecond per event, half of the CLI's CPU), a straight sequence of
// the rules in the order they are documented, and splitting it would add
// calls per event without making a rule easier to find.
func (e *Enricher) Check(raw []byte) (Info, error) {
	var info Info
	e.ok = false
	if len(raw) > e.opts.MaxSize {
		return info, TooLarge(int64(len(raw)), e.opts.MaxSize)
	}
	e.sc = scanner{b: raw, utf8OK: utf8.Valid(raw)}
	s := &e.sc
	i := s.skipWS(0)
	if i == len(raw) {
		return info, ErrBlank
	}
	if raw[i] != '{' {
		end, err := s.scanValue(i, 0)
		if err == nil {
			if j := s.skipWS(end); j != len(raw) {
				err = errAt(j, "unexpected data after the value")
			}
		}
		if err != nil {
			return info, syntaxBad(raw, err)
		}
		return info, bad(ReasonNotObject, "event is a JSON %s, not an object", kindOf(raw[i]))
	}
	open := i
	closeAt, err := e.scanTop(open)
	if err == nil {
		if j := s.skipWS(closeAt + 1); j != len(raw) {
			err = errAt(j, "unexpected data after the object")
		}
	}
	if err != nil {
		return info, syntaxBad(raw, err)
	}

	var uuidV, nameV, createdV span
	uuidV.start, nameV.start, createdV.start = -1, -1, -1
	dropped := false
	for k := range e.members {
		m := &e.members[k]
		keyEnd, esc, _ := s.scanString(m.keyStart) // already validated
		key := raw[m.keyStart+1 : keyEnd-1]
		if esc {
			e.keyBuf = unquoteAppend(e.keyBuf[:0], key)
			key = e.keyBuf
		}
		var slot *span
		switch string(key) {
		case keyUUID:
			slot = &uuidV
		case keyName:
			slot = &nameV
		case keyCreated:
			slot = &createdV
		case keyDatetime, keyType, keySubtype:
			m.drop = true
			dropped = true
			continue
		default:
			continue
		}
		if slot.start >= 0 {
			return info, bad(ReasonDuplicateKey, "member %q appears more than once", string(key))
		}
		*slot = span{m.valStart, m.end}
	}

	// event_uuid
	if uuidV.start < 0 {
		return info, bad(ReasonMissingEventUUID, "event has no \"event_uuid\" member")
	}
	v := raw[uuidV.start:uuidV.end]
	if v[0] != '"' {
		return info, bad(ReasonBadEventUUID, "\"event_uuid\" is a JSON %s, want a non-empty string", kindOf(v[0]))
	}
	info.UUID, e.uuidBuf = e.decodeString(v, e.uuidBuf)
	if len(info.UUID) == 0 {
		return info, bad(ReasonBadEventUUID, "\"event_uuid\" is empty")
	}

	// event_name
	if nameV.start < 0 {
		return info, bad(ReasonMissingEventName, "event has no \"event_name\" member")
	}
	v = raw[nameV.start:nameV.end]
	if v[0] != '"' {
		return info, bad(ReasonBadEventName, "\"event_name\" is a JSON %s, want a string like \"payment:order:completed\"", kindOf(v[0]))
	}
	var name []byte
	name, e.nameBuf = e.decodeString(v, e.nameBuf)
	info.Name = name
	if info.Type, info.Subtype, err = splitName(name); err != nil {
		return info, err
	}

	// created_at
	if createdV.start < 0 {
		return info, bad(ReasonMissingCreatedAt, "event has no \"created_at\" member")
	}
	info.CreatedAt = bytes.Trim(raw[createdV.start:createdV.end], `"`)
	ts, err := parseCreatedAt(raw[createdV.start:createdV.end])
	if err != nil {
		return info, err
	}
	info.Sec, info.Nsec = ts.sec, ts.nsec
	e.last = checked{raw: raw, open: open, closeAt: closeAt, dropped: dropped, ts: ts, info: info}
	e.ok = true
	return info, nil
}

// AppendEnriched appends the event that the last successful Check accepted:
// the input object with the enrichment members added at the end.
func (e *Enricher) AppendEnriched(dst []byte) []byte {
	if !e.ok {
		panic("event: AppendEnriched without a successful Check")
	}
	c := &e.last
	raw, open, closeAt, ts, info := c.raw, c.open, c.closeAt, c.ts, c.info
	if !c.dropped && !e.sc.newline {
		dst = append(dst, raw[open:closeAt]...)
		dst = trimTrailingWS(dst, len(dst)-(closeAt-open))
		dst = append(dst, ',')
	} else {
		dst = append(dst, '{')
		kept := 0
		for _, m := range e.members {
			if m.drop {
				continue
			}
			if kept > 0 {
				dst = append(dst, ',')
			}
			kept++
			dst = appendCompact(dst, raw[m.keyStart:m.end])
		}
		if kept > 0 {
			dst = append(dst, ',')
		}
	}
	dst = append(dst, `"created_datetime":"`...)
	dst = appendDatetime(dst, ts)
	dst = append(dst, `","event_type":`...)
	dst = appendQuoted(dst, info.Type)
	dst = append(dst, `,"event_subtype":`...)
	dst = appendQuoted(dst, info.Subtype)
	return append(dst, '}')
}

// scanTop scans the top-level object opening at b[open], recording its
// members, and returns the index of its closing brace.
func (e *Enricher) scanTop(open int) (int, error) {
	e.members = e.members[:0]
	end, err := e.sc.scanObject(open, 1, &e.members)
	return end - 1, err
}

// decodeString returns the content of the JSON string v (quotes included),
// unescaping into buf only when it holds escapes.
func (e *Enricher) decodeString(v, buf []byte) ([]byte, []byte) {
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, buf
	}
	buf = unquoteAppend(buf[:0], inner)
	return buf, buf
}

func splitName(name []byte) (typ, sub []byte, err error) {
	c := bytes.IndexByte(name, ':')
	if c < 0 {
		return nil, nil, bad(ReasonBadEventName, "\"event_name\" %s has no ':'; want at least two parts like \"payment:order\"", clip(name))
	}
	typ = name[:c]
	rest := name[c+1:]
	if c2 := bytes.IndexByte(rest, ':'); c2 >= 0 {
		sub = rest[:c2]
	} else {
		sub = rest
	}
	switch {
	case len(typ) == 0:
		return nil, nil, bad(ReasonBadEventName, "\"event_name\" %s has an empty first part", clip(name))
	case len(sub) == 0:
		return nil, nil, bad(ReasonBadEventName, "\"event_name\" %s has an empty second part", clip(name))
	case len(typ) > MaxPartLen:
		return nil, nil, bad(ReasonBadEventName, "event type is %d bytes, more than %d", len(typ), MaxPartLen)
	case len(sub) > MaxPartLen:
		return nil, nil, bad(ReasonBadEventName, "event subtype is %d bytes, more than %d", len(sub), MaxPartLen)
	}
	return typ, sub, nil
}

// clip quotes at most 80 bytes of s for an error message.
func clip(s []byte) string {
	if len(s) > 80 {
		cut := 80
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// syntaxBad explains a scan error: invalid UTF-8 anywhere comes first (a
// byte >= 0x80 outside a string stops the scanner as a syntax error), then
// invalid JSON.
func syntaxBad(raw []byte, err error) *Error {
	if !utf8.Valid(raw) {
		return &Error{Reason: ReasonInvalidUTF8, Msg: fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8At(raw)), Err: err}
	}
	return &Error{Reason: ReasonInvalidJSON, Msg: "invalid JSON: " + err.Error(), Err: err}
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func trimTrailingWS(b []byte, min int) []byte {
	for len(b) > min {
		switch b[len(b)-1] {
		case ' ', '\t', '\n', '\r':
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

// appendCompact appends JSON text src without whitespace between tokens.
// src must be valid JSON text (one or more tokens).
func appendCompact(dst, src []byte) []byte {
	inStr := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inStr {
			dst = append(dst, c)
			switch c {
			case '\\':
				i++
				dst = append(dst, src[i])
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inStr = true
		}
		dst = append(dst, c)
	}
	return dst
}

// IsJSONValue reports whether b is exactly one JSON value (with optional
// surrounding whitespace), valid UTF-8 included.
func IsJSONValue(b []byte) bool {
	s := scanner{b: b}
	i := s.skipWS(0)
	if i == len(b) {
		return false
	}
	end, err := s.scanValue(i, 0)
	return err == nil && s.skipWS(end) == len(b)
}
