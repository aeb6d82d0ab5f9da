package cost

import (
	"math"
	"strings"
	"testing"
)

func line(t *testing.T, e Estimate, item string) Line {
	t.Helper()
	for _, l := range e.Lines {
		if l.Item == item {
			return l
		}
	}
	t.Fatalf("%s has no line %q", e.Name, item)
	return Line{}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestFirehoseRoundsRecordsTo5KiB: a 500-byte event is billed as 5 KiB.
func TestFirehoseRoundsRecordsTo5KiB(t *testing.T) {
	tr := Traffic{EventsPerHour: 1e6, EventBytes: 500}
	got := line(t, Firehose(USEast1, tr), "Firehose ingest (5 KiB rounding)").USD
	want := 1e6 * 730 * 5120 / 1e9 * USEast1.FirehoseIngestGB
	if !near(got, want) {
		t.Fatalf("ingest = %v, want %v", got, want)
	}
	// An event of exactly 5 KiB costs the same, one byte more costs double.
	a := line(t, Firehose(USEast1, Traffic{EventsPerHour: 1e6, EventBytes: 5120}), "Firehose ingest (5 KiB rounding)").USD
	b := line(t, Firehose(USEast1, Traffic{EventsPerHour: 1e6, EventBytes: 5121}), "Firehose ingest (5 KiB rounding)").USD
	if !near(a, want) || !near(b, 2*want) {
		t.Fatalf("5120 B -> %v, 5121 B -> %v; want %v and %v", a, b, want, 2*want)
	}
}

func TestKinesisOnDemandRoundsTo1KiB(t *testing.T) {
	got := line(t, Eventlake(USEast1, Traffic{EventsPerHour: 1e6, EventBytes: 500}, false), "Kinesis ingest (1 KiB rounding)").USD
	want := 1e6 * 730 * 1024 / 1e9 * USEast1.KinesisOnDemandIngestGB
	if !near(got, want) {
		t.Fatalf("ingest = %v, want %v", got, want)
	}
}

func TestShards(t *testing.T) {
	for _, tc := range []struct {
		eph, bytes float64
		want       int
	}{
		{1e3, 500, 1},
		{1e6, 500, 1},    // 278/s, 0.14 MB/s -> 0.56 with headroom
		{1e9, 500, 556},  // 278k records/s: records bind (278 x 2)
		{1e7, 10000, 56}, // 27.8 MB/s: bytes bind (27.8 x 2)
	} {
		if got := Shards(Traffic{EventsPerHour: tc.eph, EventBytes: tc.bytes}); got != tc.want {
			t.Errorf("Shards(%g/h, %g B) = %d, want %d", tc.eph, tc.bytes, got, tc.want)
		}
	}
}

// TestBatchesFollowTraffic: at high traffic batches are full; at low
// traffic one per window per shard (never more than one per event).
func TestBatchesFollowTraffic(t *testing.T) {
	hi := Traffic{EventsPerHour: 1e9, BatchSize: 1000, WindowSeconds: 5}
	if got := batchesPerHour(hi, 556); !near(got, 1e6) {
		t.Errorf("high traffic: %v batches/h, want 1e6", got)
	}
	lo := Traffic{EventsPerHour: 1000, BatchSize: 1000, WindowSeconds: 5}
	if got := batchesPerHour(lo, 4); got != 1000 {
		t.Errorf("low traffic: %v batches/h, want one per event (1000)", got)
	}
	mid := Traffic{EventsPerHour: 1e6, BatchSize: 1000, WindowSeconds: 5}
	if got := batchesPerHour(mid, 4); !near(got, 4*720) {
		t.Errorf("1M/h: %v batches/h, want 4 shards x 720 windows", got)
	}
}

func TestTotalsScaleWithTraffic(t *testing.T) {
	prev := 0.0
	for _, eph := range []float64{1e3, 1e6, 1e9} {
		tot := Eventlake(USEast1, Traffic{EventsPerHour: eph}, false).Total()
		if tot <= prev {
			t.Fatalf("%g events/h cost %v, not more than %v", eph, tot, prev)
		}
		prev = tot
	}
}

// TestCompactionIsCounted: the compaction lines are there and grow with the
// events; at 1M events/hour they are small beside landing.
func TestCompactionIsCounted(t *testing.T) {
	find := func(eph float64) float64 {
		t.Helper()
		for _, l := range Eventlake(USEast1, Traffic{EventsPerHour: eph}, true).Lines {
			if strings.HasPrefix(l.Item, "Compaction Lambda") {
				return l.USD
			}
		}
		t.Fatal("no compaction line")
		return 0
	}
	a, b := find(1e6), find(1e9)
	// 1M/h: 730M events x 12 µs x 2 GB = 17,520 GB-s, plus 73,730 requests.
	if want := 730e6*12e-6*2*USEast1.LambdaArmGBSecond + 730*101/1e6*USEast1.LambdaRequestsMillion; !near(a, want) {
		t.Errorf("compaction at 1M/h = $%.4f, want $%.4f", a, want)
	}
	if b < 900*a {
		t.Errorf("compaction at 1B/h = $%.2f, not ~1000x the $%.4f at 1M/h", b, a)
	}
}

// TestKeyingByTypeCutsObjects: at 1000x, keying by event type (4 buckets a
// type) makes each batch write a few objects instead of one per type.
func TestKeyingByTypeCutsObjects(t *testing.T) {
	puts := func(spread int) float64 {
		t.Helper()
		for _, l := range Eventlake(USEast1, Traffic{EventsPerHour: 1e9, KeySpread: spread}, true).Lines {
			if strings.HasPrefix(l.Item, "S3 PUT") {
				return l.USD
			}
		}
		t.Fatal("no PUT line")
		return 0
	}
	byUUID, byType := puts(0), puts(4)
	shards := Shards(Traffic{EventsPerHour: 1e9}.Defaults())
	perShard := math.Ceil(float64(100*4) / float64(shards))
	if want := byUUID * perShard / 100; !near(byType, want) {
		t.Errorf("PUTs keyed by type $%.0f, want $%.0f (%g types a shard of %d instead of 100)", byType, want, perShard, shards)
	}
	// At 1M/h (2 shards) every shard still carries every type: no change.
	a := Eventlake(USEast1, Traffic{EventsPerHour: 1e6}, true).Total()
	b := Eventlake(USEast1, Traffic{EventsPerHour: 1e6, KeySpread: 4}, true).Total()
	if !near(a, b) {
		t.Errorf("at 1M/h keying by type changed the total: $%.2f -> $%.2f", a, b)
	}
}

// TestTableCommitsOncePerBatch: the table makes one commit per Lambda
// batch, each writing its data files and three metadata files, and asks
// Glue three times per commit.
func TestTableCommitsOncePerBatch(t *testing.T) {
	tr := Traffic{EventsPerHour: 1e6, EventBytes: 500, Types: 100}.Defaults()
	e := Table(USEast1, tr, true)
	batches := batchesPerHour(tr, Shards(tr)) * hoursPerMonth
	if got := Load(tr, true).CommitsPerHour * hoursPerMonth; !near(got, batches) {
		t.Fatalf("commits/month = %v, want one per batch (%v)", got, batches)
	}
	files := batches * math.Min(100, tr.EventsPerHour*hoursPerMonth/batches)
	put := line(t, e, "S3 PUT: data files + 3 metadata files per commit").USD
	if want := (files + 3*batches) / 1000 * USEast1.S3PutThousand; !near(put, want) {
		t.Fatalf("PUT = %v, want %v", put, want)
	}
	// The stream costs what it costs without the table.
	if a, b := line(t, e, "Kinesis shard-hours").USD, line(t, Eventlake(USEast1, tr, true), "Kinesis shard-hours").USD; a != b {
		t.Fatalf("shard-hours differ: %v vs %v", a, b)
	}
	// Under the free million, Glue costs nothing; 1000x pays per request.
	if g := line(t, e, "Glue requests (GetTable x2, UpdateTable per commit)").USD; g != 0 {
		t.Fatalf("1M/h: Glue = $%v, want 0 (under the free tier)", g)
	}
	big := Traffic{EventsPerHour: 1e9, EventBytes: 500, Types: 100}
	if g := line(t, Table(USEast1, big, true), "Glue requests (GetTable x2, UpdateTable per commit)").USD; g <= 0 {
		t.Fatalf("1000x: Glue = $%v, want a charge", g)
	}
}

// TestTableBusyAtScale: one commit per shard per batch keeps a table idle
// at 1M events/hour and saturates it at 1000x, where commits must go
// through one committer per table (docs/iceberg.md).
func TestTableBusyAtScale(t *testing.T) {
	lo := Load(Traffic{EventsPerHour: 1e6, EventBytes: 500}, true)
	hi := Load(Traffic{EventsPerHour: 1e9, EventBytes: 500}, true)
	if lo.Busy >= 0.05 {
		t.Errorf("1M/h: table busy %.3f, want well under 5%%", lo.Busy)
	}
	if hi.Busy < 1 {
		t.Errorf("1000x: table busy %.3f, want saturated (>= 1)", hi.Busy)
	}
	if !near(hi.Busy, hi.CommitsPerHour/3600*0.4) {
		t.Errorf("busy %v is not commits/s x 0.4 s", hi.Busy)
	}
}

// TestCommitterKeepsTheTableIdle: through the committer, 1000x makes one
// commit per CommitBatchSize batches (a hundredth of the direct path's) and
// leaves the table mostly idle; at 1M events/hour, where batches are
// rarer than windows, a commit per batch. The landing invocations no
// longer commit: their Lambda time drops by the commits'.
func TestCommitterKeepsTheTableIdle(t *testing.T) {
	hiT := Traffic{EventsPerHour: 1e9, EventBytes: 500}.Defaults()
	hi := CommitterLoad(hiT, true)
	direct := Load(hiT, true)
	if !near(hi.CommitsPerHour, direct.CommitsPerHour/hiT.CommitBatchSize) || hi.Busy >= 0.5 || direct.Busy < 1 {
		t.Errorf("1000x: %+v through the committer, %+v direct", hi, direct)
	}
	loT := Traffic{EventsPerHour: 1e6, EventBytes: 500}.Defaults()
	if lo, d := CommitterLoad(loT, true), Load(loT, true); !near(lo.CommitsPerHour, d.CommitsPerHour) {
		t.Errorf("1M/h: %v commits/hour through the committer, %v batches", lo.CommitsPerHour, d.CommitsPerHour)
	}
	e := TableCommitter(USEast1, hiT, true)
	glue := line(t, e, "Glue requests (GetTable per batch; 3 per commit)").USD
	directGlue := line(t, Table(USEast1, hiT, true), "Glue requests (GetTable x2, UpdateTable per commit)").USD
	if glue <= 0 || glue >= directGlue/2 {
		t.Errorf("1000x Glue: $%v through the committer, $%v direct", glue, directGlue)
	}
	if line(t, e, "SQS: a staged batch per landed batch, the mapping's polls").USD <= 0 {
		t.Error("no SQS charge for the staged batches")
	}
}
