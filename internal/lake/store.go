package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
)

// ErrExist is returned by Store.Create when an object is already at the key.
var ErrExist = errors.New("object already exists")

// ErrNotExist is returned by ReadLister.Read for a missing key.
var ErrNotExist = errors.New("object does not exist")

// Store is where objects land: all the landing path needs.
type Store interface {
	// Create stores the concatenation of body at key only if no object is
	// there. When one is, it changes nothing and returns an error matching
	// ErrExist. On a nil error the object is whole and visible to readers;
	// no reader ever sees a partial object. key is slash-separated and
	// relative to the store's root; a key that could leave the root is
	// refused.
	Create(ctx context.Context, key string, body ...[]byte) error
	// Close releases the store's resources.
	Close() error
	// String names the store for messages (its URL).
	String() string
}

// Entry is a listed object.
type Entry struct {
	Key     string
	Size    int64
	ModTime time.Time // when it was written
}

// Lister lists the objects of a store.
type Lister interface {
	// List yields the objects under prefix in lexical key order. Temporary
	// files of writes in progress are not listed.
	List(ctx context.Context, prefix string) iter.Seq2[Entry, error]
}

// ReadLister lists objects and reads them back: all a query, a snapshot or
// a manifest lookup needs.
type ReadLister interface {
	Lister
	// Read returns the object at key, or an error matching ErrNotExist.
	Read(ctx context.Context, key string) ([]byte, error)
}

// ReadWriteStore is a Store that can also list, read back and delete:
// what compaction and tests need. Every driver (folder, s3, mem)
// is one; storetest.Run checks the contract.
type ReadWriteStore interface {
	Store
	ReadLister
	// Delete removes the object at key. Deleting a missing object is not
	// an error, so deletes can be repeated after a crash.
	Delete(ctx context.Context, key string) error
}

// DirLister is a store that can list the folders right below a prefix
// without listing every object under them (S3's delimiter listing).
type DirLister interface {
	// Dirs returns the names of the folders right below prefix (which
	// ends in '/' or is empty), each ending in '/', in lexical order.
	Dirs(ctx context.Context, prefix string) ([]string, error)
}

// Dirs lists the folders right below prefix, with the store's DirLister
// when it has one, else by listing every object.
func Dirs(ctx context.Context, r Lister, prefix string) ([]string, error) {
	if d, ok := r.(DirLister); ok {
		return d.Dirs(ctx, prefix)
	}
	seen := map[string]bool{}
	var out []string
	for e, err := range r.List(ctx, prefix) {
		if err != nil {
			return nil, err
		}
		rest := e.Key[len(prefix):]
		if i := strings.IndexByte(rest, '/'); i >= 0 && !seen[rest[:i+1]] {
			seen[rest[:i+1]] = true
			out = append(out, prefix+rest[:i+1])
		}
	}
	return out, nil
}

// Swept counts the leftovers of crashed writers a store removed.
type Swept struct {
	Files int
	Bytes int64
}

// Sweeper is a Store whose writes can leave temporary files behind when
// the process dies (a local folder), and that can remove them safely.
type Sweeper interface {
	// Sweep removes, in the folders under prefix (which ends in '/' or is
	// empty), the temporary files of writes that can no longer finish.
	Sweep(ctx context.Context, prefix string) (Swept, error)
	// Swept is what this store removed so far: by Sweep, and in each folder
	// the first time this store wrote to it.
	Swept() Swept
}

// CheckKey refuses keys that could leave the store's root or prefix: empty,
// absolute, with backslashes, NUL, or empty, "." or ".." segments.
func CheckKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("invalid object key %q: empty or longer than 1024 bytes", key)
	}
	if strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("invalid object key %q: backslash or NUL", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid object key %q: empty, . or .. segment", key)
		}
	}
	return nil
}

// ReadAll reads an object and decompresses it by its name's extension.
func ReadAll(ctx context.Context, r ReadLister, key string) ([]byte, error) {
	data, err := r.Read(ctx, key)
	if err != nil {
		return nil, err
	}
	return decompress(key, data)
}

// decompress decodes an object body by its name's extension.
func decompress(key string, data []byte) ([]byte, error) {
	c, ok := CompressionOf(key)
	if !ok || c == None {
		return data, nil
	}
	zr, err := NewReader(c, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return out, nil
}
