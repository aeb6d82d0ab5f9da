// Package awsconfig loads the AWS configuration the way every client of
// ours wants it: the standard chain (environment, shared files, roles,
// AWS_ENDPOINT_URL_*), an optional region override, and us-east-1 when no
// region is set anywhere.
package awsconfig

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// DefaultRegion is used when nothing sets a region.
const DefaultRegion = "us-east-1"

// Load returns the AWS configuration, with region if not empty.
func Load(ctx context.Context, region string) (aws.Config, error) {
	var lo []func(*config.LoadOptions) error
	if region != "" {
		lo = append(lo, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return cfg, nil
}
