package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/eventlake/eventlake/internal/gen"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/lakeurl"
	"github.com/eventlake/eventlake/internal/pipeline"
)

func (e env) demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var g genFlags
	var lf lakeFlags
	g.register(fs, 1_000_000)
	lf.register(fs, "./lake")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eventlake demo [-n N] [--lake LAKE] [flags]\n\nGenerates events (0.1%% bad, 0.1%% duplicates by default) and lands them in the lake.\n\n")
		fs.PrintDefaults()
	}
	// The demo shows dead letters and duplicates too.
	fs.Lookup("bad").DefValue, fs.Lookup("dup").DefValue = "0.001", "0.001"
	g.bad, g.dup = 0.001, 0.001
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	lf.setFlags(fs)
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "eventlake demo: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	opts, err := g.options()
	if err != nil {
		return err
	}
	if _, err := lf.parse(); err != nil {
		return err
	}
	w, closeLake, err := lf.open(ctx)
	if err != nil {
		return err
	}
	defer closeLake()
	source := fmt.Sprintf("demo-seed%d-n%d", opts.Seed, opts.Events)
	r, err := pipeline.New(w, lf.config(source, 0))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Generating %d events (seed %d) and landing them in %s (%s)...\n\n", opts.Events, opts.Seed, lf.lake, lf.describe())

	pr, pw := io.Pipe()
	genDone := make(chan error, 1)
	go func() {
		_, err := gen.Write(ctx, pw, opts, nil)
		pw.CloseWithError(err)
		genDone <- err
	}()
	runErr := e.runPipeline(ctx, r, pr, &lf)
	pr.CloseWithError(io.ErrClosedPipe)
	if err := <-genDone; runErr == nil && err != nil && ctx.Err() == nil {
		return fmt.Errorf("generator: %w", err)
	}
	if runErr != nil {
		return runErr
	}
	if lf.table {
		dir, _ := localLake(lf.lake)
		return showTable(ctx, e.stdout, dir)
	}
	store, err := lakeurl.Open(ctx, lf.lake, &lakeurl.Options{S3Endpoint: lf.s3Endpoint})
	if err != nil {
		return err
	}
	defer store.Close()
	return showLake(ctx, e.stdout, store)
}

// showLake prints the lake's shape and one enriched event.
func showLake(ctx context.Context, w io.Writer, s lake.ReadWriteStore) error {
	perType := map[string]int{}
	var first, firstDead string
	dead := 0
	for ent, err := range s.List(ctx, lake.DeadLetterPrefix) {
		if err != nil {
			return err
		}
		if firstDead == "" {
			firstDead = ent.Key
		}
		dead++
	}
	// What readers see: after a compaction, the compacted objects.
	snap, err := lake.Snapshot(ctx, s, "")
	if err != nil {
		return err
	}
	for _, ent := range snap {
		if first == "" {
			first = ent.Key
		}
		perType[strings.SplitN(ent.Key, "/", 2)[0]]++
	}
	objects := len(snap) + dead
	types := make([]string, 0, len(perType))
	for t := range perType {
		types = append(types, t)
	}
	sort.Strings(types)
	fmt.Fprintf(w, "\nThe lake at %s: %d objects under %d event types.\n", s, objects, len(types))
	for i, t := range types {
		if i == 4 {
			fmt.Fprintf(w, "  ... and %d more\n", len(types)-4)
			break
		}
		fmt.Fprintf(w, "  %s/  (%d objects)\n", t, perType[t])
	}
	for _, key := range []string{first, firstDead} {
		if key == "" {
			continue
		}
		body, err := lake.ReadAll(ctx, s, key)
		if err != nil {
			return err
		}
		if strings.HasSuffix(key, lake.ParquetExt) {
			rows, err := lake.ReadParquet(bytes.NewReader(body), int64(len(body)))
			if err != nil || len(rows) == 0 {
				return fmt.Errorf("%s: %v", key, err)
			}
			body = []byte(rows[0].Event)
		}
		line, _, _ := bytes.Cut(body, []byte("\n"))
		var pretty bytes.Buffer
		json.Indent(&pretty, line, "  ", "  ")
		fmt.Fprintf(w, "\nFirst line of %s:\n  %s\n", key, pretty.String())
	}
	fmt.Fprintf(w, "\nRun the same command again: every object is already there, so nothing is added.\n")
	return nil
}
