package table

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/eventlake/eventlake/internal/lake"
)

// hashRowsByValue is hashRows as first written, one hash write per value:
// the definition of a batch's hash, which tables keep in their snapshot
// summaries and data file names (a batch replayed after an upgrade must
// hash the same).
func hashRowsByValue(rows []lake.Row) uint64 {
	h := xxhash.New()
	var buf [8]byte
	for i := range rows {
		r := &rows[i]
		for _, s := range [...]string{r.EventUUID, r.EventName, r.EventType, r.EventSubtype, r.CreatedAt, r.Event} {
			binary.LittleEndian.PutUint64(buf[:], uint64(len(s)))
			h.Write(buf[:])
			h.WriteString(s)
		}
		binary.LittleEndian.PutUint64(buf[:], uint64(r.CreatedDatetime.UnixMicro()))
		h.Write(buf[:])
	}
	return h.Sum64()
}

// TestHashRowsKeepsItsValue: hashRows gives the hash the definition gives,
// on generated rows, on rows with empty and long columns, and on no rows;
// and a pinned value, so that a change of the hash fails here rather than
// as ErrConflictingBatch on every table landed before it.
func TestHashRowsKeepsItsValue(t *testing.T) {
	long := string(make([]byte, 70000))
	odd := []lake.Row{
		{},
		{EventUUID: "u", Event: long, CreatedDatetime: time.UnixMicro(-1)},
		{EventName: "a:b", EventType: "a", EventSubtype: "b", CreatedAt: "1", Event: "{}", CreatedDatetime: time.UnixMicro(1 << 50)},
	}
	for name, rows := range map[string][]lake.Row{"generated": genRows(t, 3000, 81), "odd": odd, "none": nil, "one": odd[2:]} {
		if got, want := hashRows(rows), hashRowsByValue(rows); got != want {
			t.Errorf("%s: hashRows = %016x, the definition gives %016x", name, got, want)
		}
	}
	const pinned = 0xdca536b41c027a1e
	if got := hashRows(odd); got != pinned {
		t.Errorf("hashRows(odd) = %#016x, pinned %#016x: a batch's hash must not change", got, uint64(pinned))
	}
}

// BenchmarkHashRows: hashRows against the definition's one write per
// value, on 20,000 generated rows.
func BenchmarkHashRows(b *testing.B) {
	rows := genRows(b, 20000, 82)
	for name, f := range map[string]func([]lake.Row) uint64{"buffered": hashRows, "by-value": hashRowsByValue} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				f(rows)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}
