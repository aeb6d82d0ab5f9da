// Package s3 is the lake store over an S3 bucket (or an S3-compatible
// server), optionally below a prefix, through gocloud.dev's s3blob and the
// blobstore adapter. AWS SDK imports of the lake live here.
package s3

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"

	"github.com/eventlake/eventlake/internal/awsconfig"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/blobstore"
)

// Config says which bucket to open and how to reach it.
type Config struct {
	// Bucket is required.
	Bucket string
	// Prefix, if set, is the folder of the bucket the store lives in
	// (slashes around it are ignored). It must be a valid key of at most
	// lake.MaxPrefixLen-1 bytes, so that every key the lake makes fits
	// S3's limit.
	Prefix string
	// Region is the bucket's region; empty means the AWS configuration's,
	// else us-east-1.
	Region string
	// Endpoint is an S3-compatible server; empty means the
	// AWS_ENDPOINT_URL_S3 variable, else AWS.
	Endpoint string
	// PathStyle makes path-style requests; nil means true exactly when an
	// endpoint is set.
	PathStyle *bool
}

// Open opens the bucket of cfg as a store named s3://bucket/prefix/.
// Creates are conditional (If-None-Match: *).
func Open(ctx context.Context, cfg *Config) (*blobstore.Store, error) {
	if cfg == nil || cfg.Bucket == "" {
		return nil, errors.New("S3 store: no bucket")
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		where := "s3://" + cfg.Bucket + "/" + prefix
		if err := lake.CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("bad S3 prefix in %q: %w", where, err)
		}
		prefix += "/"
		if len(prefix) > lake.MaxPrefixLen {
			return nil, fmt.Errorf("bad S3 prefix in %q: %d bytes, at most %d so that every key fits S3's %d bytes", where, len(prefix), lake.MaxPrefixLen, lake.MaxKeyLen)
		}
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	pathStyle := endpoint != ""
	if cfg.PathStyle != nil {
		pathStyle = *cfg.PathStyle
	}
	awsCfg, err := awsconfig.Load(ctx, cfg.Region)
	if err != nil {
		return nil, err
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	b, err := s3blob.OpenBucket(ctx, client, cfg.Bucket, nil)
	if err != nil {
		return nil, err
	}
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix)
	}
	return blobstore.New(b, "s3://"+cfg.Bucket+"/"+prefix), nil
}
