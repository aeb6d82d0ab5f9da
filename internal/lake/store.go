package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strings"
	"time"
)

// ErrExist is returned by Store.Create when an object is already at the key.
var ErrExist = errors.New("object already exists")

// ErrNotExist is returned by Reader.Read for a missing key.
var ErrNotExist = errors.New("object does not exist")

// Store is where objects land.
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

// Reader is a Store that can also list, read back and delete, for tests,
// the demo, queries and compaction.
type Reader interface {
	Store
	// List yields the objects under prefix in lexical key order. Temporary
	// files of writes in progress are not listed.
	List(ctx context.Context, prefix string) iter.Seq2[Entry, error]
	// Read returns the object at key, or an error matching ErrNotExist.
	Read(ctx context.Context, key string) ([]byte, error)
	// Delete removes the object at key. Deleting a missing object is not
	// an error, so deletes can be repeated after a crash.
	Delete(ctx context.Context, key string) error
}

// DirLister is a Reader that can list the folders right below a prefix
// without listing every object under them (S3's delimiter listing).
type DirLister interface {
	// Dirs returns the names of the folders right below prefix (which
	// ends in '/' or is empty), each ending in '/', in lexical order.
	Dirs(ctx context.Context, prefix string) ([]string, error)
}

// Dirs lists the folders right below prefix, with the store's DirLister
// when it has one, else by listing every object.
func Dirs(ctx context.Context, r Reader, prefix string) ([]string, error) {
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

// OpenOptions holds what a URL cannot say. The zero value is fine.
type OpenOptions struct {
	// S3Endpoint overrides the S3 endpoint (also settable with the URL's
	// endpoint parameter and the AWS_ENDPOINT_URL_S3 variable).
	S3Endpoint string
}

// Open opens a store by URL:
//
//	/path/to/lake, ./lake, file:///path/to/lake   a local folder
//	    ?fsync=true   sync each object and its folder before reporting it written
//	s3://bucket/prefix                            an S3 bucket, optionally below a prefix
//	    ?region=eu-west-1     the bucket's region (else the AWS configuration's, else us-east-1)
//	    ?endpoint=URL         an S3-compatible server (else AWS_ENDPOINT_URL_S3)
//	    ?path_style=true      path-style requests (default: true when an endpoint is set)
//	mem://                                        memory, for tests
//
// Unknown parameters are refused.
func Open(ctx context.Context, rawURL string, opts *OpenOptions) (Reader, error) {
	if opts == nil {
		opts = &OpenOptions{}
	}
	if rawURL == "" {
		return nil, errors.New("empty destination: give a folder, file:///path or s3://bucket/prefix")
	}
	scheme, _, hasScheme := strings.Cut(rawURL, "://")
	if !hasScheme {
		return openDir(rawURL, false)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bad destination URL %q: %w", rawURL, err)
	}
	q := u.Query()
	switch scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("bad file URL %q: want file:///absolute/path", rawURL)
		}
		fsync, err := boolParam(q, "fsync")
		if err != nil {
			return nil, err
		}
		if err := noOtherParams(q, rawURL); err != nil {
			return nil, err
		}
		return openDir(u.Path, fsync)
	case "s3":
		return openS3(ctx, u, opts)
	case "mem":
		if err := noOtherParams(q, rawURL); err != nil {
			return nil, err
		}
		return openMem(), nil
	default:
		return nil, fmt.Errorf("unsupported destination scheme %q in %q: want a folder, file://, s3:// or mem://", scheme, rawURL)
	}
}

func boolParam(q url.Values, name string) (bool, error) {
	if !q.Has(name) {
		return false, nil
	}
	v := q.Get(name)
	q.Del(name)
	switch v {
	case "true", "1", "":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("parameter %s=%q: want true or false", name, v)
}

func noOtherParams(q url.Values, rawURL string) error {
	for k := range q {
		return fmt.Errorf("unknown parameter %q in %q", k, rawURL)
	}
	return nil
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
func ReadAll(ctx context.Context, r Reader, key string) ([]byte, error) {
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
