package s3

import (
	"context"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/storetest"
	"github.com/eventlake/eventlake/internal/testservers"
)

// TestConformance runs the store suite against gofakes3, a real S3 API
// server, in a bucket's root and below a prefix.
func TestConformance(t *testing.T) {
	for name, prefix := range map[string]string{"root": "", "prefix": "/some/prefix/"} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) lake.ReadWriteStore {
				testservers.Credentials(t)
				srv := testservers.NewS3(t, "lake")
				s, err := Open(context.Background(), &Config{Bucket: "lake", Prefix: prefix, Endpoint: srv.URL})
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// TestPrefixBelowTheLake: a store below a prefix puts every object there
// and names itself by it.
func TestPrefixBelowTheLake(t *testing.T) {
	testservers.Credentials(t)
	srv := testservers.NewS3(t, "lake")
	ctx := context.Background()
	s, err := Open(ctx, &Config{Bucket: "lake", Prefix: "some/prefix", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	if got, want := s.String(), "s3://lake/some/prefix/"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if err := s.Create(ctx, "a/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	obj, err := srv.Backend.HeadObject("lake", "some/prefix/a/x")
	if err != nil || obj == nil {
		t.Errorf("object not below the prefix: %v", err)
	}
}

// TestLongestPrefix: a prefix of lake.MaxPrefixLen bytes (with its
// trailing slash) is accepted, a longer one refused, so the longest key
// the lake makes fits S3's limit below it (see lake's TestLongestKeyFitsS3).
func TestLongestPrefix(t *testing.T) {
	testservers.Credentials(t)
	prefix := strings.Repeat("p", lake.MaxPrefixLen-1) + "/"
	ctx := context.Background()
	if _, err := Open(ctx, &Config{Bucket: "lake", Prefix: prefix + "x", Endpoint: "http://127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("a prefix over %d bytes: err %v, want refused", lake.MaxPrefixLen, err)
	}
	s, err := Open(ctx, &Config{Bucket: "lake", Prefix: prefix, Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatalf("a prefix of %d bytes refused: %v", lake.MaxPrefixLen, err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestOpenRefusesBadConfigs(t *testing.T) {
	testservers.Credentials(t)
	for _, cfg := range []*Config{nil, {}, {Bucket: "b", Prefix: "../x"}, {Bucket: "b", Prefix: "a//b"}} {
		if s, err := Open(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded, want an error", cfg)
		}
	}
}
