package lake

import "testing"

func TestPartitionPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"event_type=payment": "event_type=payment/",
		"event_type=payment/created_date=2026-11-27/": "event_type=payment/created_date=2026-11-27/",
	} {
		if got, err := PartitionPrefix(in); err != nil || got != want {
			t.Errorf("PartitionPrefix(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"../etc", "event_type=a/../../x", "/event_type=a", "payment/", "event_type=a//b", "_eventlake/compaction/"} {
		if got, err := PartitionPrefix(in); err == nil {
			t.Errorf("PartitionPrefix(%q) = %q, accepted", in, got)
		}
	}
}
