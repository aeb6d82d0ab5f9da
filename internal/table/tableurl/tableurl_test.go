package tableurl_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	itable "github.com/apache/iceberg-go/table"
	"github.com/johannesboyne/gofakes3"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/table"
	"github.com/eventlake/eventlake/internal/table/tableurl"
	"github.com/eventlake/eventlake/internal/testservers"
)

func TestParse(t *testing.T) {
	good := map[string]tableurl.Location{
		"glue://eventlake/events?warehouse=s3://lake/warehouse/": {Database: "eventlake", Table: "events", Warehouse: "s3://lake/warehouse"},
		"glue://db_1/t?warehouse=s3://b&region=eu-west-1&catalog-id=123456789012": {Database: "db_1", Table: "t",
			Warehouse: "s3://b", Region: "eu-west-1", CatalogID: "123456789012"},
	}
	for raw, want := range good {
		got, err := tableurl.Parse(raw)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
		if again, err := tableurl.Parse(got.String()); err != nil || again != got {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", got.String(), again, err, got)
		}
	}
	bad := map[string]string{
		"s3://lake/events":                                           "want glue://",
		"glue://eventlake/events":                                    "warehouse=s3://BUCKET/PREFIX is required",
		"glue://eventlake/events?warehouse=file:///tmp/w":            "want s3://BUCKET",
		"glue://eventlake/events?warehouse=s3://b//x":                "want s3://BUCKET",
		"glue://EventLake/events?warehouse=s3://b":                   "lower-case",
		"glue://eventlake/a/b?warehouse=s3://b":                      "lower-case",
		"glue://eventlake/?warehouse=s3://b":                         "lower-case",
		"glue://eventlake/events?warehouse=s3://b&x=1":               `unknown parameter "x"`,
		"glue://eventlake/events?warehouse=s3://b&region=a&region=b": "given 2 times",
	}
	for raw, want := range bad {
		if _, err := tableurl.Parse(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want an error with %q", raw, err, want)
		}
	}
}

// world is a Glue stand-in and gofakes3, the AWS SDK pointed at them the
// way the Lambda's environment points it (AWS_ENDPOINT_URL_*).
type world struct {
	glue *testservers.Glue
	s3   *testservers.S3
	url  string
}

func newWorld(t *testing.T) *world {
	testservers.Credentials(t)
	w := &world{glue: testservers.NewGlue(t), s3: testservers.NewS3(t, "lake")}
	t.Setenv("AWS_ENDPOINT_URL_GLUE", w.glue.URL)
	t.Setenv("AWS_ENDPOINT_URL_S3", w.s3.URL)
	w.url = "glue://eventlake/events?warehouse=s3://lake/warehouse"
	return w
}

func (w *world) open(t *testing.T) *table.Table {
	t.Helper()
	tb, closeTable, err := tableurl.Open(context.Background(), w.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeTable() })
	return tb
}

// genRows enriches n generated events into rows, as the landing path does.
func genRows(t *testing.T, n int, seed uint64) []lake.Row {
	t.Helper()
	enr := event.NewEnricher(nil)
	var rows []lake.Row
	var line []byte
	err := gen.Each(gen.Options{Events: n, Seed: seed}, func(raw []byte, _ gen.Kind) error {
		var info event.Info
		var err error
		if line, info, err = enr.Enrich(line[:0], raw); err != nil {
			return err
		}
		rows = append(rows, lake.RowOf(info, append([]byte(nil), line...)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// scan reads the table back with iceberg-go: event_uuid -> data files.
func scan(t *testing.T, tb *table.Table) map[string][]string {
	t.Helper()
	ctx := context.Background()
	tbl, err := tb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc := tbl.Scan()
	tasks, err := sc.PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, task := range tasks {
		_, recs, err := sc.ReadTasks(ctx, []itable.FileScanTask{task})
		if err != nil {
			t.Fatal(err)
		}
		for rec, err := range recs {
			if err != nil {
				t.Fatal(err)
			}
			col := rec.Column(rec.Schema().FieldIndices(table.ColUUID)[0]).(*array.String)
			for i := range col.Len() {
				out[col.Value(i)] = append(out[col.Value(i)], task.File.FilePath())
			}
			rec.Release()
		}
	}
	return out
}

func checkOnce(t *testing.T, got map[string][]string, rows []lake.Row) {
	t.Helper()
	if len(got) != len(rows) {
		t.Errorf("table holds %d events, want %d", len(got), len(rows))
	}
	for _, r := range rows {
		files := got[r.EventUUID]
		if len(files) != 1 {
			t.Fatalf("event %s in %d files (%v), want 1", r.EventUUID, len(files), files)
		}
		if want := "/" + table.Segment("event_type", r.EventType) + "/"; !strings.Contains(files[0], want) {
			t.Fatalf("event %s (type %s) in %s", r.EventUUID, r.EventType, files[0])
		}
	}
}

// TestGlueTableOnS3: the table is created in the Glue stand-in, its
// metadata and data files land in S3 below the warehouse, a batch commits
// once, and a second opener (another process) sees it.
func TestGlueTableOnS3(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tb := w.open(t)
	rows := genRows(t, 500, 3)
	b := table.Batch{Source: "shard-0", First: "100", Last: "599", Rows: rows}
	res, err := tb.Commit(ctx, b)
	if err != nil || res.AlreadyCommitted || res.Files == 0 || res.Written != res.Files {
		t.Fatalf("commit: %+v, %v", res, err)
	}
	again, err := w.open(t).Commit(ctx, b)
	if err != nil || !again.AlreadyCommitted || again.SnapshotID != res.SnapshotID {
		t.Fatalf("the same batch from another opener: %+v, %v; want already committed in snapshot %d", again, err, res.SnapshotID)
	}
	checkOnce(t, scan(t, tb), rows)

	gt, ok := w.glue.Table("eventlake", "events")
	if !ok {
		t.Fatal("no table eventlake.events in Glue")
	}
	params, _ := gt["Parameters"].(map[string]any)
	meta, _ := params["metadata_location"].(string)
	if !strings.HasPrefix(meta, "s3://lake/warehouse/eventlake.db/events/metadata/") || params["table_type"] != "ICEBERG" {
		t.Fatalf("Glue table parameters %v", params)
	}
	objs, err := w.s3.Backend.ListBucket("lake", nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var data, metadata int
	for _, o := range objs.Contents {
		switch {
		case !strings.HasPrefix(o.Key, "warehouse/eventlake.db/events/"), strings.Contains(o.Key, ".tmp-"):
			t.Errorf("object %s outside the table or left aside", o.Key)
		case strings.Contains(o.Key, "/data/"):
			data++
		case strings.Contains(o.Key, "/metadata/"):
			metadata++
		}
	}
	if data != res.Files || metadata < 4 {
		t.Errorf("%d data and %d metadata objects; want %d data files and the metadata of 2 versions", data, metadata, res.Files)
	}
}

// TestGlueConflicts: two writers that loaded the same table version commit
// at once (the stand-in holds their UpdateTable calls until both arrived).
// Through iceberg-go alone, the loser gets table.ErrCommitFailed, Glue's
// ConcurrentModificationException. Through Commit, the loser reloads and
// commits again: both batches land once.
func TestGlueConflicts(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a, b := w.open(t), w.open(t)

	ta, err := a.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.glue.HoldUpdates(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, tbl := range []*itable.Table{ta, tb} {
		wg.Go(func() {
			tx := tbl.NewTransaction()
			if errs[i] = tx.SetProperties(map[string]string{"writer": fmt.Sprint(i)}); errs[i] == nil {
				_, errs[i] = tx.Commit(ctx)
			}
		})
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("racing commits: %v and %v; want one success and one failure", errs[0], errs[1])
	}
	lost := errors.Join(errs...)
	if !errors.Is(lost, itable.ErrCommitFailed) {
		t.Fatalf("the losing commit failed with %v, want table.ErrCommitFailed", lost)
	}

	rows := genRows(t, 400, 5)
	batches := []table.Batch{
		{Source: "shard-1", First: "1", Last: "200", Rows: rows[:200]},
		{Source: "shard-2", First: "1", Last: "200", Rows: rows[200:]},
	}
	conflicts := w.glue.Conflicts.Load()
	w.glue.HoldUpdates(2)
	results := make([]table.Result, 2)
	for i, tb := range []*table.Table{a, b} {
		wg.Go(func() { results[i], errs[i] = tb.Commit(ctx, batches[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if w.glue.Conflicts.Load() == conflicts {
		t.Fatal("the two commits did not conflict in Glue")
	}
	if results[0].Attempts+results[1].Attempts < 3 {
		t.Errorf("attempts %d and %d: the conflict was not retried", results[0].Attempts, results[1].Attempts)
	}
	checkOnce(t, scan(t, a), rows)
}
