package folder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/eventlake/eventlake/internal/lake"
)

// errNoLocks says the file system cannot lock files.
var errNoLocks = errors.New("file locks not supported")

// staleAge is how old an unlocked temporary file must be before a sweep
// removes it where locks say nothing (a file system without them): no write
// takes an hour.
const staleAge = time.Hour

// isTemp reports whether name is one of our temporary files: ".tmp-" and
// a base-36 number (at most 13 digits for 64 bits).
func isTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, tmpPrefix)
	if !ok || rest == "" || len(rest) > 13 {
		return false
	}
	for _, c := range rest {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// abandoned reports whether a temporary file can be removed: no writer
// holds its lock and it was last modified before this store was opened,
// or, where there are no locks, over staleAge ago.
func (s *Store) abandoned(f *os.File, info fs.FileInfo) (bool, error) {
	locked, err := tryLock(f)
	switch {
	case errors.Is(err, errNoLocks):
		return time.Since(info.ModTime()) > staleAge, nil
	case err != nil:
		return false, err
	default:
		return locked && info.ModTime().Before(s.opened), nil
	}
}

// sweepOnce sweeps folder (dir, relative, ending in '/' or empty) the first
// time this store writes to it. A failure to sweep never fails a write.
func (s *Store) sweepOnce(dir string, folder *os.Root) {
	if _, done := s.swept.LoadOrStore(dir, true); done {
		return
	}
	s.sweepFolder(folder)
}

// sweepFolder removes the abandoned temporary files right in folder.
func (s *Store) sweepFolder(folder *os.Root) error {
	entries, err := fs.ReadDir(folder.FS(), ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTemp(e.Name()) {
			continue
		}
		if err := s.removeIfAbandoned(folder, e.Name()); err != nil {
			return err
		}
	}
	return nil
}

// removeIfAbandoned removes the temporary file name while holding its lock,
// if it is abandoned and still the file that was checked.
func (s *Store) removeIfAbandoned(folder *os.Root, name string) error {
	f, err := folder.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // its writer finished
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return err
	}
	ok, err := s.abandoned(f, info)
	if err != nil || !ok || !sameFile(folder, name, f) {
		return err
	}
	if err := folder.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.mu.Lock()
	s.tally.Files++
	s.tally.Bytes += info.Size()
	s.mu.Unlock()
	return nil
}

// Sweep removes abandoned temporary files in every folder under prefix.
func (s *Store) Sweep(ctx context.Context, prefix string) (lake.Swept, error) {
	before := s.Swept()
	start := "."
	if prefix != "" {
		if err := lake.CheckKey(strings.TrimSuffix(prefix, "/")); err != nil {
			return lake.Swept{}, err
		}
		start = strings.TrimSuffix(prefix, "/")
	}
	err := fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == start {
			return fs.SkipAll
		}
		if err != nil || !d.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		folder, err := s.openFolder(p, false)
		if err != nil {
			return nil // a link or a folder gone: not ours to sweep
		}
		defer folder.Close()
		if err := s.sweepFolder(folder); err != nil {
			return fmt.Errorf("sweep %s: %w", path.Clean(p), err)
		}
		return nil
	})
	after := s.Swept()
	return lake.Swept{Files: after.Files - before.Files, Bytes: after.Bytes - before.Bytes}, err
}

// Swept is what this store removed so far.
func (s *Store) Swept() lake.Swept {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tally
}
