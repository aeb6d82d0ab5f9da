package function

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// emit writes the invocation's metrics in CloudWatch Embedded Metric Format:
// one JSON document per line, which Lambda turns into metrics with no API
// call. Dead letters by reason go in a document per reason.
func (h *Handler) emit(source string, st pipeline.Stats, took, oldestAge time.Duration, failed bool) {
	ts := h.now().UnixMilli()
	doc := func(dims []string, fields map[string]any, metrics []metric) map[string]any {
		fields["FunctionName"], fields["Source"] = h.name, source
		return emfDoc(h.cfg.MetricsNamespace, dims, metrics, ts, fields)
	}
	enc := json.NewEncoder(h.metrics)
	enc.Encode(doc([]string{"FunctionName", "Source"}, map[string]any{
		"EventsIn": st.In, "Written": st.Written, "AlreadyPresent": st.AlreadyPresent,
		"DeadLetters": st.DeadLetters, "Duplicates": st.Duplicates, "Unwritten": st.Unwritten,
		"Objects": st.Objects, "Bytes": st.BytesOut, "FailedBatches": count(failed),
		"Duration": took.Milliseconds(), "OldestRecordAge": oldestAge.Milliseconds(),
	}, landMetrics))
	reasons := make([]event.Reason, 0, len(st.DeadByReason))
	for r := range st.DeadByReason {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return reasons[i] < reasons[j] })
	for _, r := range reasons {
		enc.Encode(doc([]string{"FunctionName", "Source", "Reason"}, map[string]any{
			"Reason": r, "DeadLetters": st.DeadByReason[r],
		}, []metric{{"DeadLetters", "Count"}}))
	}
}

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// emfDoc makes fields an EMF document: the metadata by which CloudWatch
// reads the metrics, by the dimensions dims, in namespace, at ts (Unix
// milliseconds), from the fields of the same names.
func emfDoc(namespace string, dims []string, metrics []metric, ts int64, fields map[string]any) map[string]any {
	fields["_aws"] = map[string]any{
		"Timestamp": ts,
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  namespace,
			"Dimensions": [][]string{dims},
			"Metrics":    metrics,
		}},
	}
	return fields
}

// count is 1 for true, as a metric counts an event.
func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// landMetrics are the landing function's counts, one document per batch.
var landMetrics = []metric{
	{"EventsIn", "Count"}, {"Written", "Count"}, {"AlreadyPresent", "Count"}, {"DeadLetters", "Count"},
	{"Duplicates", "Count"}, {"Unwritten", "Count"}, {"Objects", "Count"}, {"Bytes", "Bytes"},
	{"FailedBatches", "Count"}, {"Duration", "Milliseconds"}, {"OldestRecordAge", "Milliseconds"},
}

// MetricSet is metrics the functions emit together, under one set of
// dimensions.
type MetricSet struct {
	Dimensions []string
	Metrics    []string
	// Table: emitted only by a compaction function that maintains the
	// Iceberg table (EVENTLAKE_TABLE set).
	Table bool
	// Committer: emitted only by the table's committer (handler commit).
	Committer bool
}

// Metrics lists every EMF metric the functions emit, in the namespace
// EVENTLAKE_METRICS_NAMESPACE names: the Terraform dashboard shows each of
// them and no other (a test in deploy/terraform checks it), and a test
// here checks the list against what the functions write.
var Metrics = []MetricSet{
	{Dimensions: []string{"FunctionName", "Source"}, Metrics: metricNames(landMetrics)},
	{Dimensions: []string{"FunctionName", "Source", "Reason"}, Metrics: []string{"DeadLetters"}},
	{Dimensions: []string{"FunctionName"}, Metrics: []string{"CompactedObjects", "CompactedBytes", "WrittenObjects",
		"DuplicatesRemoved", "DeletedObjects", "CompactionFailures", "CompactionDuration"}},
	{Dimensions: []string{"FunctionName"}, Metrics: metricNames(tableMetrics), Table: true},
	{Dimensions: []string{"FunctionName"}, Metrics: metricNames(commitMetrics), Committer: true},
}

// MetricSources are the values of the dimension Source.
var MetricSources = []string{"kinesis", "sqs"}

func metricNames(ms []metric) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}
