package lake

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestNewFileReaderDecompressesByExtension(t *testing.T) {
	const body = `{"event_uuid":"u"}` + "\n"
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	ze, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ze.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := ze.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"events.jsonl", []byte(body)}, {"events.ndjson.gz", gz.Bytes()}, {"events.gz", gz.Bytes()},
		{"events.jsonl.zst", zs.Bytes()}, {"events.txt", []byte(body)},
	} {
		r, err := NewFileReader(tc.name, bytes.NewReader(tc.data))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("%s: close: %v", tc.name, err)
		}
		if string(got) != body {
			t.Errorf("%s: read %q, want %q", tc.name, got, body)
		}
	}
	if _, err := NewFileReader("bad.gz", strings.NewReader("not gzip")); err == nil {
		t.Error("a .gz file that is not gzip was accepted")
	}
}
