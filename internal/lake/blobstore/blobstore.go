// Package blobstore adapts a gocloud.dev bucket to the lake's store
// contract: conditional creates (IfNotExist; S3 sends If-None-Match: *),
// gocloud's error codes mapped to lake.ErrExist and lake.ErrNotExist, and
// folder listing by delimiter. The s3 and mem drivers open their buckets
// and wrap them here.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/eventlake/eventlake/internal/lake"
)

// Store is a gocloud.dev bucket as a lake store.
type Store struct {
	b    *blob.Bucket
	name string
}

var (
	_ lake.ReadWriteStore = (*Store)(nil)
	_ lake.DirLister      = (*Store)(nil)
)

// New wraps b, which the Store then owns (Close closes it). name is the
// store's URL, for messages.
func New(b *blob.Bucket, name string) *Store {
	return &Store{b: b, name: name}
}

// String is the store's URL.
func (s *Store) String() string { return s.name }

// Close closes the bucket.
func (s *Store) Close() error { return s.b.Close() }

// Create writes key only if it is absent; a half-written object is
// abandoned, never committed.
func (s *Store) Create(ctx context.Context, key string, body ...[]byte) error {
	if err := lake.CheckKey(key); err != nil {
		return err
	}
	err := s.write(ctx, key, body)
	if err == nil {
		return nil
	}
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return fmt.Errorf("create %s: %w", key, lake.ErrExist)
	}
	return fmt.Errorf("create %s in %s: %w", key, s.name, err)
}

func (s *Store) write(ctx context.Context, key string, body [][]byte) error {
	// The context is cancelled on error so that a half-written object is
	// abandoned, never committed.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.b.NewWriter(ctx, key, &blob.WriterOptions{
		IfNotExist:                  true,
		ContentType:                 "application/x-ndjson",
		DisableContentTypeDetection: true,
	})
	if err != nil {
		return err
	}
	for _, b := range body {
		if _, err := w.Write(b); err != nil {
			cancel()
			w.Close()
			return err
		}
	}
	return w.Close()
}

// Read reads the object at key.
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	if err := lake.CheckKey(key); err != nil {
		return nil, err
	}
	b, err := s.b.ReadAll(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("read %s: %w", key, lake.ErrNotExist)
	}
	return b, err
}

// Delete removes the object at key, if any.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := lake.CheckKey(key); err != nil {
		return err
	}
	err := s.b.Delete(ctx, key)
	if err == nil || gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return fmt.Errorf("delete %s in %s: %w", key, s.name, err)
}

// List yields the objects under prefix in key order.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[lake.Entry, error] {
	return func(yield func(lake.Entry, error) bool) {
		it := s.b.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(lake.Entry{}, err)
				return
			}
			if !yield(lake.Entry{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime}, nil) {
				return
			}
		}
	}
}

// Dirs lists the folders right below prefix by delimiter listing.
func (s *Store) Dirs(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	it := s.b.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if obj.IsDir {
			out = append(out, obj.Key)
		}
	}
}
