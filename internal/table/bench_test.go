package table

import (
	"context"
	"fmt"
	"strconv"
	"testing"
)

// BenchmarkCommit commits batches of 1, 1,000 and 100,000 generated events
// to a folder warehouse with a SQLite catalog: Parquet encoding, data file
// writes, metadata and the catalog update. ns/op is one batch's commit
// latency; events/s is the write rate. Each iteration is a new batch of the
// same rows, so the table's history grows as in production.
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1, 1000, 100_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			rows := genRows(b, n, 42)
			tb := open(b, b.TempDir())
			ctx := context.Background()
			files := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := tb.Commit(ctx, Batch{Source: "bench", First: strconv.Itoa(i), Last: strconv.Itoa(i), Rows: rows})
				if err != nil {
					b.Fatal(err)
				}
				files += res.Files
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(files)/float64(b.N), "files/op")
		})
	}
}
