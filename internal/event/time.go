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
// epoch, told apart by magnitude: below 1e11 is seconds (up to year 5138),
// below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds. The conversion is exact decimal arithmetic:
// no float rounding.
func parseCreatedAt(v []byte) (stamp, error) {
	num := v
	quoted := false
	switch c := v[0]; {
	case c == '"':
		num = v[1 : len(v)-1]
		quoted = true
	case c == '-' || isDigit(c):
	default:
		return stamp{}, bad(ReasonBadCreatedAt, "\"created_at\" is a JSON %s, want Unix time as a number", kindOf(c))
	}
	if quoted {
		// A numeric string must be exactly a JSON number.
		sc := scanner{b: num}
		if len(num) == 0 || !(num[0] == '-' || isDigit(num[0])) {
			return stamp{}, bad(ReasonBadCreatedAt, "\"created_at\" string %s is not a number", clip(num))
		}
		if end, err := sc.scanNumber(0); err != nil || end != len(num) {
			return stamp{}, bad(ReasonBadCreatedAt, "\"created_at\" string %s is not a number", clip(num))
		}
	}
	if num[0] == '-' {
		return stamp{}, bad(ReasonBadCreatedAt, "\"created_at\" %s is before 1970", clip(num))
	}

	// Read the decimal: significant digits (leading zeros dropped) and the
	// position of the decimal point among them, after the exponent.
	var sig [20]byte // the first significant digits; more never matter
	nsig := 0        // significant digits seen (may exceed len(sig))
	point := 0       // digits before the decimal point, counted from sig[0]
	i := 0
	digit := func(c byte, beforePoint bool) {
		if nsig == 0 && c == '0' {
			if !beforePoint {
				point--
			}
			return
		}
		if nsig < len(sig) {
			sig[nsig] = c
		}
		nsig++
		if beforePoint {
			point++
		}
	}
	for ; i < len(num) && isDigit(num[i]); i++ {
		digit(num[i], true)
	}
	if i < len(num) && num[i] == '.' {
		for i++; i < len(num) && isDigit(num[i]); i++ {
			digit(num[i], false)
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
		point += exp
	}
	if nsig == 0 {
		point = 0
	}

	// The unit follows from the number of integer digits.
	shift := 9 // decimal places from the unit to nanoseconds
	switch {
	case point >= 18:
		shift = 0
	case point >= 15:
		shift = 3
	case point >= 12:
		shift = 6
	}
	subsec := shift < 9 || nsig > point

	// Seconds and nanoseconds: the digits of the value, scaled to
	// nanoseconds, before the point.
	secDigits := point + shift - 9
	if secDigits > 12 {
		return stamp{}, bad(ReasonBadCreatedAt, "\"created_at\" %s is out of range", clip(num))
	}
	at := func(k int) int64 {
		if k >= 0 && k < nsig && k < len(sig) {
			return int64(sig[k] - '0')
		}
		return 0
	}
	var sec, nsec int64
	for k := 0; k < secDigits; k++ {
		sec = sec*10 + at(k)
	}
	for k := secDigits; k < secDigits+9; k++ {
		nsec = nsec*10 + at(k)
	}
	if sec >= maxSec {
		return stamp{}, bad(ReasonBadCreatedAt, "\"created_at\" %s is after year 9999", clip(num))
	}
	return stamp{sec: sec, nsec: int32(nsec), subsec: subsec}, nil
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
