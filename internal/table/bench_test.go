package table

import (
	"context"
	"fmt"
	"strconv"
	"sync"
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

// BenchmarkWriters: W writers land batches of 200 events into one table
// (each its own Table, as separate processes or Lambda shards are), either
// committing each batch (direct) or staging it for one committer, which
// commits what has queued up, up to 10 batches a snapshot (staged, as an
// SQS batch gives them). ns/op is per batch, all writers together;
// attempts/batch counts commit attempts (a lost conflict is one more);
// snapshots/batch how many snapshots the batches took.
func BenchmarkWriters(b *testing.B) {
	rows := genRows(b, 200, 43)
	for _, writers := range []int{1, 4, 16} {
		for _, mode := range []string{"direct", "staged"} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				ctx := context.Background()
				wh := b.TempDir()
				open(b, wh) // created before the writers start
				tables := make([]*Table, writers)
				for w := range tables {
					tables[w] = open(b, wh)
				}
				committer := open(b, wh)
				next := make(chan int, b.N)
				for i := range b.N {
					next <- i
				}
				close(next)
				queue := make(chan Staged, b.N)
				var (
					mu        sync.Mutex
					attempts  int
					snapshots int
					wg        sync.WaitGroup
				)
				b.ResetTimer()
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range next {
							bt := Batch{Source: "w" + strconv.Itoa(w), First: strconv.Itoa(i), Last: strconv.Itoa(i), Rows: rows}
							if mode == "staged" {
								st, _, err := tables[w].Stage(ctx, bt)
								if err != nil {
									b.Error(err)
									return
								}
								queue <- st
								continue
							}
							res, err := tables[w].Commit(ctx, bt)
							if err != nil {
								b.Error(err)
								return
							}
							mu.Lock()
							attempts += res.Attempts
							snapshots++
							mu.Unlock()
						}
					}()
				}
				go func() { wg.Wait(); close(queue) }()
				if mode == "staged" {
					for got := receive(queue, 10); got != nil; got = receive(queue, 10) {
						res, err := committer.CommitStaged(ctx, got)
						if err != nil {
							b.Fatal(err)
						}
						attempts += res.Attempts
						snapshots++
					}
				}
				wg.Wait()
				b.ReportMetric(float64(attempts)/float64(b.N), "attempts/batch")
				b.ReportMetric(float64(snapshots)/float64(b.N), "snapshots/batch")
			})
		}
	}
}
