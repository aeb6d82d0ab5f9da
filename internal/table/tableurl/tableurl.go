// Package tableurl opens the events table by the URL a user (or the
// Lambda's EVENTLAKE_TABLE) names: an Iceberg table in the AWS Glue Data
// Catalog with its files in an S3 warehouse. It is the driver that talks to
// Glue (through iceberg-go's catalog/glue, which uses the AWS SDK) and sets
// up iceberg-go's S3 file IO, so internal/table itself stays free of the
// AWS SDK (STYLE.md). Design: docs/iceberg.md, "Glue and the Lambda".
package tableurl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/glue"
	iceio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // the s3:// file IO

	"github.com/eventlake/eventlake/internal/awsconfig"
	"github.com/eventlake/eventlake/internal/table"
)

// Scheme is the one scheme served: glue://DATABASE/TABLE.
const Scheme = "glue"

// Location is a parsed table URL.
type Location struct {
	Database, Table string
	// Warehouse is s3://bucket or s3://bucket/prefix, without a trailing
	// slash. A new table goes to <warehouse>/<database>.db/<table> unless
	// the Glue database has a location of its own.
	Warehouse string
	Region    string // the AWS region of Glue and the bucket; "" = the AWS configuration's
	CatalogID string // the Glue catalog (account id); "" = the caller's account
}

// String is the URL the location was parsed from, in canonical form.
func (l Location) String() string {
	q := url.Values{"warehouse": {l.Warehouse}}
	if l.Region != "" {
		q.Set("region", l.Region)
	}
	if l.CatalogID != "" {
		q.Set("catalog-id", l.CatalogID)
	}
	return Scheme + "://" + l.Database + "/" + l.Table + "?" + q.Encode()
}

// Glue names: lower-case letters, digits and underscores (Glue lower-cases
// names; Athena refuses others), at most 255 bytes.
var glueName = regexp.MustCompile(`^[a-z0-9_]{1,255}$`)

// Parse reads a table URL:
//
//	glue://DATABASE/TABLE?warehouse=s3://BUCKET/PREFIX
//	    warehouse=s3://...   required: where new tables' data and metadata go
//	    region=eu-west-1     Glue's and the bucket's region (else the AWS configuration's)
//	    catalog-id=ID        the Glue catalog's account id (else the caller's)
//
// Unknown parameters are refused, as are names Glue would change.
func Parse(raw string) (Location, error) {
	bad := func(format string, args ...any) (Location, error) {
		return Location{}, fmt.Errorf("table URL %q: %s", raw, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("table URL %q: %w", raw, err)
	}
	if u.Scheme != Scheme {
		return bad("want %s://DATABASE/TABLE?warehouse=s3://BUCKET/PREFIX", Scheme)
	}
	if u.User != nil || u.Fragment != "" {
		return bad("no user or fragment allowed")
	}
	l := Location{Database: u.Host, Table: strings.TrimPrefix(u.Path, "/")}
	for _, n := range []string{l.Database, l.Table} {
		if !glueName.MatchString(n) {
			return bad("database and table names must be lower-case letters, digits and _ (got %q)", n)
		}
	}
	q := u.Query()
	for k, v := range q {
		if len(v) != 1 {
			return bad("parameter %s given %d times", k, len(v))
		}
		switch k {
		case "warehouse":
			l.Warehouse = strings.TrimSuffix(v[0], "/")
		case "region":
			l.Region = v[0]
		case "catalog-id":
			l.CatalogID = v[0]
		default:
			return bad("unknown parameter %q (want warehouse, region, catalog-id)", k)
		}
	}
	w, err := url.Parse(l.Warehouse)
	switch {
	case l.Warehouse == "":
		return bad("warehouse=s3://BUCKET/PREFIX is required")
	case err != nil || w.Scheme != "s3" || w.Host == "" || w.RawQuery != "" || w.Fragment != "" ||
		strings.Contains(w.Path, "//") || strings.ContainsAny(w.Path, "%\\?#"):
		return bad("warehouse %q: want s3://BUCKET or s3://BUCKET/PREFIX", l.Warehouse)
	}
	return l, nil
}

// Options holds what a URL cannot say. The zero value is fine.
type Options struct {
	// S3Endpoint is an S3-compatible server for the table's files (path
	// style). Empty: the AWS_ENDPOINT_URL_S3 variable, else AWS's. Glue's
	// endpoint comes from the AWS configuration (AWS_ENDPOINT_URL_GLUE).
	S3Endpoint string
	// Table sets table.Options other than the catalog and the name.
	Table table.Options
}

// Props are the iceberg-go catalog properties of a location: what
// iceberg-go's catalog.Load (type=glue) or PyIceberg's Glue catalog take to
// open the same table. s3Endpoint may be "".
func Props(l Location, region, s3Endpoint string) iceberg.Properties {
	p := iceberg.Properties{
		"type":           "glue",
		"warehouse":      l.Warehouse,
		glue.SkipArchive: "true", // Glue keeps at most so many table versions
	}
	if region != "" {
		p[glue.Region], p[iceio.S3Region] = region, region
	}
	if l.CatalogID != "" {
		p[glue.CatalogIdKey] = l.CatalogID
	}
	if s3Endpoint != "" {
		// iceberg-go's S3 IO reads the endpoint from here (or
		// AWS_S3_ENDPOINT), and uses path-style requests with it.
		p[iceio.S3EndpointURL] = s3Endpoint
	}
	return p
}

// Catalog opens the Glue catalog of a location.
func Catalog(ctx context.Context, l Location, opts *Options) (catalog.Catalog, error) {
	if opts == nil {
		opts = &Options{}
	}
	cfg, err := awsconfig.Load(ctx, l.Region)
	if err != nil {
		return nil, err
	}
	s3Endpoint := opts.S3Endpoint
	if s3Endpoint == "" {
		s3Endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	cat, err := glue.NewCatalog(glue.WithAwsConfig(cfg), glue.WithAwsProperties(glue.AwsProperties(Props(l, cfg.Region, s3Endpoint))))
	if err != nil {
		return nil, fmt.Errorf("glue catalog: %w", err)
	}
	return cat, nil
}

// Open opens the table a URL names, creating the Glue database and the
// table if absent (table.Open). release closes the table and the catalog.
func Open(ctx context.Context, raw string, opts *Options) (tb *table.Table, release func() error, err error) {
	l, err := Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	if opts == nil {
		opts = &Options{}
	}
	cat, err := Catalog(ctx, l, opts)
	if err != nil {
		return nil, nil, err
	}
	to := opts.Table
	to.Catalog, to.Namespace, to.Name, to.Warehouse = cat, l.Database, l.Table, ""
	closeCat := func() error {
		if c, ok := cat.(catalog.Closer); ok {
			return c.Close()
		}
		return nil
	}
	if tb, err = table.Open(ctx, to); err != nil {
		closeCat()
		return nil, nil, fmt.Errorf("%s: %w", l, err)
	}
	return tb, func() error { return errors.Join(tb.Close(), closeCat()) }, nil
}
