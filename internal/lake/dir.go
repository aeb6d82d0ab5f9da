package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// tmpPrefix starts the names of objects being written. Readers that follow
// Hive conventions skip names starting with '.' or '_'.
const tmpPrefix = ".tmp-"

// dirStore is a local folder. Create writes a temporary file in the target
// folder and then hard-links it to its name: link(2) fails if the name
// exists, so the create is atomic and conditional even between processes,
// and readers never see a partial file. (gocloud's fileblob checks for the
// name and then renames, which two writers can both pass.)
type dirStore struct {
	root  string
	fsync bool
	dirs  sync.Map // folders known to exist
}

var (
	_ Reader    = (*dirStore)(nil)
	_ DirLister = (*dirStore)(nil)
)

func openDir(path string, fsync bool) (*dirStore, error) {
	if path == "" {
		return nil, errors.New("empty folder path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create lake folder: %w", err)
	}
	// Fail now, not at the first batch, when the folder is not writable.
	f, err := os.CreateTemp(abs, tmpPrefix+"probe-*")
	if err != nil {
		return nil, fmt.Errorf("lake folder %s is not writable: %w", abs, err)
	}
	f.Close()
	os.Remove(f.Name())
	return &dirStore{root: abs, fsync: fsync}, nil
}

func (s *dirStore) String() string { return "file://" + filepath.ToSlash(s.root) }

func (s *dirStore) Close() error { return nil }

func (s *dirStore) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

func (s *dirStore) mkdir(dir string) error {
	if _, ok := s.dirs.Load(dir); ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.dirs.Store(dir, true)
	return nil
}

func (s *dirStore) Create(ctx context.Context, key string, body ...[]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path, err := s.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := s.mkdir(dir); err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("create %s: %w", key, ErrExist)
	}
	f, err := createTemp(dir)
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	for _, b := range body {
		if _, err = f.Write(b); err != nil {
			break
		}
	}
	if err == nil && s.fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w", key, ErrExist)
		}
		return fmt.Errorf("create %s: %w", key, err)
	}
	if s.fsync {
		if d, err := os.Open(dir); err == nil {
			err = d.Sync()
			d.Close()
			if err != nil {
				return fmt.Errorf("create %s: sync folder: %w", key, err)
			}
		}
	}
	return nil
}

// createTemp creates a new file for writing with a temporary name in dir,
// readable by all (os.CreateTemp makes 0600 files).
func createTemp(dir string) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, tmpPrefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

func (s *dirStore) Read(ctx context.Context, key string) ([]byte, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", key, ErrNotExist)
	}
	return b, err
}

func (s *dirStore) Delete(ctx context.Context, key string) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func (s *dirStore) List(ctx context.Context, prefix string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		var entries []Entry
		err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() || strings.HasPrefix(d.Name(), tmpPrefix) {
				return nil
			}
			rel, err := filepath.Rel(s.root, p)
			if err != nil {
				return err
			}
			key := filepath.ToSlash(rel)
			if !strings.HasPrefix(key, prefix) {
				return nil
			}
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			if err != nil {
				return err
			}
			entries = append(entries, Entry{Key: key, Size: info.Size(), ModTime: info.ModTime()})
			return nil
		})
		if err != nil {
			yield(Entry{}, err)
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

func (s *dirStore) Dirs(ctx context.Context, prefix string) ([]string, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("dirs %q: want a folder ending in /", prefix)
	}
	dir := s.root
	if prefix != "" {
		p, err := s.path(strings.TrimSuffix(prefix, "/"))
		if err != nil {
			return nil, err
		}
		dir = p
	}
	entries, err := os.ReadDir(dir)
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
