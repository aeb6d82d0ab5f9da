package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/eventlake/eventlake/internal/awsconfig"
)

// blobStore is a gocloud.dev bucket: S3 (conditional create sends
// If-None-Match: *) or memory.
type blobStore struct {
	b    *blob.Bucket
	name string
}

var (
	_ Reader    = (*blobStore)(nil)
	_ DirLister = (*blobStore)(nil)
)

func openMem() *blobStore {
	return &blobStore{b: memblob.OpenBucket(nil), name: "mem://"}
}

// openS3 opens s3://bucket/prefix?region=&endpoint=&path_style=.
func openS3(ctx context.Context, u *url.URL, opts *OpenOptions) (*blobStore, error) {
	bucket := u.Host
	if bucket == "" {
		return nil, fmt.Errorf("bad S3 URL %q: no bucket", u.Redacted())
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("bad S3 prefix in %q: %w", u.Redacted(), err)
		}
		prefix += "/"
		if len(prefix) > MaxPrefixLen {
			return nil, fmt.Errorf("bad S3 prefix in %q: %d bytes, at most %d so that every key fits S3's %d bytes", u.Redacted(), len(prefix), MaxPrefixLen, MaxKeyLen)
		}
	}
	q := u.Query()
	region := q.Get("region")
	q.Del("region")
	endpoint := q.Get("endpoint")
	q.Del("endpoint")
	pathStyleSet := q.Has("path_style")
	pathStyle, err := boolParam(q, "path_style")
	if err != nil {
		return nil, err
	}
	if err := noOtherParams(q, u.Redacted()); err != nil {
		return nil, err
	}
	if endpoint == "" {
		endpoint = opts.S3Endpoint
	}
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	if !pathStyleSet {
		pathStyle = endpoint != ""
	}
	cfg, err := awsconfig.Load(ctx, region)
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	b, err := s3blob.OpenBucket(ctx, client, bucket, nil)
	if err != nil {
		return nil, err
	}
	name := "s3://" + bucket + "/" + prefix
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix)
	}
	return &blobStore{b: b, name: name}, nil
}

func (s *blobStore) String() string { return s.name }

func (s *blobStore) Close() error { return s.b.Close() }

func (s *blobStore) Create(ctx context.Context, key string, body ...[]byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	err := s.write(ctx, key, body)
	if err == nil {
		return nil
	}
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return fmt.Errorf("create %s: %w", key, ErrExist)
	}
	return fmt.Errorf("create %s in %s: %w", key, s.name, err)
}

func (s *blobStore) write(ctx context.Context, key string, body [][]byte) error {
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

func (s *blobStore) Read(ctx context.Context, key string) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	b, err := s.b.ReadAll(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("read %s: %w", key, ErrNotExist)
	}
	return b, err
}

func (s *blobStore) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	err := s.b.Delete(ctx, key)
	if err == nil || gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return fmt.Errorf("delete %s in %s: %w", key, s.name, err)
}

func (s *blobStore) List(ctx context.Context, prefix string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		it := s.b.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(Entry{}, err)
				return
			}
			if !yield(Entry{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime}, nil) {
				return
			}
		}
	}
}

func (s *blobStore) Dirs(ctx context.Context, prefix string) ([]string, error) {
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
