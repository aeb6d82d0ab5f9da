package function_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	itable "github.com/apache/iceberg-go/table"
	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/function/tablemaint"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/table"
)

// tableWorld is a folder warehouse (SQLite catalog) with the landing
// function committing into it and the compaction function maintaining it,
// both as cmd/lambda wires them.
type tableWorld struct {
	t    *testing.T
	wh   string
	tb   *table.Table // the test's own handle, for reading
	land *function.Handler
}

func newTableWorld(t *testing.T) *tableWorld {
	ctx := context.Background()
	w := &tableWorld{t: t, wh: t.TempDir()}
	var err error
	if w.tb, err = table.Open(ctx, table.Options{Warehouse: w.wh}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.tb.Close() })
	mem, _ := lakeurl.Open(ctx, "mem://", nil)
	dead, err := lake.NewWriter(mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := table.NewSink(w.tb, dead)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := function.ConfigFromEnv(func(k string) string { return map[string]string{function.EnvLakeURL: "mem://"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if w.land, err = function.New(cfg, function.Deps{Lake: mem, Sink: sink}); err != nil {
		t.Fatal(err)
	}
	return w
}

// compactor is the compaction function with the table, env on top of the
// defaults, its EMF documents in the buffer returned.
func (w *tableWorld) compactor(env map[string]string, q function.PartitionQueue) (*function.Compactor, *bytes.Buffer) {
	w.t.Helper()
	return w.compactorWith(env, q, nil)
}

// compactorWith is compactor with the table wrapped by wrap, if set.
func (w *tableWorld) compactorWith(env map[string]string, q function.PartitionQueue, wrap func(function.Table) function.Table) (*function.Compactor, *bytes.Buffer) {
	w.t.Helper()
	env[function.EnvLakeURL] = "mem://"
	env[function.EnvTable] = "glue://eventlake/events?warehouse=s3://unused" // the bootstrap opens it; here the folder below
	cfg, err := function.CompactConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		w.t.Fatal(err)
	}
	tm, err := tablemaint.New(func(ctx context.Context) (*table.Table, func() error, error) {
		tb, err := table.Open(ctx, table.Options{Warehouse: w.wh, MustExist: true})
		if err != nil {
			return nil, nil, err
		}
		return tb, tb.Close, nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { tm.Close() })
	mem, _ := lakeurl.Open(context.Background(), "mem://", nil)
	var metrics bytes.Buffer
	var tbl function.Table = tm
	if wrap != nil {
		tbl = wrap(tm)
	}
	c, err := function.NewCompactor(cfg, function.CompactDeps{Lake: mem, Queue: q, Table: tbl, Metrics: &metrics, FunctionName: "compact"})
	if err != nil {
		w.t.Fatal(err)
	}
	return c, &metrics
}

// kinesis is a batch of one shard: events uuid<first>..uuid<first+n-1>
// of two event types, at sequence numbers from first.
func kinesis(shard string, first, n int) []byte {
	var ev events.KinesisEvent
	for i := first; i < first+n; i++ {
		seq := fmt.Sprintf("4959%030d", i)
		var r events.KinesisEventRecord
		r.EventSource, r.EventID = "aws:kinesis", shard+":"+seq
		r.Kinesis.SequenceNumber = seq
		r.Kinesis.Data = fmt.Appendf(nil, `{"event_uuid":"u%05d","event_name":"%s","created_at":1710670530}`, i, []string{"payment:order", "auth:login"}[i%2])
		ev.Records = append(ev.Records, r)
	}
	b, _ := json.Marshal(ev)
	return b
}

func (w *tableWorld) deliver(payload []byte) {
	w.t.Helper()
	out, err := w.land.Invoke(context.Background(), payload)
	if err != nil || len(out.(events.KinesisEventResponse).BatchItemFailures) != 0 {
		w.t.Fatalf("landing: %+v, %v", out, err)
	}
}

// events reads the table: event_uuid -> copies.
func (w *tableWorld) events() map[string]int {
	w.t.Helper()
	ctx := context.Background()
	tbl, err := w.tb.Load(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int{}
	if tbl.CurrentSnapshot() == nil {
		return out
	}
	sc := tbl.Scan(itable.WithSelectedFields(table.ColUUID))
	_, recs, err := sc.ToArrowRecords(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	for rec, err := range recs {
		if err != nil {
			w.t.Fatal(err)
		}
		col := rec.Column(0).(*array.String)
		for i := range col.Len() {
			out[col.Value(i)]++
		}
		rec.Release()
	}
	return out
}

func (w *tableWorld) files() int {
	w.t.Helper()
	files, _, err := w.tb.Files(context.Background(), table.Current())
	if err != nil {
		w.t.Fatal(err)
	}
	return len(files)
}

func (w *tableWorld) snapshots() int {
	w.t.Helper()
	s, err := w.tb.Snapshots(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return len(s)
}

// queue is a PartitionQueue keeping what it was sent.
type queue struct {
	mu     sync.Mutex
	bodies []string
}

func (q *queue) SendAll(_ context.Context, bodies [][]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, b := range bodies {
		q.bodies = append(q.bodies, string(b))
	}
	return nil
}

// TestScheduledTableMaintenance: 8 batches (two event types, one day:
// 16 small data files, one event delivered again through another shard)
// are maintained as deployed: the schedule's event queues the table's
// message, the queue's delivery of it compacts, expires and sweeps. Then
// the table has one file per partition and every event once; the
// snapshots beyond RETAIN_LAST are expired and their batches still
// recognised; an orphan older than the grace is deleted and a younger one
// kept. A second scheduled run (no queue: it does everything itself)
// finds nothing to compact.
func TestScheduledTableMaintenance(t *testing.T) {
	ctx := context.Background()
	w := newTableWorld(t)
	var batches [][]byte
	for b := range 8 {
		batches = append(batches, kinesis(fmt.Sprintf("shardId-%012d", b%2), 1+b*10, 10))
	}
	batches = append(batches, kinesis("shardId-000000000007", 5, 1)) // u00005 again
	for _, b := range batches {
		w.deliver(b)
	}
	filesBefore, snapshotsBefore := w.files(), w.snapshots()
	if filesBefore != 17 || snapshotsBefore != 9 {
		t.Fatalf("landed %d files in %d snapshots, want 17 in 9", filesBefore, snapshotsBefore)
	}

	loc := tableLocation(t, w.tb)
	old, young := filepath.Join(loc, "data", "orphan-old.parquet"), filepath.Join(loc, "data", "orphan-young.parquet")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("lost commit"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}

	q := &queue{}
	c, metrics := w.compactor(map[string]string{function.EnvTableExpireOlderThan: "1ms", function.EnvTableRetainLast: "3",
		function.EnvTableOrphansOlderThan: "1h"}, q)
	out, err := c.Invoke(ctx, scheduledEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	if res := out.(function.CompactResult); !res.TableQueued || res.Table != nil || !slices.Equal(q.bodies, []string{`{"table":true}`}) {
		t.Fatalf("scheduled run %+v queued %q; want the table's message queued, nothing run", res, q.bodies)
	}
	if n := w.snapshots(); n != snapshotsBefore {
		t.Fatalf("queueing changed the table: %d snapshots", n)
	}
	time.Sleep(5 * time.Millisecond) // every landing snapshot older than 1ms
	msg, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: q.bodies[0], EventSource: "aws:sqs"}}})
	out, err = c.Invoke(ctx, msg)
	if err != nil || len(out.(events.SQSEventResponse).BatchItemFailures) != 0 {
		t.Fatalf("the table's message: %+v, %v", out, err)
	}

	if n := w.files(); n != 2 {
		t.Errorf("%d data files after maintenance, want 2 (one per partition; %d before)", n, filesBefore)
	}
	got := w.events()
	for i := 1; i <= 80; i++ {
		if n := got[fmt.Sprintf("u%05d", i)]; n != 1 {
			t.Errorf("event u%05d is in the table %d times", i, n)
		}
	}
	if len(got) != 80 {
		t.Errorf("the table holds %d events, want 80", len(got))
	}
	if n := w.snapshots(); n != 3 {
		t.Errorf("%d snapshots kept, want 3 (%s)", n, function.EnvTableRetainLast)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the orphan older than the grace is still there (%v)", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("the orphan younger than the grace is gone: %v", err)
	}
	doc := tableMetricsDoc(t, metrics)
	if doc["TableFilesCompacted"] != float64(filesBefore) || doc["TableFilesWritten"] != float64(2) || doc["TableDuplicatesRemoved"] != float64(1) ||
		doc["SnapshotsExpired"] != float64(snapshotsBefore+1-3) || doc["OrphanFilesDeleted"] != float64(1) || doc["TableMaintenanceFailures"] != float64(0) {
		t.Errorf("table metrics %v", doc)
	}

	// Exactly-once survives the expiry: the first batch again commits nothing.
	snaps := w.snapshots()
	w.deliver(batches[0])
	if n := w.snapshots(); n != snaps {
		t.Errorf("a batch of an expired snapshot committed again: %d snapshots -> %d", snaps, n)
	}

	again, _ := w.compactor(map[string]string{}, nil)
	out, err = again.Invoke(ctx, scheduledEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	if tr := out.(function.CompactResult).Table; tr == nil || tr.Compaction.Partitions != 0 || tr.Expiry != nil || tr.Orphans == nil {
		t.Errorf("second run, defaults (no expiry, a 24h sweep): %+v", tr)
	}
}

// tableMetricsDoc is the table maintenance's EMF document; its metrics
// must be Metrics' table set, exactly.
func tableMetricsDoc(t *testing.T, emf *bytes.Buffer) map[string]any {
	t.Helper()
	var want []string
	for _, set := range function.Metrics {
		if set.Table {
			want = append(want, set.Metrics...)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(emf.Bytes()))
	for sc.Scan() {
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if _, ok := doc["TableMaintenanceDuration"]; !ok {
			continue
		}
		var got []string
		cw := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		for _, m := range cw["Metrics"].([]any) {
			got = append(got, m.(map[string]any)["Name"].(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("table maintenance emits %v, Metrics lists %v", got, want)
		}
		return doc
	}
	t.Fatalf("no table maintenance metrics in %s", emf)
	return nil
}

func tableLocation(t *testing.T, tb *table.Table) string {
	t.Helper()
	tbl, err := tb.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := table.LocalPath(tbl.Location())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func scheduledEvent(t *testing.T) []byte {
	b, err := os.ReadFile("testdata/scheduled-event.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTableMaintenanceBesideWriters: two maintenance runs overlap again and
// again while the landing function commits: no run fails (conflicts are
// retried, a round a concurrent compaction replaced first is dropped),
// every event is in the table once, and every batch, expired or not, is
// still recognised.
func TestTableMaintenanceBesideWriters(t *testing.T) {
	ctx := context.Background()
	w := newTableWorld(t)
	var batches [][]byte
	for b := range 12 {
		batches = append(batches, kinesis(fmt.Sprintf("shardId-%012d", b%3), 1+b*5, 5))
	}
	for _, b := range batches[:3] {
		w.deliver(b)
	}
	env := map[string]string{function.EnvTableExpireOlderThan: "1ms", function.EnvTableOrphansOlderThan: "1h"}
	var (
		wg                      sync.WaitGroup
		mu                      sync.Mutex
		dropped, retried, stops int
	)
	for range 2 {
		c, _ := w.compactor(maps.Clone(env), nil)
		wg.Go(func() {
			for range 3 {
				out, err := c.Invoke(ctx, []byte(`{"table":true}`))
				if err != nil {
					t.Errorf("maintenance beside writers: %v", err)
					return
				}
				tr := out.(function.CompactResult).Table
				mu.Lock()
				dropped += tr.Compaction.Dropped
				retried += max(tr.Compaction.Attempts-1, 0)
				if tr.Stopped {
					stops++
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for _, b := range batches[3:] {
			w.deliver(b)
		}
	})
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("overlapping runs: %d rounds dropped to the other run, %d commit retries", dropped, retried)
	if stops != 0 {
		t.Errorf("%d runs stopped with no deadline", stops)
	}
	got := w.events()
	if len(got) != 60 {
		t.Errorf("the table holds %d events, want 60", len(got))
	}
	for uuid, n := range got {
		if n != 1 {
			t.Errorf("event %s is in the table %d times", uuid, n)
		}
	}
	snaps := w.snapshots()
	for _, b := range batches {
		w.deliver(b)
	}
	if n := w.snapshots(); n != snaps {
		t.Errorf("delivering every batch again committed: %d snapshots -> %d", snaps, n)
	}
}

// TestTableMaintenanceStopsAndWaits: a run with no time left stops, commits
// nothing, is not an error, and its queue message is not failed (the next
// schedule starts again); a run before the table exists does nothing.
func TestTableMaintenanceStopsAndWaits(t *testing.T) {
	w := newTableWorld(t)
	for b := range 4 {
		w.deliver(kinesis("shardId-000000000001", 1+b*10, 10))
	}
	c, _ := w.compactor(map[string]string{function.EnvDeadlineMargin: "1m"}, nil)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(30*time.Second))
	defer cancel()
	snaps := w.snapshots()
	out, err := c.Invoke(ctx, []byte(`{"table":true}`))
	if tr := out.(function.CompactResult).Table; err != nil || tr == nil || !tr.Stopped {
		t.Fatalf("a run past its budget: %+v, %v; want stopped", tr, err)
	}
	msg, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: `{"table":true}`, EventSource: "aws:sqs"}}})
	if out, err := c.Invoke(ctx, msg); err != nil || len(out.(events.SQSEventResponse).BatchItemFailures) != 0 {
		t.Errorf("a stopped table message is failed: %+v, %v", out, err)
	}
	if n := w.snapshots(); n != snaps {
		t.Errorf("a stopped run committed: %d snapshots -> %d", snaps, n)
	}

	empty := &tableWorld{t: t, wh: t.TempDir()}
	c, _ = empty.compactor(map[string]string{}, nil)
	out, err = c.Invoke(context.Background(), scheduledEvent(t))
	if tr := out.(function.CompactResult).Table; err != nil || tr == nil || !tr.NoTable {
		t.Errorf("a run before the table exists: %+v, %v; want NoTable", tr, err)
	}
	if _, err := os.Stat(filepath.Join(empty.wh, table.CatalogFile)); !os.IsNotExist(err) {
		t.Errorf("the maintenance created a catalog (%v): only the landing function creates the table", err)
	}
}

// mergeByTable records the mergeBy the compaction function passes, and
// passes on its own when set.
type mergeByTable struct {
	function.Table
	set, got time.Time
}

func (m *mergeByTable) Compact(ctx context.Context, targetSize int64, mergeBy time.Time) (function.TableCompaction, error) {
	m.got = mergeBy
	if !m.set.IsZero() {
		mergeBy = m.set
	}
	return m.Table.Compact(ctx, targetSize, mergeBy)
}

// TestTableMaintenanceDefers: merges start only in the first part of the
// invocation's compaction budget (a backlog bigger than one run is merged
// a part per run); partitions left for later are neither an error nor a
// stop, and are counted in the log line and the metrics.
func TestTableMaintenanceDefers(t *testing.T) {
	w := newTableWorld(t)
	for b := range 4 {
		w.deliver(kinesis("shardId-000000000001", 1+b*10, 10))
	}
	rec := &mergeByTable{}
	wrap := func(t function.Table) function.Table {
		rec.Table = t
		return rec
	}
	c, _ := w.compactorWith(map[string]string{function.EnvDeadlineMargin: "10s"}, nil, wrap)
	start := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(110*time.Second))
	defer cancel()
	if _, err := c.Invoke(ctx, []byte(`{"table":true}`)); err != nil {
		t.Fatal(err)
	}
	// 100 s left after the margin, 80 s for compaction, merges start in
	// the first 60% of that.
	if lo, hi := start.Add(48*time.Second), time.Now().Add(48*time.Second); rec.got.Before(lo) || rec.got.After(hi) {
		t.Errorf("merges may start until %v after the start; want 48s", rec.got.Sub(start))
	}
	if _, err := c.Invoke(context.Background(), []byte(`{"table":true}`)); err != nil || !rec.got.IsZero() {
		t.Errorf("without a deadline: mergeBy %v (%v); want none", rec.got, err)
	}

	for b := range 4 {
		w.deliver(kinesis("shardId-000000000002", 1+b*10, 10))
	}
	rec.set = time.Now().Add(-time.Second)
	c, metrics := w.compactorWith(map[string]string{}, nil, wrap)
	snaps := w.snapshots()
	out, err := c.Invoke(context.Background(), []byte(`{"table":true}`))
	tr := out.(function.CompactResult).Table
	if err != nil || tr == nil || tr.Stopped || tr.Compaction.Deferred == 0 || tr.Compaction.Deferred != tr.Compaction.Partitions {
		t.Fatalf("a run past its merge time: %+v, %v; want every partition deferred, not stopped", tr, err)
	}
	if n := w.snapshots(); n != snaps {
		t.Errorf("a run that merged nothing committed: %d snapshots -> %d", snaps, n)
	}
	var doc map[string]any
	if err := json.Unmarshal(metrics.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc["TablePartitionsDeferred"]; got != float64(tr.Compaction.Deferred) {
		t.Errorf("TablePartitionsDeferred = %v, want %d", got, tr.Compaction.Deferred)
	}
}

// TestTableDefaultsAreTheCLIs: the function's defaults are compact
// --iceberg's, which are internal/table's.
func TestTableDefaultsAreTheCLIs(t *testing.T) {
	d := function.DefaultTableConfig
	if d.TargetSize != table.DefaultTargetSize || d.RememberBatches != table.DefaultRememberBatches ||
		d.OrphansOlderThan != table.DefaultOrphanGrace || d.RetainLast != 1 || d.ExpireOlderThan != 0 {
		t.Errorf("function.DefaultTableConfig %+v differs from the CLI's defaults", d)
	}
}
