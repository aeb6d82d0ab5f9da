package lake_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/mem"
)

func TestPartitionPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"event_type=payment": "event_type=payment/",
		"event_type=payment/created_date=2026-11-27/": "event_type=payment/created_date=2026-11-27/",
	} {
		if got, err := lake.PartitionPrefix(in); err != nil || got != want {
			t.Errorf("PartitionPrefix(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"../etc", "event_type=a/../../x", "/event_type=a", "payment/", "event_type=a//b", "eventlake-compaction/"} {
		if got, err := lake.PartitionPrefix(in); err == nil {
			t.Errorf("PartitionPrefix(%q) = %q, accepted", in, got)
		}
	}
}

// TestManifestPrefixIsNotHidden: Athena and Hive skip paths with a segment
// beginning with '_' or '.', so the manifests' folder must have none, and
// it must never be taken for a partition or the dead letters, nor be
// listed as part of the lake's data.
func TestManifestPrefixIsNotHidden(t *testing.T) {
	for seg := range strings.SplitSeq(strings.TrimSuffix(lake.ManifestPrefix, "/"), "/") {
		if seg == "" || strings.HasPrefix(seg, "_") || strings.HasPrefix(seg, ".") {
			t.Errorf("ManifestPrefix %q has the hidden segment %q", lake.ManifestPrefix, seg)
		}
	}
	if strings.HasPrefix(lake.ManifestPrefix, "event_type=") || strings.HasPrefix(lake.ManifestPrefix, lake.DeadLetterPrefix) || strings.HasPrefix(lake.DeadLetterPrefix, lake.ManifestPrefix) {
		t.Errorf("ManifestPrefix %q can be taken for a partition or the dead letters", lake.ManifestPrefix)
	}
	ctx := context.Background()
	r := mem.New()
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	const obj = "event_type=a/x.jsonl"
	m := &lake.Manifest{Partition: "event_type=a/", Seq: 1}
	for key, body := range map[string][]byte{obj: []byte("{}\n"), lake.ManifestKey("event_type=a/", 1): m.Encode()} {
		if err := r.Create(ctx, key, body); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := lake.Snapshot(ctx, r, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != 1 || snap[0].Key != obj {
		t.Errorf("Snapshot = %v, want only %s", snap, obj)
	}
}
