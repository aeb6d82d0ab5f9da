package function

import (
	"encoding/json"
	"io"
	"time"
)

// CommitMetrics are what one invocation of the table's committer did
// (internal/function/tablecommit), one EMF document each.
type CommitMetrics struct {
	Messages         int   // SQS messages received
	BatchesCommitted int   // staged batches the invocation's snapshot added
	AlreadyCommitted int   // staged batches the table held already (redeliveries)
	Refused          int   // messages reported failed: not a staged batch, or a batch refused
	Attempts         int   // commit attempts (1, plus one per conflict lost)
	Failed           bool  // the commit as a whole failed: every message comes back
	OldestAge        int64 // milliseconds since the oldest staged batch's files were written
	Took             time.Duration
}

// commitMetrics are the committer's EMF metrics, by FunctionName.
var commitMetrics = []metric{
	{"StagedMessages", "Count"}, {"StagedBatchesCommitted", "Count"}, {"StagedBatchesAlreadyCommitted", "Count"},
	{"StagedBatchesRefused", "Count"}, {"TableCommitAttempts", "Count"}, {"TableCommitFailures", "Count"},
	{"OldestStagedAge", "Milliseconds"}, {"TableCommitDuration", "Milliseconds"},
}

// EmitCommit writes the committer's metrics for one invocation to w in
// CloudWatch Embedded Metric Format, in namespace, for the function name.
func EmitCommit(w io.Writer, namespace, name string, m CommitMetrics) error {
	return json.NewEncoder(w).Encode(emfDoc(namespace, []string{"FunctionName"}, commitMetrics, time.Now().UnixMilli(), map[string]any{
		"FunctionName":   name,
		"StagedMessages": m.Messages, "StagedBatchesCommitted": m.BatchesCommitted,
		"StagedBatchesAlreadyCommitted": m.AlreadyCommitted, "StagedBatchesRefused": m.Refused,
		"TableCommitAttempts": m.Attempts, "TableCommitFailures": count(m.Failed),
		"OldestStagedAge": m.OldestAge, "TableCommitDuration": m.Took.Milliseconds(),
	}))
}
