package function

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestMetricsListIsWhatTheFunctionsEmit: Metrics and MetricSources name
// exactly the metrics, dimension sets and sources the landing function
// (Kinesis and SQS, with dead letters), the compaction function and the
// table's committer (EmitCommit) write;
// the table maintenance's set is checked by TestScheduledTableMaintenance.
func TestMetricsListIsWhatTheFunctionsEmit(t *testing.T) {
	ctx := context.Background()
	var emf bytes.Buffer
	h, store, metrics := newHandler(t, &queue{})
	for _, f := range []string{"testdata/kinesis-event.json", "testdata/sqs-event.json"} {
		payload, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Invoke(ctx, payload); err != nil {
			t.Fatal(err)
		}
	}
	emf.Write(metrics.Bytes())
	c, cm := compactor(t, store, nil)
	if _, err := c.Invoke(ctx, scheduled(t)); err != nil {
		t.Fatal(err)
	}
	emf.Write(cm.Bytes())
	if err := EmitCommit(&emf, "eventlake", "eventlake-commit", CommitMetrics{Messages: 1}); err != nil {
		t.Fatal(err)
	}

	got := map[string]bool{} // "dim,dim/Metric"
	sources := map[string]bool{}
	sc := bufio.NewScanner(&emf)
	for sc.Scan() {
		var doc struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Dimensions [][]string
					Metrics    []struct{ Name string }
				}
			} `json:"_aws"`
			Source string
		}
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("EMF line %s: %v", sc.Bytes(), err)
		}
		if doc.Source != "" {
			sources[doc.Source] = true
		}
		for _, cw := range doc.AWS.CloudWatchMetrics {
			for _, dims := range cw.Dimensions {
				for _, m := range cw.Metrics {
					got[strings.Join(dims, ",")+"/"+m.Name] = true
				}
			}
		}
	}
	want := map[string]bool{}
	for _, set := range Metrics {
		if set.Table {
			continue
		}
		for _, m := range set.Metrics {
			want[strings.Join(set.Dimensions, ",")+"/"+m] = true
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("the functions emit %s, which Metrics does not list", k)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("Metrics lists %s, which the functions do not emit", k)
		}
	}
	for s := range sources {
		if !slices.Contains(MetricSources, s) {
			t.Errorf("the functions emit Source=%s, which MetricSources does not list", s)
		}
	}
	if len(sources) != len(MetricSources) {
		t.Errorf("sources emitted %v, MetricSources %v", sources, MetricSources)
	}
}
