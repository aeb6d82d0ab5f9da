package event

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects, so that hostile input
// cannot exhaust the stack. encoding/json allows 10000; real events nest a
// handful of levels.
const maxDepth = 512

// syntaxError describes why bytes are not JSON. Off is a byte offset.
type syntaxError struct {
	Off int
	Msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.Msg, e.Off) }

func errAt(off int, format string, args ...any) *syntaxError {
	return &syntaxError{Off: off, Msg: fmt.Sprintf(format, args...)}
}

// scanner validates JSON text, UTF-8 included (bytes >= 0x80 are valid only
// inside strings, where their sequences are checked). It never allocates on
// valid input.
type scanner struct {
	b []byte
	// newline records that a '\n' or '\r' was seen between tokens, which the
	// enricher must remove so that the output stays one line.
	newline bool
	// utf8OK says that b is known to be valid UTF-8 (checked first, in one
	// pass, by utf8.Valid): strings then skip bytes >= 0x80 eight at a time
	// instead of decoding each sequence. Invalid text is scanned with it
	// false, so errors and reasons are the same either way.
	utf8OK bool
}

// skipWS returns the index of the first non-whitespace byte at or after i.
// Compact JSON has none, so that case is checked first, inline.
func (s *scanner) skipWS(i int) int {
	if i < len(s.b) && s.b[i] > ' ' {
		return i
	}
	return s.skipWSLoop(i)
}

func (s *scanner) skipWSLoop(i int) int {
	b := s.b
	for i < len(b) {
		switch b[i] {
		case ' ', '\t':
		case '\n', '\r':
			s.newline = true
		default:
			return i
		}
		i++
	}
	return i
}

// plain marks the bytes that may appear in a string as they are: printable
// ASCII but '"' and '\\'. Control bytes are invalid, and bytes >= 0x80
// start UTF-8 sequences, which are validated where they appear.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// notPlain8 flags, as the high bit of each byte of x, the bytes that are not
// plain: '"', '\\', control bytes and bytes >= 0x80. A flag can be wrong only
// above a true one, and callers use the lowest.
func notPlain8(x uint64) uint64 {
	q := x ^ (lsb * '"')
	bs := x ^ (lsb * '\\')
	return ((q - lsb) | (bs - lsb) | (x - lsb*0x20) | x) & msb
}

// notPlainUTF8 is notPlain8 for text known to be valid UTF-8: bytes >= 0x80
// are not flagged. Each term is the exact "has a zero byte" test (y - lsb)
// &^ y, whose only false flags lie above a true one.
func notPlainUTF8(x uint64) uint64 {
	q := x ^ (lsb * '"')
	bs := x ^ (lsb * '\\')
	ctl := x - lsb*0x20
	return (((q - lsb) &^ q) | ((bs - lsb) &^ bs) | (ctl &^ x)) & msb
}

// errBadUTF8 is the scan error for invalid UTF-8 in a string.
type errBadUTF8 struct{ off int }

func (e errBadUTF8) Error() string { return fmt.Sprintf("invalid UTF-8 at byte %d", e.off) }

// scanString scans the string starting at b[i] == '"'. It returns the index
// just past the closing quote and whether the string holds escapes.
func (s *scanner) scanString(i int) (end int, escaped bool, err error) {
	b := s.b
	start := i
	i++
	for {
		for {
			if i+8 > len(b) {
				for i < len(b) && plain[b[i]] {
					i++
				}
				break
			}
			x := binary.LittleEndian.Uint64(b[i:])
			m := notPlain8(x)
			if s.utf8OK {
				m = notPlainUTF8(x)
			}
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return 0, false, errAt(start, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c >= utf8.RuneSelf && s.utf8OK:
			i++ // valid text; i may be inside a sequence after an 8-byte step
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return 0, false, errBadUTF8{i}
			}
			i += n
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, errAt(i, "unterminated escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, false, errAt(i, "invalid \\u escape")
				}
				i += 6
			default:
				return 0, false, errAt(i, "invalid escape \\%c", b[i+1])
			}
		default:
			return 0, false, errAt(i, "control character 0x%02x in string", c)
		}
	}
}

func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}

func isDigit(c byte) bool { return c-'0' < 10 }

// scanNumber scans the number starting at b[i] and returns the index just
// past it.
func (s *scanner) scanNumber(i int) (int, error) {
	b := s.b
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, errAt(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, errAt(start, "invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, errAt(start, "invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func (s *scanner) scanLiteral(i int, lit string) (int, error) {
	if len(s.b)-i < len(lit) || string(s.b[i:i+len(lit)]) != lit {
		return 0, errAt(i, "invalid literal")
	}
	return i + len(lit), nil
}

// scanValue scans the value starting at b[i] (no leading whitespace) and
// returns the index just past it.
func (s *scanner) scanValue(i, depth int) (int, error) {
	b := s.b
	if i >= len(b) {
		return 0, errAt(i, "unexpected end of input")
	}
	switch c := b[i]; c {
	case '"':
		end, _, err := s.scanString(i)
		return end, err
	case '{':
		return s.scanObject(i, depth+1, nil)
	case '[':
		return s.scanArray(i, depth+1)
	case 't':
		return s.scanLiteral(i, "true")
	case 'f':
		return s.scanLiteral(i, "false")
	case 'n':
		return s.scanLiteral(i, "null")
	default:
		if c == '-' || isDigit(c) {
			return s.scanNumber(i)
		}
		return 0, errAt(i, "unexpected character %q", c)
	}
}

// scanMember is scanValue with the common cases, strings and numbers,
// dispatched here: one call less per value on the hot path.
func (s *scanner) scanMember(i, depth int) (int, error) {
	if i < len(s.b) {
		switch c := s.b[i]; {
		case c == '"':
			end, _, err := s.scanString(i)
			return end, err
		case isDigit(c) || c == '-':
			return s.scanNumber(i)
		}
	}
	return s.scanValue(i, depth)
}

// scanObject scans the object opening at b[i] and returns the index just
// past it. If members is not nil, the spans of its members are appended.
func (s *scanner) scanObject(i, depth int, members *[]member) (int, error) {
	if depth > maxDepth {
		return 0, errAt(i, "nesting deeper than %d", maxDepth)
	}
	b := s.b
	i = s.skipWS(i + 1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errAt(i, "expected a string key")
		}
		keyStart := i
		end, _, err := s.scanString(i)
		if err != nil {
			return 0, err
		}
		i = s.skipWS(end)
		if i >= len(b) || b[i] != ':' {
			return 0, errAt(i, "expected ':' after key")
		}
		i = s.skipWS(i + 1)
		valStart := i
		if i, err = s.scanMember(i, depth); err != nil {
			return 0, err
		}
		if members != nil {
			*members = append(*members, member{keyStart: keyStart, valStart: valStart, end: i})
		}
		i = s.skipWS(i)
		if i >= len(b) {
			return 0, errAt(i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = s.skipWS(i + 1)
		case '}':
			return i + 1, nil
		default:
			return 0, errAt(i, "expected ',' or '}' in object")
		}
	}
}

func (s *scanner) scanArray(i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, errAt(i, "nesting deeper than %d", maxDepth)
	}
	b := s.b
	i = s.skipWS(i + 1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = s.scanMember(i, depth); err != nil {
			return 0, err
		}
		i = s.skipWS(i)
		if i >= len(b) {
			return 0, errAt(i, "unterminated array")
		}
		switch b[i] {
		case ',':
			i = s.skipWS(i + 1)
		case ']':
			return i + 1, nil
		default:
			return 0, errAt(i, "expected ',' or ']' in array")
		}
	}
}
