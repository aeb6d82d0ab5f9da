// Package folder is the lake store over a local folder: conditional creates
// by link(2), no partial objects, no way out of the folder (os.Root, no
// symbolic links written through), and sweeps of the temporary files a
// crashed writer left.
package folder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventlake/eventlake/internal/lake"
)

// tmpPrefix starts the names of objects being written. Readers that follow
// Hive conventions skip names starting with '.' or '_'.
const tmpPrefix = ".tmp-"

// Store is a local folder. Create writes a temporary file in the target
// folder and then hard-links it to its name: link(2) fails if the name
// exists, so the create is atomic and conditional even between processes,
// and readers never see a partial file. (gocloud's fileblob checks for the
// name and then renames, which two writers can both pass.)
//
// Every access goes through an os.Root, so no key and no symbolic link can
// reach outside the lake's folder; writes also refuse symbolic links inside
// it (a folder on the way to an object must be a real folder, checked as
// each is opened). A writer holds a lock on its temporary file until the
// object is linked; temporary files nobody holds, left by a crashed run, are
// removed when a folder is first written (see sweep).
type Store struct {
	root   *os.Root
	abs    string
	fsync  bool
	opened time.Time // temporary files modified since may belong to a live writer of a system without locks

	swept sync.Map // folders (relative, slash-separated) swept of leftovers
	mu    sync.Mutex
	tally lake.Swept
}

var (
	_ lake.ReadWriteStore = (*Store)(nil)
	_ lake.DirLister      = (*Store)(nil)
	_ lake.Sweeper        = (*Store)(nil)
)

// Options tune a folder store. The zero value is fine.
type Options struct {
	// Fsync syncs each object and its folder before Create reports it
	// written.
	Fsync bool
}

// Open opens the folder at path p as a store, making it if missing, and
// checks that it is writable. A nil opts means defaults.
func Open(p string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	if p == "" {
		return nil, errors.New("empty folder path")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create lake folder: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("cannot open lake folder: %w", err)
	}
	s := &Store{root: root, abs: abs, fsync: opts.Fsync, opened: time.Now()}
	// Fail now, not at the first batch, when the folder is not writable.
	f, name, err := createTemp(root)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("lake folder %s is not writable: %w", abs, err)
	}
	f.Close()
	root.Remove(name)
	return s, nil
}

// String is the store's file:// URL.
func (s *Store) String() string { return "file://" + filepath.ToSlash(s.abs) }

// Close releases the folder.
func (s *Store) Close() error { return s.root.Close() }

// name is the store-relative file name of key.
func (s *Store) name(key string) (string, error) {
	if err := lake.CheckKey(key); err != nil {
		return "", err
	}
	return filepath.FromSlash(key), nil
}

// openFolder opens the folder dir (slash-separated, relative; "." is the
// root) one component at a time, making missing ones when create is set.
// Each component must be a real folder: a symbolic link is refused, even
// one that stays inside the lake, and the folder opened must be the one
// checked, so a link swapped in meanwhile is refused too.
func (s *Store) openFolder(dir string, create bool) (*os.Root, error) {
	cur, err := s.root.OpenRoot(".")
	if err != nil {
		return nil, err
	}
	if dir == "." || dir == "" {
		return cur, nil
	}
	for comp := range strings.SplitSeq(dir, "/") {
		next, err := openChild(cur, comp, create)
		cur.Close()
		if err != nil {
			return nil, fmt.Errorf("folder %s: %w", dir, err)
		}
		cur = next
	}
	return cur, nil
}

// openChild opens the folder name right below parent.
func openChild(parent *os.Root, name string, create bool) (*os.Root, error) {
	info, err := parent.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err = parent.Mkdir(name, 0o755); err == nil || errors.Is(err, fs.ErrExist) {
			info, err = parent.Lstat(name)
		}
	}
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is a %s, not a folder: refusing to write through it", name, kindOfFile(info.Mode()))
	}
	child, err := parent.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	if opened, err := child.Stat("."); err != nil || !os.SameFile(info, opened) {
		child.Close()
		return nil, fmt.Errorf("%s changed while it was opened: refusing to write through it", name)
	}
	return child, nil
}

func kindOfFile(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsRegular():
		return "file"
	default:
		return "special file"
	}
}

// Create writes a locked temporary file in key's folder and links it to
// key; see Store.
func (s *Store) Create(ctx context.Context, key string, body ...[]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := lake.CheckKey(key); err != nil {
		return err
	}
	dir, base := path.Split(key)
	folder, err := s.openFolder(strings.TrimSuffix(dir, "/"), true)
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	defer folder.Close()
	s.sweepOnce(dir, folder)
	if _, err := folder.Lstat(base); err == nil {
		return fmt.Errorf("create %s: %w", key, lake.ErrExist)
	}
	if err := s.write(folder, base, body); err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	return nil
}

// write writes body to a locked temporary file in folder and links it to
// name. The temporary name is removed before the lock is released, so a
// sweep never sees it unlocked.
func (s *Store) write(folder *os.Root, name string, body [][]byte) error {
	f, tmp, err := createTemp(folder)
	if err != nil {
		return err
	}
	for _, b := range body {
		if _, err = f.Write(b); err != nil {
			break
		}
	}
	if err == nil && s.fsync {
		err = f.Sync()
	}
	if err == nil {
		err = folder.Link(tmp, name)
		if errors.Is(err, fs.ErrExist) {
			err = lake.ErrExist
		}
	}
	folder.Remove(tmp)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && s.fsync {
		err = syncFolder(folder)
	}
	return err
}

func syncFolder(folder *os.Root) error {
	d, err := folder.Open(".")
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	return nil
}

// createTemp creates a new temporary file in folder, readable by all, and
// locks it: a sweep never removes a locked file. A sweep may have removed
// the name between create and lock; then another name is tried.
func createTemp(folder *os.Root) (*os.File, string, error) {
	for try := 0; ; try++ {
		name := tmpPrefix + strconv.FormatUint(rand.Uint64(), 36)
		f, err := folder.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		locked, err := tryLock(f)
		if (locked || errors.Is(err, errNoLocks)) && sameFile(folder, name, f) {
			return f, name, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, errNoLocks) {
			folder.Remove(name)
			return nil, "", fmt.Errorf("lock temporary file: %w", err)
		}
		if try >= 100 {
			return nil, "", errors.New("no temporary file could be locked")
		}
	}
}

// sameFile reports whether name in folder is still the file f.
func sameFile(folder *os.Root, name string, f *os.File) bool {
	a, err := folder.Lstat(name)
	if err != nil {
		return false
	}
	b, err := f.Stat()
	return err == nil && os.SameFile(a, b)
}

// Read reads the regular file at key.
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, err
	}
	b, err := s.root.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", key, lake.ErrNotExist)
	}
	return b, err
}

// Delete removes the file at key, if any.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	if err := s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List yields the regular files under prefix; temporary files and
// symbolic links are not objects.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[lake.Entry, error] {
	return func(yield func(lake.Entry, error) bool) {
		var entries []lake.Entry
		err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), tmpPrefix) || !strings.HasPrefix(p, prefix) {
				return nil
			}
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			if err != nil {
				return err
			}
			entries = append(entries, lake.Entry{Key: p, Size: info.Size(), ModTime: info.ModTime()})
			return nil
		})
		if err != nil {
			yield(lake.Entry{}, err)
			return
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// Dirs lists the folders right below prefix.
func (s *Store) Dirs(ctx context.Context, prefix string) ([]string, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("dirs %q: want a folder ending in /", prefix)
	}
	dir := "."
	if prefix != "" {
		if err := lake.CheckKey(strings.TrimSuffix(prefix, "/")); err != nil {
			return nil, err
		}
		dir = strings.TrimSuffix(prefix, "/")
	}
	entries, err := fs.ReadDir(s.root.FS(), dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, prefix+e.Name()+"/")
		}
	}
	return out, nil
}
