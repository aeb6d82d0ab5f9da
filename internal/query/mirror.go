package query

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/eventlake/eventlake/internal/lake"
)

// MirrorMarker marks a folder Mirror made.
const MirrorMarker = ".eventlake-mirror"

// MirrorStats counts what Mirror did.
type MirrorStats struct {
	Objects    int   // objects readers see under the prefix
	Downloaded int   // of them, fetched now
	Bytes      int64 // bytes fetched
	Removed    int   // local copies no longer visible, removed
}

// Mirror makes the folder dir hold exactly the objects a reader of r sees
// under prefix (lake.Snapshot), so that DuckDB can query a lake it cannot
// reach itself. Objects never change once written, so one already in dir
// with the right size is not fetched again; copies of objects a
// compaction superseded, or outside prefix, are removed. Keys are checked (lake.CheckKey)
// before they become paths, so none can leave dir.
//
// Mirror deletes what does not belong, so it works only in a folder it
// made: a new or empty one, which it marks with the file MirrorMarker.
//
// onFetch, when set, is told of each object fetched (from several
// goroutines at once) with the number still to fetch at the start.
func Mirror(ctx context.Context, r lake.ReadLister, dir, prefix string, onFetch func(bytes int64, of int)) (MirrorStats, error) {
	var st MirrorStats
	marker := filepath.Join(dir, MirrorMarker)
	if _, err := os.Stat(marker); err != nil {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, err
		}
		if len(entries) > 0 {
			return st, fmt.Errorf("%s is not empty and not an eventlake mirror (no %s): give a new or empty folder", dir, MirrorMarker)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return st, err
		}
		if err := os.WriteFile(marker, []byte("a mirror of an eventlake lake; eventlake query deletes what it does not need here\n"), 0o644); err != nil {
			return st, err
		}
	}
	snap, manifests, err := lake.SnapshotWithManifests(ctx, r, prefix)
	if err != nil {
		return st, err
	}
	st.Objects = len(snap)
	want := make(map[string]bool, len(snap))
	// The manifests the snapshot used go along: the view needs them to
	// show compacted objects.
	for part, m := range manifests {
		key := lake.ManifestKey(part, m.Seq)
		if err := lake.CheckKey(key); err != nil {
			return st, err
		}
		path := filepath.Join(dir, filepath.FromSlash(key))
		want[path] = true
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return st, err
		}
		if err := os.WriteFile(path, m.Encode(), 0o644); err != nil {
			return st, err
		}
	}
	var fetch []lake.Entry
	for _, e := range snap {
		if err := lake.CheckKey(e.Key); err != nil {
			return st, err
		}
		path := filepath.Join(dir, filepath.FromSlash(e.Key))
		want[path] = true
		if fi, err := os.Stat(path); err == nil && fi.Size() == e.Size {
			continue
		}
		fetch = append(fetch, e)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	sizes := make([]int64, len(fetch))
	for i, e := range fetch {
		g.Go(func() error {
			body, err := r.Read(gctx, e.Key)
			if err != nil {
				return fmt.Errorf("mirror %s: %w", e.Key, err)
			}
			path := filepath.Join(dir, filepath.FromSlash(e.Key))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
			if err := os.WriteFile(tmp, body, 0o644); err != nil {
				return err
			}
			sizes[i] = int64(len(body))
			if err := os.Rename(tmp, path); err != nil {
				return err
			}
			if onFetch != nil {
				onFetch(sizes[i], len(fetch))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	st.Downloaded = len(fetch)
	for _, n := range sizes {
		st.Bytes += n
	}
	// Remove what readers no longer see (superseded by a compaction), and
	// whatever is outside prefix: the folder is this prefix's view, whole.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() || want[p] || p == marker {
			return err
		}
		st.Removed++
		return os.Remove(p)
	})
	return st, err
}
