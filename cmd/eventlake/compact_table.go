//go:build iceberg

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/eventlake/eventlake/internal/table"
)

// Compaction of the Iceberg table (compact --iceberg, issue 12): per
// partition, one overwrite replacing its small data files by few large ones
// with one copy of each event_uuid; then, if asked, snapshot expiry (which
// remembers the expired batches for exactly-once) and the sweep of
// unreferenced files older than a grace period. docs/iceberg.md,
// "Compaction and maintenance".

// tableCompactConfig is what compact --iceberg was asked to do.
type tableCompactConfig struct {
	dir     string
	json    bool
	compact table.CompactOptions
	expire  *table.ExpireOptions // nil: no expiry
	orphans *table.OrphanOptions // nil: no sweep
}

func (e env) compactTableFlags(args []string) (*tableCompactConfig, error) {
	fs := flag.NewFlagSet("compact --iceberg", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Bool("iceberg", true, "compact the Apache Iceberg table kept in the lake folder")
	lakeURL := fs.String("lake", "./lake", "the lake folder holding the table (catalog.db, eventlake.db/events/)")
	target := byteSize(table.DefaultTargetSize)
	fs.Var(&target, "target-size", "size of the data files written; files at least this big are left as they are")
	expire := fs.Duration("expire-older-than", 0, "then expire snapshots older than this (0: no expiry); their batches are remembered in the table property "+table.PropExpiredBatches+" so a replay still commits nothing")
	retain := fs.Int("retain-last", 1, "with --expire-older-than, keep at least this many snapshots")
	remember := fs.Int("remember-batches", table.DefaultRememberBatches, "with --expire-older-than, how many expired batches the table remembers (the newest)")
	orphans := fs.Duration("orphans-older-than", table.DefaultOrphanGrace, "then delete files no kept snapshot references, last modified longer ago than this (the grace protects commits in flight and readers of expired snapshots); 0 deletes them all now (no concurrent writer, reader or staged batch waiting for its committer!), -1s skips the sweep")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, `usage: eventlake compact --iceberg [--lake DIR] [--target-size 128MiB] [--expire-older-than 120h] [--orphans-older-than 24h]

Compacts the Iceberg table eventlake.events in the lake folder: per partition,
its data files below --target-size are merged into few sorted ones holding
one copy of each event_uuid (the earliest created_datetime, then the earliest
commit, file and row), swapped in by one atomic overwrite snapshot. Safe to
interrupt, to re-run, and to run beside writers (see docs/iceberg.md).

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(e.stderr, "eventlake compact --iceberg: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return nil, errUsage
	}
	dir, ok := localLake(*lakeURL)
	if !ok {
		return nil, badUsage("--iceberg: the lake must be a folder for now (an S3 lake needs a Glue or REST catalog, not built yet): %s", *lakeURL)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("lake folder %s does not exist", dir)
	}
	if *expire < 0 {
		return nil, badUsage("--expire-older-than %s: must not be negative", *expire)
	}
	if *retain < 1 || *remember < 1 {
		return nil, badUsage("--retain-last %d, --remember-batches %d: must be at least 1", *retain, *remember)
	}
	cfg := &tableCompactConfig{dir: dir, json: *jsonOut, compact: table.CompactOptions{TargetSize: int64(target)}}
	if *expire > 0 {
		cfg.expire = &table.ExpireOptions{OlderThan: *expire, RetainLast: *retain, RememberBatches: *remember}
	}
	switch {
	case *orphans == 0:
		cfg.orphans = &table.OrphanOptions{OlderThan: time.Nanosecond}
	case *orphans > 0:
		cfg.orphans = &table.OrphanOptions{OlderThan: *orphans}
	}
	return cfg, nil
}

// tableCompactSummary is the --json output.
type tableCompactSummary struct {
	Compaction table.CompactResult
	Expiry     *table.ExpireResult `json:",omitempty"`
	Orphans    *table.OrphanResult `json:",omitempty"`
	Seconds    float64
	Error      string `json:",omitempty"`
}

func (e env) compactTable(ctx context.Context, args []string) error {
	cfg, err := e.compactTableFlags(args)
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(tableMemoryLimit)
	}
	tb, err := table.Open(ctx, table.Options{Warehouse: cfg.dir})
	if err != nil {
		return fmt.Errorf("--iceberg: %w", err)
	}
	defer tb.Close()
	start := time.Now()
	var out tableCompactSummary
	if !cfg.json {
		cfg.compact.Merged = func(r table.RoundResult) {
			if r.Err != nil {
				fmt.Fprintf(e.stderr, "%s: failed: %v\n", r.Partition, r.Err)
				return
			}
			fmt.Fprintf(e.stderr, "%s: merged %d files into %d, %d events, %d duplicates dropped\n",
				r.Partition, r.FilesBefore, r.FilesAfter, r.Events, r.Duplicates)
		}
		cfg.compact.Progress = func(r table.RoundResult) {
			if r.Outcome != "committed" && r.Outcome != "failed" {
				fmt.Fprintf(e.stderr, "%s: %s\n", r.Partition, r.Outcome)
			}
		}
	}
	out.Compaction, err = tb.Compact(ctx, cfg.compact)
	if err == nil && cfg.expire != nil {
		var r table.ExpireResult
		r, err = tb.ExpireSnapshots(ctx, *cfg.expire)
		out.Expiry = &r
	}
	if err == nil && cfg.orphans != nil {
		var r table.OrphanResult
		r, err = tb.DeleteOrphans(ctx, *cfg.orphans)
		out.Orphans = &r
	}
	out.Seconds = time.Since(start).Seconds()
	if err != nil {
		out.Error = err.Error()
	}
	if cfg.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil {
			return jerr
		}
	} else {
		e.tableCompactReport(cfg, &out, time.Since(start))
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted; readers see a consistent table, run again to finish: %w", ctx.Err())
	}
	return err
}

func (e env) tableCompactReport(cfg *tableCompactConfig, out *tableCompactSummary, elapsed time.Duration) {
	w, c := e.stdout, &out.Compaction
	fmt.Fprintf(w, "Compacted the Iceberg table in %s in %s: %d partitions to compact, %d committed",
		cfg.dir, elapsed.Round(time.Millisecond), c.Partitions, c.Committed)
	if c.Already+c.Dropped+c.Failed > 0 {
		fmt.Fprintf(w, " (%d found committed already, %d dropped to a concurrent compaction, %d failed)", c.Already, c.Dropped, c.Failed)
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintf(w, "  merged   %d data files (%s) into %d (%s); %d big files left as they are\n",
		c.FilesBefore, bytesize(c.BytesBefore), c.FilesAfter, bytesize(c.BytesAfter), c.Kept)
	fmt.Fprintf(w, "  events   %d kept, %d duplicate event_uuids dropped\n", c.Events, c.Duplicates)
	if c.Committed > 0 {
		fmt.Fprintf(w, "  commit   one overwrite snapshot (%s), %d attempt(s)\n", table.PropCompactionRounds, c.Attempts)
	}
	if x := out.Expiry; x != nil {
		fmt.Fprintf(w, "  expired  %d snapshots (%d kept); %d of their batches remembered for exactly-once, %d in the list, %d oldest forgotten\n",
			x.Expired, x.Kept, x.Batches, x.Remembered, x.Forgotten)
	}
	if o := out.Orphans; o != nil {
		grace := cfg.orphans.OlderThan
		if grace == time.Nanosecond {
			grace = 0 // --orphans-older-than 0
		}
		fmt.Fprintf(w, "  orphans  %d unreferenced files deleted (%s); %d younger than %s kept\n",
			len(o.Deleted), bytesize(o.Bytes), o.Young, grace)
	}
}
