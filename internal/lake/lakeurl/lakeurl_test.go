package lakeurl

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/testservers"
)

// TestOpen: every URL form opens the store it names, and that store
// creates, reads and lists. (The stores' whole contract is checked in each
// driver's package with storetest.)
func TestOpen(t *testing.T) {
	ctx := context.Background()
	testservers.Credentials(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name, url string
		opts      *Options
		setup     func(t *testing.T) // may set AWS_ENDPOINT_URL_S3
		want      string             // the store's String()
	}{
		{name: "path", url: filepath.Join(dir, "plain"), want: "file://" + filepath.ToSlash(dir) + "/plain"},
		{name: "relative", url: "./rel", want: "file://" + filepath.ToSlash(dir) + "/rel"},
		{name: "file", url: "file://" + dir + "/file", want: "file://" + filepath.ToSlash(dir) + "/file"},
		{name: "file-fsync", url: "file://" + dir + "/fsync?fsync=true", want: "file://" + filepath.ToSlash(dir) + "/fsync"},
		{name: "file-localhost", url: "file://localhost" + dir + "/lh?fsync=0", want: "file://" + filepath.ToSlash(dir) + "/lh"},
		{name: "mem", url: "mem://", want: "mem://"},
		{name: "s3-endpoint-param", url: "s3://lake/some/prefix?region=eu-west-1&path_style=true&endpoint=", want: "s3://lake/some/prefix/"},
		{name: "s3-endpoint-option", url: "s3://lake/x", opts: &Options{}, want: "s3://lake/x/"},
		{name: "s3-env-endpoint", url: "s3://lake2", setup: func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_S3", testservers.NewS3(t, "lake2").URL)
		}, want: "s3://lake2/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "relative" {
				t.Chdir(dir)
			}
			url, opts := c.url, c.opts
			if strings.HasPrefix(c.name, "s3-endpoint") {
				ep := testservers.NewS3(t, "lake").URL
				if opts != nil {
					opts.S3Endpoint = ep
				} else {
					url += ep
				}
			}
			if c.setup != nil {
				c.setup(t)
			}
			s, err := Open(ctx, url, opts)
			if err != nil {
				t.Fatalf("Open(%q): %v", url, err)
			}
			defer func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			}()
			if !strings.HasPrefix(s.String(), c.want) {
				t.Errorf("String() = %q, want %q", s.String(), c.want)
			}
			roundTrip(t, s)
		})
	}
}

func roundTrip(t *testing.T, s lake.ReadWriteStore) {
	t.Helper()
	ctx := context.Background()
	if err := s.Create(ctx, "a/b.jsonl", []byte("{}\n")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s.Create(ctx, "a/b.jsonl", []byte("{}\n")); !errors.Is(err, lake.ErrExist) {
		t.Errorf("second Create: %v, want ErrExist", err)
	}
	if b, err := s.Read(ctx, "a/b.jsonl"); err != nil || string(b) != "{}\n" {
		t.Errorf("Read = %q, %v", b, err)
	}
	var keys []string
	for e, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		keys = append(keys, e.Key)
	}
	if len(keys) != 1 || keys[0] != "a/b.jsonl" {
		t.Errorf("List = %q, want [a/b.jsonl]", keys)
	}
}

func TestOpenRefusesBadURLs(t *testing.T) {
	ctx := context.Background()
	testservers.Credentials(t)
	for _, u := range []string{
		"", "ftp://host/x", "file://host/x", "file:///tmp/x?fsync=maybe", "file:///tmp/x?color=red",
		"s3:///prefix", "s3://b/x?regoin=eu-west-1", "s3://b/../x", "s3://b/x?path_style=maybe", "mem://?a=b",
		"/proc/no/such/lake", "file:///proc/no/such/lake",
	} {
		s, err := Open(ctx, u, nil)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", u)
		}
		if s != nil {
			t.Errorf("Open(%q) returned a store with its error %v", u, err)
		}
	}
	if _, err := Open(ctx, "/proc/no/such/lake", nil); err == nil || !strings.Contains(err.Error(), "lake folder") {
		t.Errorf("unwritable folder err = %v, want a clear error", err)
	}
}
