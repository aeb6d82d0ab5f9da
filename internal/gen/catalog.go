package gen

// The catalogue of event names: about 100 names over 20 domains, two- and
// three-part, each domain with its own payload shape (see payload.go).
var catalog = []struct {
	domain string
	names  []string
	weight int // relative frequency of the domain
}{
	{"account", []string{"account:created", "account:verified", "account:updated:email", "account:updated:password", "account:deleted"}, 6},
	{"auth", []string{"auth:login:succeeded", "auth:login:failed", "auth:logout", "auth:mfa:enabled", "auth:token:refreshed"}, 14},
	{"lesson", []string{"lesson:started", "lesson:completed", "lesson:paused", "lesson:resumed", "lesson:abandoned"}, 12},
	{"course", []string{"course:enrolled", "course:completed", "course:unenrolled", "course:rated", "course:certificate:issued"}, 4},
	{"quiz", []string{"quiz:started", "quiz:answer:submitted", "quiz:completed", "quiz:failed", "quiz:hint:used"}, 8},
	{"payment", []string{"payment:order:created", "payment:order:completed", "payment:order:failed", "payment:refund:issued", "payment:method:added"}, 5},
	{"subscription", []string{"subscription:started", "subscription:renewed", "subscription:cancelled", "subscription:upgraded", "subscription:trial:ended"}, 3},
	{"cart", []string{"cart:item:added", "cart:item:removed", "cart:viewed", "cart:abandoned", "cart:coupon:applied"}, 6},
	{"order", []string{"order:placed", "order:confirmed", "order:cancelled", "order:returned", "order:invoice:sent"}, 3},
	{"shipment", []string{"shipment:created", "shipment:dispatched", "shipment:delivered", "shipment:delayed", "shipment:lost"}, 2},
	{"search", []string{"search:query", "search:result:clicked", "search:filter:applied", "search:no_results", "search:suggestion:used"}, 10},
	{"page", []string{"page:viewed", "page:scrolled", "page:left", "page:error:404", "page:error:500"}, 16},
	{"video", []string{"video:played", "video:paused", "video:completed", "video:seeked", "video:quality:changed"}, 7},
	{"notification", []string{"notification:sent", "notification:opened", "notification:dismissed", "notification:push:failed", "notification:settings:changed"}, 5},
	{"email", []string{"email:sent", "email:delivered", "email:opened", "email:link:clicked", "email:bounced"}, 4},
	{"support", []string{"support:ticket:opened", "support:ticket:replied", "support:ticket:closed", "support:chat:started", "support:chat:rated"}, 1},
	{"review", []string{"review:submitted", "review:edited", "review:flagged", "review:helpful:voted", "review:deleted"}, 1},
	{"inventory", []string{"inventory:stock:low", "inventory:stock:replenished", "inventory:item:created", "inventory:item:discontinued", "inventory:price:changed"}, 1},
	{"referral", []string{"referral:link:created", "referral:link:shared", "referral:signup", "referral:reward:granted", "referral:reward:expired"}, 1},
	{"experiment", []string{"experiment:exposed", "experiment:converted", "experiment:variant:assigned", "experiment:flag:evaluated", "experiment:ended"}, 3},
}

// totalWeight is the sum of the domain weights.
var totalWeight = func() (n int) {
	for _, d := range catalog {
		n += d.weight
	}
	return n
}()

// Names returns every event name the generator can emit.
func Names() []string {
	var out []string
	for _, d := range catalog {
		out = append(out, d.names...)
	}
	return out
}

var (
	firstNames = []string{"Anna", "Zoë", "José", "Łukasz", "Ηλέκτρα", "Иван", "张伟", "さくら", "محمد", "Søren", "Ünal", "Chloé", "Nguyễn", "Aarav", "Olúwaseun", "Björk", "Mateo", "Fatima", "Kenji", "Ingrid"}
	lastNames  = []string{"Müller", "García", "Kowalski", "Παπαδόπουλος", "Смирнов", "王", "佐藤", "Haddad", "Jørgensen", "Yılmaz", "Dubois", "Trần", "Sharma", "Adeyemi", "Guðmundsdóttir", "Rossi", "Silva", "Khan", "Tanaka", "Larsen"}
	locales    = []string{"en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "pl-PL", "ja-JP", "zh-CN", "ar-EG", "tr-TR", "vi-VN", "hi-IN", "ru-RU", "el-GR"}
	currencies = []string{"EUR", "USD", "GBP", "JPY", "PLN", "BRL", "INR", "TRY"}
	platforms  = []string{"ios", "android", "web", "desktop"}
	browsers   = []string{"Chrome", "Firefox", "Safari", "Edge"}
	countries  = []string{"DE", "US", "GB", "FR", "ES", "BR", "PL", "JP", "CN", "EG", "TR", "VN", "IN", "RU", "GR"}
	pages      = []string{"/", "/courses", "/courses/42", "/pricing", "/account/settings", "/search?q=python", "/blog/2024/03/über-uns", "/checkout", "/help/faq", "/lessons/7/quiz"}
	queries    = []string{"python basics", "spanish verbs", "café near me", "日本語 勉強", "machine learning", "how to tie a tie", "résumé tips", "excel pivot", "guitar chords", "اللغة العربية"}
	titles     = []string{"Intro to Go", "Spanisch für Anfänger", "日本語 1", "Data Lakes 101", "Économie", "Кириллица", "Guitar: first chords", "Statistics II", "Écrire en français", "Python for Data"}
	campaigns  = []string{"spring_sale", "back_to_school", "black_friday", "newsletter_42", "reactivation"}
	reasons    = []string{"card_declined", "insufficient_funds", "expired_card", "fraud_suspected", "network_error"}
)
