package table

import (
	"context"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/eventlake/eventlake/internal/lake"
)

// TestSortByTime: rows sorted by created_datetime, rows of the same time
// in the order they came (a file's bytes depend on it), as a stable sort
// orders them.
func TestSortByTime(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	rows := make([]lake.Row, 2000)
	for i := range rows {
		rows[i].CreatedDatetime = time.Unix(1_700_000_000+int64(rnd.IntN(8)), int64(rnd.IntN(2))).UTC()
	}
	var idx []int
	for i := range rows {
		if i%3 != 0 { // a partition's rows: increasing, not all
			idx = append(idx, i)
		}
	}
	want := slices.Clone(idx)
	sort.SliceStable(want, func(x, y int) bool {
		return rows[want[x]].CreatedDatetime.Before(rows[want[y]].CreatedDatetime)
	})
	sortByTime(rows, idx)
	if !slices.Equal(idx, want) {
		t.Fatalf("sorted %v..., want %v...", idx[:12], want[:12])
	}
}

// TestPlanPartitions: each row lands in the partition the spec's
// transforms give it, computed here row by row with iceberg-go, for the
// daily and the hourly table, with times around midnight, around the hour
// and before 1970 (the shortcut by event_type and hour must round down).
func TestPlanPartitions(t *testing.T) {
	rows := genRows(t, 3000, 8)
	base := time.Date(2024, 3, 17, 0, 0, 0, 0, time.UTC)
	for i, d := range []time.Duration{-time.Microsecond, 0, time.Hour - time.Microsecond, time.Hour, 24*time.Hour - time.Microsecond} {
		rows[i].CreatedDatetime = base.Add(d)
		rows[i+10].CreatedDatetime = time.Unix(0, 0).UTC().Add(d - 24*time.Hour)
		rows[i+20].CreatedDatetime = time.Unix(0, 0).UTC().Add(d)
	}
	for i := range 30 { // one event_type: rows an hour apart meet in the shortcut
		rows[i].EventType = rows[0].EventType
	}
	for _, hourly := range []bool{false, true} {
		tb, err := Open(context.Background(), Options{Warehouse: t.TempDir(), Hourly: hourly})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tb.Close() })
		tbl, err := tb.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		parts, err := plan(tbl, &Batch{Rows: rows}, "b")
		if err != nil {
			t.Fatal(err)
		}
		spec, sc := tbl.Spec(), tbl.Schema()
		seen := 0
		for _, p := range parts {
			for _, i := range p.rows {
				seen++
				for _, pf := range spec.Fields() {
					src, _ := sc.FindFieldByID(pf.SourceID())
					out := pf.Transform.Apply(iceberg.Optional[iceberg.Literal]{Val: literal(&rows[i], src.Name), Valid: true})
					if got := p.values[pf.FieldID]; got != out.Val.Any() {
						t.Fatalf("hourly %v: row %d (%s, %v) is in the partition with %s=%v; want %v",
							hourly, i, rows[i].EventType, rows[i].CreatedDatetime, pf.Name, got, out.Val.Any())
					}
				}
			}
		}
		if seen != len(rows) {
			t.Fatalf("hourly %v: %d rows planned of %d", hourly, seen, len(rows))
		}
	}
}
