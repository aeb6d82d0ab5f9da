package table_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/table"
)

func Example() {
	ctx := context.Background()
	wh, _ := os.MkdirTemp("", "warehouse")
	defer os.RemoveAll(wh)

	// The table eventlake.events in a folder warehouse, its SQLite catalog
	// in <warehouse>/catalog.db; created on first use.
	tb, err := table.Open(ctx, table.Options{Warehouse: wh})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tb.Close()

	batch := table.Batch{Source: "events", First: lake.LineNumber(1), Last: lake.LineNumber(1), Rows: []lake.Row{{
		EventUUID: "0b0e5a4e-1f6c-4a8e-9d51-3c5a3a4f8c11", EventName: "payment:order:completed",
		EventType: "payment", EventSubtype: "order", CreatedAt: "1710670530",
		CreatedDatetime: time.Unix(1710670530, 0).UTC(),
		Event:           `{"event_uuid":"0b0e5a4e-1f6c-4a8e-9d51-3c5a3a4f8c11","event_name":"payment:order:completed","created_at":1710670530,"created_datetime":"2024-03-17T10:15:30Z","event_type":"payment","event_subtype":"order"}`,
	}}}
	for range 2 {
		res, err := tb.Commit(ctx, batch)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %d rows in %d files, already committed: %v\n", batch.ID(), res.Rows, res.Files, res.AlreadyCommitted)
	}
	// Output:
	// events/0000000001-0000000001: 1 rows in 1 files, already committed: false
	// events/0000000001-0000000001: 1 rows in 0 files, already committed: true
}
