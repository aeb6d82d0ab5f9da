package table

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	iceio "github.com/apache/iceberg-go/io"
	itable "github.com/apache/iceberg-go/table"
)

// DefaultOrphanGrace is how old an unreferenced file must be before
// DeleteOrphans removes it: longer than any commit takes from writing its
// first file to landing, and than a retry of a crashed one is expected.
const DefaultOrphanGrace = 24 * time.Hour

// OrphanOptions tune DeleteOrphans.
type OrphanOptions struct {
	// OlderThan: only files last modified longer ago than this are removed
	// (DefaultOrphanGrace if zero). The grace protects the files of a
	// commit in flight (written, not yet committed) and the files of
	// expired snapshots a reader may still be reading.
	OlderThan time.Duration
	// DryRun lists what would be removed without removing it.
	DryRun bool

	step func(name string) error // before each removal; for tests
}

// OrphanResult says what DeleteOrphans did.
type OrphanResult struct {
	Files      int      // files below the table's location
	Referenced int      // of them, referenced by the table's metadata
	Young      int      // unreferenced but within the grace period: kept
	Deleted    []string // removed (or, on a dry run, to remove), relative to the table's location
	Bytes      int64    // their size
}

// DeleteOrphans removes the files below the table's location (data/ and
// metadata/) that no kept snapshot references and that are older than the
// grace period: data files of rounds or commits that never landed, files
// only expired snapshots used, metadata files of lost commits, and
// temporary files of crashed writers. The referenced set is computed, never
// guessed: the current metadata file and its log, every kept snapshot's
// manifest list, manifests and the data files live in it (a file a
// snapshot deleted is live in its parent, referenced while that is kept). It is computed again just before removing, so a commit that
// landed meanwhile keeps its files. The table's file system must list
// (iceberg-go's ListableIO: a local folder does).
func (t *Table) DeleteOrphans(ctx context.Context, opts OrphanOptions) (OrphanResult, error) {
	var res OrphanResult
	if opts.OlderThan < 0 {
		return res, errors.New("table: orphans: a negative grace period")
	}
	if opts.OlderThan == 0 {
		opts.OlderThan = DefaultOrphanGrace
	}
	start := time.Now()
	tbl, err := t.Load(ctx)
	if err != nil {
		return res, err
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return res, fmt.Errorf("table: file system of %s: %w", tbl.Location(), err)
	}
	lister, ok := fsys.(iceio.ListableIO)
	if !ok {
		return res, fmt.Errorf("table: the file system of %s (%T) cannot list files", tbl.Location(), fsys)
	}
	refs := newReferenced()
	if err := refs.add(ctx, tbl, fsys); err != nil {
		return res, err
	}
	root := normPath(tbl.Location())
	type cand struct {
		path, rel string
		size      int64
	}
	var cands []cand
	err = lister.WalkDir(tbl.Location(), func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		res.Files++
		np := normPath(p)
		if refs.has(np) {
			res.Referenced++
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if start.Sub(info.ModTime()) <= opts.OlderThan {
			res.Young++
			return nil
		}
		rel := strings.TrimPrefix(np, root+"/")
		if rel == np {
			return fmt.Errorf("table: listed %s outside the table's location %s", p, root)
		}
		cands = append(cands, cand{path: p, rel: rel, size: info.Size()})
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("table: list %s: %w", tbl.Location(), err)
	}
	if len(cands) == 0 {
		return res, nil
	}
	// A commit may have landed while we listed: add what the table
	// references now.
	fresh, err := t.Load(ctx)
	if err != nil {
		return res, err
	}
	if err := refs.add(ctx, fresh, fsys); err != nil {
		return res, err
	}
	slices.SortFunc(cands, func(a, b cand) int { return strings.Compare(a.rel, b.rel) })
	for _, c := range cands {
		if refs.has(normPath(c.path)) {
			res.Referenced++
			continue
		}
		if !opts.DryRun {
			if err := step(ctx, opts.step, "delete "+c.rel); err != nil {
				return res, err
			}
			// A writer may have written the file again since the listing
			// (a staged batch's retry refreshes an old file: put): young
			// now, it stays.
			if st, ok := fsys.(iceio.StatIO); ok {
				if fi, err := st.Stat(c.path); err == nil && start.Sub(fi.ModTime()) <= opts.OlderThan {
					res.Young++
					continue
				}
			}
			if err := fsys.Remove(c.path); err != nil && !errors.Is(err, iofs.ErrNotExist) {
				return res, fmt.Errorf("table: remove %s: %w", c.path, err)
			}
		}
		res.Deleted = append(res.Deleted, c.rel)
		res.Bytes += c.size
	}
	return res, nil
}

// referenced is the set of files a table's metadata references, by
// normalised path, and the snapshots already read into it.
type referenced struct {
	paths map[string]bool
	snaps map[int64]bool
}

func newReferenced() *referenced {
	return &referenced{paths: map[string]bool{}, snaps: map[int64]bool{}}
}

func (r *referenced) has(p string) bool { return r.paths[p] }

func (r *referenced) put(p string) { r.paths[normPath(p)] = true }

// add puts in the files tbl's metadata references: its metadata file and
// log, statistics files, and for every snapshot not read yet its manifest
// list, manifests and their live data files.
func (r *referenced) add(ctx context.Context, tbl *itable.Table, fsys iceio.IO) error {
	md := tbl.Metadata()
	r.put(tbl.MetadataLocation())
	for e := range md.PreviousFiles() {
		r.put(e.MetadataFile)
	}
	for s := range md.Statistics() {
		r.put(s.StatisticsPath)
	}
	for s := range md.PartitionStatistics() {
		r.put(s.StatisticsPath)
	}
	for _, s := range md.Snapshots() {
		if r.snaps[s.SnapshotID] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.ManifestList != "" {
			r.put(s.ManifestList)
		}
		mans, err := s.Manifests(fsys)
		if err != nil {
			return fmt.Errorf("table: manifests of snapshot %d: %w", s.SnapshotID, err)
		}
		for _, m := range mans {
			if r.has(normPath(m.FilePath())) {
				continue // manifests never change: read once
			}
			r.put(m.FilePath())
			entries, err := m.FetchEntries(fsys, true)
			if err != nil {
				return fmt.Errorf("table: manifest %s: %w", m.FilePath(), err)
			}
			for _, e := range entries {
				r.put(e.DataFile().FilePath())
			}
		}
		r.snaps[s.SnapshotID] = true
	}
	return nil
}

// normPath makes a location comparable with a listed path: file:// URLs
// become clean local paths; other URLs are kept, cleaned of a trailing '/'.
func normPath(p string) string {
	if strings.HasPrefix(p, "file:") {
		if u, err := url.Parse(p); err == nil && u.Path != "" {
			return filepath.Clean(filepath.FromSlash(u.Path))
		}
	}
	if !strings.Contains(p, "://") {
		return filepath.Clean(p)
	}
	return strings.TrimSuffix(p, "/")
}
