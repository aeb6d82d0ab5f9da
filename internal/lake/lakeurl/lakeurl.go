// Package lakeurl opens a lake store by the URL a user types:
// a folder, file://, s3:// or mem://. It imports every driver and chooses
// one by scheme in a switch: no registry, so no package state to mutate and
// no blank imports to forget (see docs/design.md, "Packages").
package lakeurl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/folder"
	"github.com/eventlake/eventlake/internal/lake/mem"
	"github.com/eventlake/eventlake/internal/lake/s3"
)

// Options holds what a URL cannot say. The zero value is fine.
type Options struct {
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
// Unknown parameters are refused. A nil opts means defaults.
func Open(ctx context.Context, rawURL string, opts *Options) (lake.ReadWriteStore, error) {
	if opts == nil {
		opts = &Options{}
	}
	if rawURL == "" {
		return nil, errors.New("empty destination: give a folder, file:///path or s3://bucket/prefix")
	}
	scheme, _, hasScheme := strings.Cut(rawURL, "://")
	if !hasScheme {
		return store(folder.Open(rawURL, nil))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bad destination URL %q: %w", rawURL, err)
	}
	q := u.Query()
	switch scheme {
	case "file":
		return openFolder(u, q)
	case "s3":
		return openS3(ctx, u, q, opts)
	case "mem":
		if err := noOtherParams(q, rawURL); err != nil {
			return nil, err
		}
		return mem.New(), nil
	default:
		return nil, fmt.Errorf("unsupported destination scheme %q in %q: want a folder, file://, s3:// or mem://", scheme, rawURL)
	}
}

// openFolder opens file:///path?fsync=.
func openFolder(u *url.URL, q url.Values) (lake.ReadWriteStore, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("bad file URL %q: want file:///absolute/path", u.Redacted())
	}
	fsync, err := boolParam(q, "fsync")
	if err != nil {
		return nil, err
	}
	if err := noOtherParams(q, u.Redacted()); err != nil {
		return nil, err
	}
	return store(folder.Open(u.Path, &folder.Options{Fsync: fsync}))
}

// openS3 opens s3://bucket/prefix?region=&endpoint=&path_style=.
func openS3(ctx context.Context, u *url.URL, q url.Values, opts *Options) (lake.ReadWriteStore, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("bad S3 URL %q: no bucket", u.Redacted())
	}
	cfg := &s3.Config{Bucket: u.Host, Prefix: u.Path, Region: q.Get("region"), Endpoint: q.Get("endpoint")}
	q.Del("region")
	q.Del("endpoint")
	if q.Has("path_style") {
		pathStyle, err := boolParam(q, "path_style")
		if err != nil {
			return nil, err
		}
		cfg.PathStyle = &pathStyle
	}
	if err := noOtherParams(q, u.Redacted()); err != nil {
		return nil, err
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = opts.S3Endpoint
	}
	return store(s3.Open(ctx, cfg))
}

// store returns a driver's store as the interface, and a nil interface, not
// a nil pointer in one, with an error.
func store[S lake.ReadWriteStore](s S, err error) (lake.ReadWriteStore, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// boolParam takes the parameter name out of q: absent is false; present
// and empty is true.
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

// noOtherParams refuses whatever parameter is left in q.
func noOtherParams(q url.Values, rawURL string) error {
	for k := range q {
		return fmt.Errorf("unknown parameter %q in %q", k, rawURL)
	}
	return nil
}
