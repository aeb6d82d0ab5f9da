package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Scheduled maintenance of the Iceberg table (docs/iceberg.md, "Scheduled
// maintenance"). With EVENTLAKE_TABLE set, the compaction function also
// keeps the table the landing function commits to: it compacts it (the
// whole table in one invocation: table.Compact plans every partition and
// commits them in one overwrite snapshot), then expires old snapshots,
// then deletes orphan files past a grace period. Each step loads the table
// afresh and retries commit conflicts, so runs may overlap each other and
// the landing function's commits.

// The table maintenance variables. Their defaults are those of
// eventlake compact --iceberg; the data files' target size is
// EVENTLAKE_COMPACT_TARGET_SIZE, shared with the lake's compaction.
const (
	EnvTableExpireOlderThan  = "EVENTLAKE_TABLE_EXPIRE_OLDER_THAN"  // expire snapshots older than this; default 0: no expiry
	EnvTableRetainLast       = "EVENTLAKE_TABLE_RETAIN_LAST"        // snapshots kept whatever their age; default 1
	EnvTableRememberBatches  = "EVENTLAKE_TABLE_REMEMBER_BATCHES"   // batches of expired snapshots remembered for exactly-once; default 2000
	EnvTableOrphansOlderThan = "EVENTLAKE_TABLE_ORPHANS_OLDER_THAN" // delete unreferenced files older than this; default 24h; "off": no sweep
)

// TableConfig is what the table maintenance does. The defaults are the
// CLI's (TestTableDefaultsAreTheCLIs compares them with internal/table's).
type TableConfig struct {
	TargetSize      int64         // data files written; files this big are left alone
	ExpireOlderThan time.Duration // 0: no expiry
	RetainLast      int
	RememberBatches int
	// OrphansOlderThan is the orphan sweep's grace; 0: no sweep. A grace
	// of zero (the CLI's "delete them all now") is refused: the landing
	// function's commits in flight would lose their files.
	OrphansOlderThan time.Duration
}

// DefaultTableConfig is eventlake compact --iceberg's defaults.
var DefaultTableConfig = TableConfig{TargetSize: 128 << 20, RetainLast: 1, RememberBatches: 2000, OrphansOlderThan: 24 * time.Hour}

// readTable reads the table variables into c.
func (r *envReader) readTable(c *TableConfig) {
	r.duration(EnvTableExpireOlderThan, &c.ExpireOlderThan)
	retain, remember := int64(c.RetainLast), int64(c.RememberBatches)
	r.positive(EnvTableRetainLast, &retain)
	r.positive(EnvTableRememberBatches, &remember)
	c.RetainLast, c.RememberBatches = int(retain), int(remember)
	switch v := r.getenv(EnvTableOrphansOlderThan); v {
	case "":
	case "off":
		c.OrphansOlderThan = 0
	default:
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			r.errs = append(r.errs, fmt.Sprintf("%s=%q: want a grace period like 24h (longer than any commit takes), or off", EnvTableOrphansOlderThan, v))
			return
		}
		c.OrphansOlderThan = d
	}
}

// Table is the Iceberg table the compaction function maintains; the
// bootstrap built with -tags iceberg passes internal/function/tablemaint's
// (internal/table's Compact, ExpireSnapshots and DeleteOrphans). Every
// method loads the table afresh and retries commit conflicts, so it is safe
// beside writers and another maintainer. A table that does not exist yet is
// ErrNoTable.
type Table interface {
	// Compact merges each partition's data files below targetSize and
	// swaps them for the merged ones in one overwrite snapshot. It starts
	// no partition's merge after mergeBy (unless zero): those wait for a
	// later run (Deferred), the merged ones are committed. Stopped by ctx,
	// it commits nothing; its files are orphans for a later sweep.
	Compact(ctx context.Context, targetSize int64, mergeBy time.Time) (TableCompaction, error)
	// ExpireSnapshots removes the snapshots older than olderThan but the
	// newest retainLast, remembering up to rememberBatches of their
	// batches so that replays still commit nothing. It deletes no file.
	ExpireSnapshots(ctx context.Context, olderThan time.Duration, retainLast, rememberBatches int) (TableExpiry, error)
	// DeleteOrphans removes the files below the table's location that no
	// kept snapshot references, last modified longer ago than grace.
	DeleteOrphans(ctx context.Context, grace time.Duration) (TableOrphans, error)
}

// ErrNoTable: the table does not exist yet (the landing function creates
// it at its first start). Nothing to maintain.
var ErrNoTable = errors.New("the table does not exist yet")

// TableCompaction is what Table.Compact did (internal/table's
// CompactResult totals).
type TableCompaction struct {
	Partitions                          int // with two or more small files
	Committed, Already, Dropped, Failed int // rounds, by outcome
	Deferred                            int // partitions left for a later run (mergeBy)
	FilesBefore, FilesAfter             int
	BytesBefore, BytesAfter             int64
	Events, Duplicates                  int64
	Attempts                            int
}

// TableExpiry is what Table.ExpireSnapshots did.
type TableExpiry struct {
	Expired, Kept         int // snapshots
	Batches               int // of the expired snapshots, now remembered
	Remembered, Forgotten int // entries of the remembered list; dropped from it
}

// TableOrphans is what Table.DeleteOrphans did.
type TableOrphans struct {
	Deleted int   // files removed
	Bytes   int64 // their size
	Young   int   // unreferenced, within the grace: kept
}

// TableResult is a table maintenance run.
type TableResult struct {
	Compaction TableCompaction
	Expiry     *TableExpiry  `json:",omitempty"` // nil: not run
	Orphans    *TableOrphans `json:",omitempty"`
	// Stopped: a step ran out of its time budget and committed nothing;
	// the next scheduled run starts again.
	Stopped bool `json:",omitempty"`
	// NoTable: the table does not exist yet; nothing was done.
	NoTable bool `json:",omitempty"`
}

// compactShare is the part of an invocation's time the table compaction
// may use; the rest is left to expiry and the orphan sweep, so a backlog of
// small files never starves them. Merges start only in the first
// mergeShare of it; the rest is for the merges under way and the commit,
// so that a backlog bigger than one invocation is merged a part per run
// (the partitions with most small files first) instead of never.
const (
	compactShare = 0.8
	mergeShare   = 0.6
)

// maintainTable compacts the table, then expires snapshots, then sweeps
// orphans, within the invocation's deadline less DeadlineMargin. Each step
// runs even when an earlier one failed or stopped: they are independent.
func (c *Compactor) maintainTable(ctx context.Context) (TableResult, error) {
	var res TableResult
	if c.table == nil {
		return res, fmt.Errorf("table maintenance asked for, but %s is not set", EnvTable)
	}
	start := time.Now()
	runCtx, compactCtx := ctx, ctx
	var mergeBy time.Time
	if dl, ok := ctx.Deadline(); ok {
		end := dl.Add(-c.cfg.DeadlineMargin)
		var cancel, cancelCompact context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, end)
		defer cancel()
		compactEnd := start.Add(time.Duration(float64(end.Sub(start)) * compactShare))
		compactCtx, cancelCompact = context.WithDeadline(runCtx, compactEnd)
		defer cancelCompact()
		mergeBy = start.Add(time.Duration(float64(compactEnd.Sub(start)) * mergeShare))
	}
	var errs []error
	step := func(name string, sctx context.Context, err error) {
		switch {
		case err == nil:
		case sctx.Err() != nil && ctx.Err() == nil:
			res.Stopped = true
			c.log.Warn("table maintenance step stopped at its time budget; the next run starts again", "step", name)
		default:
			errs = append(errs, fmt.Errorf("table %s: %w", name, err))
		}
	}
	tc := c.cfg.Table
	comp, err := c.table.Compact(compactCtx, tc.TargetSize, mergeBy)
	res.Compaction = comp
	if errors.Is(err, ErrNoTable) {
		res.NoTable = true
		c.log.Info("table maintenance: " + err.Error())
		return res, nil
	}
	step("compaction", compactCtx, err)
	if tc.ExpireOlderThan > 0 {
		exp, err := c.table.ExpireSnapshots(runCtx, tc.ExpireOlderThan, tc.RetainLast, tc.RememberBatches)
		res.Expiry = &exp
		step("snapshot expiry", runCtx, err)
	}
	if tc.OrphansOlderThan > 0 {
		orp, err := c.table.DeleteOrphans(runCtx, tc.OrphansOlderThan)
		res.Orphans = &orp
		step("orphan sweep", runCtx, err)
	}
	err = errors.Join(errs...)
	took := time.Since(start)
	c.emitTable(res, took, err != nil)
	cp := res.Compaction
	attrs := []any{"partitions", cp.Partitions, "committed", cp.Committed, "already", cp.Already, "dropped", cp.Dropped, "failed", cp.Failed, "deferred", cp.Deferred,
		"files_before", cp.FilesBefore, "files_after", cp.FilesAfter, "events", cp.Events, "duplicates", cp.Duplicates, "attempts", cp.Attempts}
	if e := res.Expiry; e != nil {
		attrs = append(attrs, "snapshots_expired", e.Expired, "snapshots_kept", e.Kept, "batches_remembered", e.Remembered, "batches_forgotten", e.Forgotten)
	}
	if o := res.Orphans; o != nil {
		attrs = append(attrs, "orphans_deleted", o.Deleted, "orphan_bytes", o.Bytes, "orphans_young", o.Young)
	}
	attrs = append(attrs, "stopped", res.Stopped, "ms", took.Milliseconds())
	if err != nil {
		c.log.Error("table maintenance failed", append(attrs, "error", err.Error())...)
		return res, err
	}
	c.log.Info("table maintenance", attrs...)
	return res, nil
}

// tableMetrics are the table maintenance's counts, one document per run.
var tableMetrics = []metric{
	{"TableFilesCompacted", "Count"}, {"TableBytesCompacted", "Bytes"}, {"TableFilesWritten", "Count"},
	{"TableDuplicatesRemoved", "Count"}, {"SnapshotsExpired", "Count"}, {"OrphanFilesDeleted", "Count"},
	{"TablePartitionsDeferred", "Count"},
	{"TableMaintenanceStopped", "Count"}, {"TableMaintenanceFailures", "Count"}, {"TableMaintenanceDuration", "Milliseconds"},
}

func (c *Compactor) emitTable(res TableResult, took time.Duration, failed bool) {
	doc := emfDoc(c.cfg.MetricsNamespace, []string{"FunctionName"}, tableMetrics, time.Now().UnixMilli(), map[string]any{
		"FunctionName":        c.name,
		"TableFilesCompacted": res.Compaction.FilesBefore, "TableBytesCompacted": res.Compaction.BytesBefore,
		"TableFilesWritten": res.Compaction.FilesAfter, "TableDuplicatesRemoved": res.Compaction.Duplicates,
		"TablePartitionsDeferred": res.Compaction.Deferred,
		"SnapshotsExpired":        0, "OrphanFilesDeleted": 0,
		"TableMaintenanceStopped": count(res.Stopped), "TableMaintenanceFailures": count(failed),
		"TableMaintenanceDuration": took.Milliseconds(),
	})
	if res.Expiry != nil {
		doc["SnapshotsExpired"] = res.Expiry.Expired
	}
	if res.Orphans != nil {
		doc["OrphanFilesDeleted"] = res.Orphans.Deleted
	}
	json.NewEncoder(c.metrics).Encode(doc)
}
