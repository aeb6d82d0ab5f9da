package event

import (
	"time"
)

// stamp is a point in time with a flag telling whether the input was finer
// than a second (and so created_datetime shows milliseconds).
type stamp struct {
	sec    int64
	nsec   int32
	subsec bool
}

// maxSec is the first second of year 10000: RFC 3339 has four-digit years.
const maxSec = 253402300800

// parseCreatedAt reads created_at: a JSON number, or a JSON string holding
// one, in seconds, milliseconds, microseconds or nanoseconds since the Unix
// epoch, told apart by the number of integer digits: up to 11 is seconds (up
// to year 5138), 13-14 milliseconds, 16-17 microseconds, 19 or more
// nanoseconds. 12, 15 and 18 digits are refused as ambiguous: read in the
// larger unit they are a time between 1973-03-03 and 2001-09-09, read in the
// smaller one a time past year 5138, and neither is a credible event time
// (253402300800, year 10000 in seconds, would land in 1978). -0 is 0. The
// conversion is exact decimal arithmetic: no float rounding.
func parseCreatedAt(v []byte) (stamp, error) {
	num, err := createdAtNumber(v)
	if err != nil {
		return stamp{}, err
	}
	d := readDecimal(num)
	if d.neg && d.nsig > 0 {
		return stamp{}, bad(ReasonBadCreatedAt, "\"created_at\" %s is before 1970", clip(num))
	}
	// The unit follows from the number of integer digits.
	shift := 9 // decimal places from the unit to nanoseconds
	switch {
	case d.point >= 18:
		shift = 0
	case d.point >= 15:
		shift = 3
	case d.point >= 12:
		shift = 6
	}
	if err := ambiguous(num, d.point); err != nil {
		return stamp{}, err
	}
	subsec := shift < 9 || d.nsig > d.point

	// Seconds and nanoseconds: the digits of the value, scaled to
	// nanoseconds, before the point.
	secDigits := d.point + shift - 9
	if secDigits > 12 {
		return stamp{}, bad(ReasonBadCreatedAt, "\"created_at\" %s is out of range", clip(num))
	}
	var sec, nsec int64
	for k := 0; k < secDigits; k++ {
		sec = sec*10 + d.at(k)
	}
	for k := secDigits; k < secDigits+9; k++ {
		nsec = nsec*10 + d.at(k)
	}
	if sec >= maxSec {
		return stamp{}, bad(ReasonBadCreatedAt, "\"created_at\" %s is after year 9999", clip(num))
	}
	return stamp{sec: sec, nsec: int32(nsec), subsec: subsec}, nil
}

// createdAtNumber returns the text of the number created_at holds: the JSON
// number itself, or the content of a string that must be exactly a JSON
// number.
func createdAtNumber(v []byte) ([]byte, error) {
	switch c := v[0]; {
	case c == '-' || isDigit(c):
		return v, nil
	case c != '"':
		return nil, bad(ReasonBadCreatedAt, "\"created_at\" is a JSON %s, want Unix time as a number", kindOf(c))
	}
	num := v[1 : len(v)-1]
	sc := scanner{b: num}
	if len(num) == 0 || !(num[0] == '-' || isDigit(num[0])) {
		return nil, bad(ReasonBadCreatedAt, "\"created_at\" string %s is not a number", clip(num))
	}
	if end, err := sc.scanNumber(0); err != nil || end != len(num) {
		return nil, bad(ReasonBadCreatedAt, "\"created_at\" string %s is not a number", clip(num))
	}
	return num, nil
}

// decimal is a JSON number as significant digits (leading zeros dropped)
// and the position of the decimal point among them, after the exponent.
type decimal struct {
	sig   [20]byte // the first significant digits; more never matter
	nsig  int      // significant digits seen (may exceed len(sig))
	point int      // digits before the decimal point, counted from sig[0]
	neg   bool
}

// at is the k-th significant digit, 0 past the end.
func (d *decimal) at(k int) int64 {
	if k >= 0 && k < d.nsig && k < len(d.sig) {
		return int64(d.sig[k] - '0')
	}
	return 0
}

func (d *decimal) digit(c byte, beforePoint bool) {
	if d.nsig == 0 && c == '0' {
		if !beforePoint {
			d.point--
		}
		return
	}
	if d.nsig < len(d.sig) {
		d.sig[d.nsig] = c
	}
	d.nsig++
	if beforePoint {
		d.point++
	}
}

// readDecimal reads num, a valid JSON number.
func readDecimal(num []byte) decimal {
	var d decimal
	i := 0
	if num[0] == '-' {
		d.neg = true
		i++
	}
	for ; i < len(num) && isDigit(num[i]); i++ {
		d.digit(num[i], true)
	}
	if i < len(num) && num[i] == '.' {
		for i++; i < len(num) && isDigit(num[i]); i++ {
			d.digit(num[i], false)
		}
	}
	if i < len(num) { // exponent, already validated by the scanner
		i++
		neg := num[i] == '-'
		if num[i] == '+' || num[i] == '-' {
			i++
		}
		exp := 0
		for ; i < len(num); i++ {
			if exp < 1000 {
				exp = exp*10 + int(num[i]-'0')
			}
		}
		if neg {
			exp = -exp
		}
		d.point += exp
	}
	if d.nsig == 0 {
		d.point = 0
	}
	return d
}

// ambiguous refuses a value with 12, 15 or 18 integer digits: just past a
// unit boundary, its two readings are both implausible.
func ambiguous(num []byte, point int) error {
	var larger, smaller string
	switch point {
	case 12:
		larger, smaller = "milliseconds", "seconds"
	case 15:
		larger, smaller = "microseconds", "milliseconds"
	case 18:
		larger, smaller = "nanoseconds", "microseconds"
	default:
		return nil
	}
	return bad(ReasonBadCreatedAt, "\"created_at\" %s is ambiguous: as %s it is between 1973-03-03 and 2001-09-09, as %s past year 5138; "+
		"send seconds for times before 2001-09-09", clip(num), larger, smaller)
}

// appendDatetime appends RFC 3339 in UTC with a Z, with milliseconds when
// the input was finer than a second.
func appendDatetime(dst []byte, ts stamp) []byte {
	t := time.Unix(ts.sec, int64(ts.nsec)).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, int(mo))
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, mi)
	dst = append(dst, ':')
	dst = append2(dst, s)
	if ts.subsec {
		ms := int(ts.nsec / 1e6)
		dst = append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	}
	return append(dst, 'Z')
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// Time returns the event time of info.
func (info Info) Time() time.Time { return time.Unix(info.Sec, int64(info.Nsec)).UTC() }

// AppendDate appends the UTC date of the event as YYYY-MM-DD.
func (info Info) AppendDate(dst []byte) []byte {
	y, m, d := info.Time().Date()
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, int(m))
	dst = append(dst, '-')
	return append2(dst, d)
}

// AppendHour appends the UTC hour of the event as HH.
func (info Info) AppendHour(dst []byte) []byte {
	return append2(dst, info.Time().Hour())
}
