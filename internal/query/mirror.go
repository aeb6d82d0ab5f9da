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
	marker, err := claimMirror(dir)
	if err != nil {
		return st, err
	}
	snap, manifests, err := lake.SnapshotWithManifests(ctx, r, prefix)
	if err != nil {
		return st, err
	}
	st.Objects = len(snap)
	want := map[string]bool{marker: true} // the paths the mirror keeps
	if err := writeManifests(dir, manifests, want); err != nil {
		return st, err
	}
	fetch, err := missing(dir, snap, want)
	if err != nil {
		return st, err
	}
	if st.Bytes, err = fetchObjects(ctx, r, dir, fetch, onFetch); err != nil {
		return st, err
	}
	st.Downloaded = len(fetch)
	st.Removed, err = removeUnwanted(dir, want)
	return st, err
}

// claimMirror makes sure dir is a mirror, marking it as one if it is new
// or empty, and returns the marker's path.
func claimMirror(dir string) (string, error) {
	marker := filepath.Join(dir, MirrorMarker)
	if _, err := os.Stat(marker); err == nil {
		return marker, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if len(entries) > 0 {
		return "", fmt.Errorf("%s is not empty and not an eventlake mirror (no %s): give a new or empty folder", dir, MirrorMarker)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(marker, []byte("a mirror of an eventlake lake; eventlake query deletes what it does not need here\n"), 0o644); err != nil {
		return "", err
	}
	return marker, nil
}

// mirrorPath is where the object or manifest key goes in dir, once the key
// is checked (lake.CheckKey) so that it cannot leave dir.
func mirrorPath(dir, key string) (string, error) {
	if err := lake.CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(key)), nil
}

// writeManifests writes the manifests the snapshot used into dir, adding
// their paths to want: the view needs them to show compacted objects.
func writeManifests(dir string, manifests map[string]*lake.Manifest, want map[string]bool) error {
	for part, m := range manifests {
		path, err := mirrorPath(dir, lake.ManifestKey(part, m.Seq))
		if err != nil {
			return err
		}
		want[path] = true
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, m.Encode(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// missing adds the paths of the objects in snap to want and returns those
// dir lacks: objects never change once written, so a copy of the right
// size is the object.
func missing(dir string, snap []lake.Entry, want map[string]bool) ([]lake.Entry, error) {
	var fetch []lake.Entry
	for _, e := range snap {
		path, err := mirrorPath(dir, e.Key)
		if err != nil {
			return nil, err
		}
		want[path] = true
		if fi, err := os.Stat(path); err == nil && fi.Size() == e.Size {
			continue
		}
		fetch = append(fetch, e)
	}
	return fetch, nil
}

// fetchObjects copies the objects fetch lists from r into dir, 16 at a
// time, each through a temporary file, and returns the bytes fetched.
func fetchObjects(ctx context.Context, r lake.ReadLister, dir string, fetch []lake.Entry, onFetch func(bytes int64, of int)) (int64, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	sizes := make([]int64, len(fetch))
	for i, e := range fetch {
		g.Go(func() error {
			body, err := r.Read(gctx, e.Key)
			if err != nil {
				return fmt.Errorf("mirror %s: %w", e.Key, err)
			}
			path := filepath.Join(dir, filepath.FromSlash(e.Key)) // checked by missing
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
		return 0, err
	}
	var total int64
	for _, n := range sizes {
		total += n
	}
	return total, nil
}

// removeUnwanted removes every file in dir not in want: copies of objects
// readers no longer see (superseded by a compaction), and whatever is
// outside the prefix, for the folder is the prefix's view, whole. It
// returns how many it removed.
func removeUnwanted(dir string, want map[string]bool) (int, error) {
	removed := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() || want[p] {
			return err
		}
		removed++
		return os.Remove(p)
	})
	return removed, err
}
