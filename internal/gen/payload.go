package gen

import (
	"strconv"
)

// payload appends the type-specific members (each starting with a comma)
// for an event of catalogue domain d.
//
// One switch over the domains on purpose: each case is that domain's
// members, read top to bottom like a schema; a function per domain would
// only move the cases apart.
func (g *generator) payload(dst []byte, d int, name string) []byte {
	r := g.rng
	dst = append(dst, `,"user_id":`...)
	dst = strconv.AppendInt(dst, 100000+r.Int64N(9_900_000), 10)
	dst = append(dst, `,"session_id":"s_`...)
	dst = strconv.AppendUint(dst, r.Uint64()>>20, 36)
	dst = append(dst, '"')
	switch catalog[d].domain {
	case "account", "auth", "referral":
		dst = g.str(dst, "email", "user"+strconv.Itoa(r.IntN(1e6))+"@example.org")
		dst = g.person(dst)
		if r.IntN(2) == 0 {
			dst = g.str(dst, "ip", strconv.Itoa(r.IntN(223)+1)+"."+strconv.Itoa(r.IntN(256))+"."+strconv.Itoa(r.IntN(256))+"."+strconv.Itoa(r.IntN(256)))
		}
		dst = append(dst, `,"mfa":`...)
		dst = strconv.AppendBool(dst, r.IntN(3) == 0)
	case "lesson", "course", "quiz", "video":
		dst = append(dst, `,"course":{"id":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(5000)), 10)
		dst = g.str(dst, "title", g.pick(titles))
		dst = append(dst, `,"level":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(5)+1), 10)
		dst = append(dst, '}')
		dst = append(dst, `,"lesson_id":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(100000)), 10)
		dst = append(dst, `,"progress":`...)
		dst = strconv.AppendFloat(dst, float64(r.IntN(1001))/1000, 'f', -1, 64)
		if catalog[d].domain == "quiz" {
			dst = append(dst, `,"answers":[`...)
			for i, n := 0, r.IntN(5)+1; i < n; i++ {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, `{"q":`...)
				dst = strconv.AppendInt(dst, int64(i+1), 10)
				dst = append(dst, `,"correct":`...)
				dst = strconv.AppendBool(dst, r.IntN(3) > 0)
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		if catalog[d].domain == "video" {
			dst = append(dst, `,"position_s":`...)
			dst = strconv.AppendInt(dst, int64(r.IntN(3600)), 10)
		}
	case "payment", "subscription", "cart", "order", "shipment":
		dst = g.str(dst, "order_id", "ord_"+strconv.FormatUint(r.Uint64()>>24, 36))
		dst = g.money(dst)
		dst = append(dst, `,"items":[`...)
		for i, n := 0, r.IntN(4)+1; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"sku":"SKU-`...)
			dst = strconv.AppendInt(dst, int64(r.IntN(100000)), 10)
			dst = append(dst, `","qty":`...)
			dst = strconv.AppendInt(dst, int64(r.IntN(5)+1), 10)
			dst = g.str(dst, "title", g.pick(titles))
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
		if name == "payment:order:failed" {
			dst = g.str(dst, "failure_reason", g.pick(reasons))
		}
		if catalog[d].domain == "shipment" {
			dst = append(dst, `,"address":{"city":"`...)
			dst = append(dst, g.pick([]string{"München", "São Paulo", "Kraków", "東京", "İstanbul", "Zürich", "New York"})...)
			dst = append(dst, '"')
			dst = g.str(dst, "country", g.pick(countries))
			dst = append(dst, '}')
		}
	case "search", "page":
		dst = g.str(dst, "path", g.pick(pages))
		dst = g.str(dst, "referrer", g.pick([]string{"", "https://www.example.com/", "https://news.example.net/a?b=c&d=e"}))
		if catalog[d].domain == "search" {
			dst = g.str(dst, "query", g.pick(queries))
			dst = append(dst, `,"results":`...)
			dst = strconv.AppendInt(dst, int64(r.IntN(500)), 10)
		}
		dst = append(dst, `,"viewport":{"w":`...)
		dst = strconv.AppendInt(dst, int64(320+r.IntN(2240)), 10)
		dst = append(dst, `,"h":`...)
		dst = strconv.AppendInt(dst, int64(480+r.IntN(1000)), 10)
		dst = append(dst, '}')
	case "notification", "email", "support":
		dst = g.str(dst, "channel", g.pick([]string{"email", "push", "sms", "in_app"}))
		dst = g.str(dst, "campaign", g.pick(campaigns))
		dst = g.str(dst, "subject", g.pick([]string{"Willkommen!", "Your receipt", "¡Oferta especial!", "新しいレッスン", "Rappel : votre cours", "Tvůj pokrok 📈"}))
		dst = g.person(dst)
	case "review":
		dst = append(dst, `,"rating":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(5)+1), 10)
		dst = g.str(dst, "text", g.pick([]string{"Great course, très bien expliqué!", "Zu schnell für Anfänger.", "とても分かりやすい", "Meh.", `The \"quiz\" part was buggy\n fix it`, "Excelente 👍"}))
		dst = g.person(dst)
	case "inventory":
		dst = append(dst, `,"sku":"SKU-`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(100000)), 10)
		dst = append(dst, `","stock":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(1000)), 10)
		dst = g.money(dst)
		dst = append(dst, `,"warehouses":["`...)
		dst = append(dst, g.pick([]string{"FRA1", "DUB2", "IAD1"})...)
		dst = append(dst, `","`...)
		dst = append(dst, g.pick([]string{"NRT1", "GRU1", "BOM1"})...)
		dst = append(dst, `"]`...)
	case "experiment":
		dst = g.str(dst, "experiment", g.pick([]string{"new_checkout", "onboarding_v3", "pricing_page_b", "dark_mode"}))
		dst = g.str(dst, "variant", g.pick([]string{"control", "a", "b"}))
		dst = append(dst, `,"bucket":`...)
		dst = strconv.AppendInt(dst, int64(r.IntN(1000)), 10)
	}
	return g.context(dst)
}

func (g *generator) str(dst []byte, key, val string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, `":"`...)
	dst = append(dst, val...)
	return append(dst, '"')
}

func (g *generator) person(dst []byte) []byte {
	dst = g.str(dst, "first_name", g.pick(firstNames))
	return g.str(dst, "last_name", g.pick(lastNames))
}

func (g *generator) money(dst []byte) []byte {
	r := g.rng
	dst = append(dst, `,"amount":`...)
	cents := 99 + r.Int64N(50000)
	dst = strconv.AppendInt(dst, cents/100, 10)
	dst = append(dst, '.', byte('0'+cents/10%10), byte('0'+cents%10))
	return g.str(dst, "currency", g.pick(currencies))
}

// context appends the client context every event carries.
func (g *generator) context(dst []byte) []byte {
	r := g.rng
	dst = append(dst, `,"context":{"app":{"version":"`...)
	dst = strconv.AppendInt(dst, int64(r.IntN(5)+1), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(r.IntN(30)), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(r.IntN(10)), 10)
	dst = append(dst, `","build":`...)
	dst = strconv.AppendInt(dst, int64(1000+r.IntN(9000)), 10)
	dst = append(dst, `},"device":{"platform":"`...)
	dst = append(dst, g.pick(platforms)...)
	dst = append(dst, `","browser":"`...)
	dst = append(dst, g.pick(browsers)...)
	dst = append(dst, `"},"locale":"`...)
	dst = append(dst, g.pick(locales)...)
	dst = append(dst, `","country":"`...)
	dst = append(dst, g.pick(countries)...)
	dst = append(dst, `","tz_offset_min":`...)
	dst = strconv.AppendInt(dst, int64(r.IntN(25)-12)*60, 10)
	return append(dst, '}')
}
