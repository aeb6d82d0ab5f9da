package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventlake/eventlake/internal/function"
	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/testservers"
)

// TestScheduledGlueTableMaintenance: batches committed to the table in
// Glue (the stand-in) and S3 (gofakes3) by the tagged bootstrap, then the
// compaction function, the same bootstrap under the runtime interface
// emulator with the handler "compact" and EVENTLAKE_TABLE, run as deployed:
// the schedule's event queues the table's message in SQS, the queue's
// mapping (the local one) hands it to the function. After: fewer data
// files, every event once (the copies delivered through another shard
// removed), one snapshot (expiry, RETAIN_LAST 1), the batches still
// recognised; the function called Glue's GetTable and UpdateTable only
// (what Terraform grants it); of two stray files the one older than the
// grace is deleted, the younger one kept.
func TestScheduledGlueTableMaintenance(t *testing.T) {
	w := newTableWorld(t)
	opts := gen.Options{Events: 200, Seed: 61}
	x := expect(t, opts)
	lines := genLines(t, opts)
	var batches [][]byte
	for i := 0; i < len(lines); i += 50 {
		batches = append(batches, kinesisPayload(t, fmt.Sprintf("shardId-%012d", i), lines[i:i+50]))
	}
	batches = append(batches, kinesisPayload(t, "shardId-000000000999", lines[:20])) // delivered again, another shard
	for _, b := range batches {
		invokeKinesis(t, w.invoke, b)
	}
	if t.Failed() {
		t.FailNow()
	}
	before, snapshots := w.read()
	filesBefore := w.dataFiles()
	if snapshots != len(batches) || len(before[string(uuidOf(t, lines[0]))]) != 2 {
		t.Fatalf("landed: %d snapshots, first event %d times; want %d and 2", snapshots, len(before[string(uuidOf(t, lines[0]))]), len(batches))
	}
	// Files of lost commits, one older than the grace, one younger.
	old, young := "warehouse/eventlake.db/events/data/lost-old.parquet", "warehouse/eventlake.db/events/metadata/lost-young.avro"
	w.s3.PutOld(t, "lake", old, []byte("x"), 2*time.Hour)
	w.s3.PutOld(t, "lake", young, []byte("x"), 0)

	env := map[string]string{
		"_HANDLER":                           "compact",
		"EVENTLAKE_LAKE_URL":                 w.lakeURL,
		"EVENTLAKE_TABLE":                    tableURL,
		"EVENTLAKE_COMPACT_QUEUE_URL":        w.compactURL,
		"EVENTLAKE_TABLE_EXPIRE_OLDER_THAN":  "1ms",
		"EVENTLAKE_TABLE_ORPHANS_OLDER_THAN": "1h",
		"EVENTLAKE_DEADLINE_MARGIN":          "5s",
		"AWS_ENDPOINT_URL_S3":                w.s3.URL,
		"AWS_ENDPOINT_URL_SQS":               w.sqs,
		"AWS_ENDPOINT_URL_GLUE":              w.glue.URL,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":        "120",
		"AWS_LAMBDA_FUNCTION_NAME":           "eventlake-compact",
	}
	invoke := testservers.LambdaOf(t, testservers.Bootstrap(t, "iceberg"), env)
	calls := w.glue.Calls()
	payload, err := os.ReadFile(filepath.Join(testservers.Root(t), "internal/function/testdata/scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := compactInvoke(t, invoke, payload)
	if !res.TableQueued || res.Queued != 0 || res.Table != nil {
		t.Fatalf("scheduled run %+v: want the table's message queued (and no event type: the lake holds none)", res)
	}
	w.run("run", "--from", "sqs://compact", "--invoke", invoke, "--drain", "--quiet", "--batch-size", "1")
	used := w.glue.Calls()
	for op, n := range calls {
		used[op] -= n
	}
	for op, n := range used {
		if n != 0 && op != "GetTable" && op != "UpdateTable" {
			t.Errorf("the compaction function called glue:%s %d times; its role may GetTable and UpdateTable only", op, n)
		}
	}
	if used["UpdateTable"] < 2 {
		t.Errorf("Glue calls of the maintenance %v: want a compaction and an expiry commit", used)
	}

	after, snapshotsAfter := w.read()
	w.check(x, after, nil)
	if files := w.dataFiles(); files >= filesBefore {
		t.Errorf("%d data files after maintenance, %d before", files, filesBefore)
	}
	if snapshotsAfter != 1 {
		t.Errorf("%d snapshots after maintenance, want 1 (expired all but the last)", snapshotsAfter)
	}
	if _, err := w.s3.Backend.HeadObject("lake", old); err == nil {
		t.Errorf("the stray file older than the grace is still there")
	}
	if _, err := w.s3.Backend.HeadObject("lake", young); err != nil {
		t.Errorf("the stray file younger than the grace was deleted: %v", err)
	}

	// A manual run: nothing left to compact; the replaced inputs are
	// unreferenced now but younger than the grace: kept.
	res = compactInvoke(t, invoke, []byte(`{"table":true}`))
	if tr := res.Table; tr == nil || tr.Compaction.Partitions != 0 || tr.Orphans == nil || tr.Orphans.Deleted != 0 || tr.Orphans.Young < filesBefore {
		t.Errorf("second run %+v", tr)
	}
	for _, b := range batches {
		invokeKinesis(t, w.invoke, b)
	}
	if _, again := w.read(); again != snapshotsAfter {
		t.Errorf("batches of expired snapshots committed again: %d snapshots -> %d", snapshotsAfter, again)
	}
}

// compactInvoke invokes the compaction function and decodes its answer.
func compactInvoke(t *testing.T, url string, payload []byte) function.CompactResult {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var res function.CompactResult
	if err := json.Unmarshal(body, &res); err != nil || bytes.Contains(body, []byte("errorMessage")) {
		t.Fatalf("compaction function answered %s (%v)", body, err)
	}
	t.Logf("compaction function: %s", body)
	return res
}

// dataFiles counts the data files of the table's current snapshot.
func (w *tableWorld) dataFiles() int {
	w.t.Helper()
	tbl := w.load()
	tasks, err := tbl.Scan().PlanFiles(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return len(tasks)
}

func uuidOf(t *testing.T, line []byte) []byte {
	var ev struct {
		UUID string `json:"event_uuid"`
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatal(err)
	}
	return []byte(ev.UUID)
}
