package table

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

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
