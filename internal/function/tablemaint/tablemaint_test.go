package tablemaint

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/table"
)

// TestOpensOnceTheTableExists: before the table exists every method is
// function.ErrNoTable and nothing is created; once it exists the next use
// opens it, and keeps it open.
func TestOpensOnceTheTableExists(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	opens := 0
	tm, err := New(func(ctx context.Context) (*table.Table, func() error, error) {
		opens++
		tb, err := table.Open(ctx, table.Options{Warehouse: wh, MustExist: true})
		if err != nil {
			return nil, nil, err
		}
		return tb, tb.Close, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	if _, err := tm.Compact(ctx, 1<<20, time.Time{}); !errors.Is(err, function.ErrNoTable) {
		t.Fatalf("compact before the table exists: %v, want ErrNoTable", err)
	}
	if _, err := tm.ExpireSnapshots(ctx, 0, 1, 1); !errors.Is(err, function.ErrNoTable) {
		t.Fatalf("expire before the table exists: %v, want ErrNoTable", err)
	}
	created, err := table.Open(ctx, table.Options{Warehouse: wh})
	if err != nil {
		t.Fatal(err)
	}
	created.Close()
	if res, err := tm.Compact(ctx, 1<<20, time.Time{}); err != nil || res.Partitions != 0 {
		t.Fatalf("compact of an empty table: %+v, %v", res, err)
	}
	if _, err := tm.DeleteOrphans(ctx, 0); err == nil {
		t.Error("an orphan sweep with no grace was accepted")
	}
	if _, err := tm.DeleteOrphans(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if opens != 3 {
		t.Errorf("opened %d times, want 3 (two misses, then once)", opens)
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) accepted")
	}
}
