package main

import "testing"

func TestLocalLake(t *testing.T) {
	for _, tc := range []struct {
		url, dir string
		local    bool
	}{
		{"./lake", "./lake", true},
		{"/data/lake", "/data/lake", true},
		{"file:///data/lake", "/data/lake", true},
		{"s3://bucket/events", "", false},
		{"mem://", "", false},
	} {
		dir, ok := localLake(tc.url)
		if ok != tc.local || (ok && dir != tc.dir) {
			t.Errorf("localLake(%q) = %q, %v; want %q, %v", tc.url, dir, ok, tc.dir, tc.local)
		}
	}
}
