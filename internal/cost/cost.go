// Package cost estimates the monthly AWS bill of an eventlake deployment
// and of Amazon Data Firehose with dynamic partitioning for the same
// traffic, from one table of list prices. It is arithmetic only: every
// assumption is a field of Traffic or a line of Prices, printed with the
// result.
package cost

import (
	"fmt"
	"math"
)

// Prices are us-east-1 list prices in USD.
type Prices struct {
	Date string // when these were read from the public pricing pages

	KinesisOnDemandStreamHour float64 // per stream-hour
	KinesisOnDemandIngestGB   float64 // per GB, each record rounded up to 1 KiB
	KinesisOnDemandReadGB     float64 // per GB retrieved (shared-throughput consumers)
	KinesisShardHour          float64 // provisioned, per shard-hour
	KinesisPutUnitMillion     float64 // provisioned, per million 25 KiB PUT payload units

	LambdaArmGBSecond     float64 // arm64
	LambdaRequestsMillion float64

	S3PutThousand      float64 // PUT, COPY, POST, LIST
	S3GetThousand      float64 // GET, SELECT and others
	S3StandardGBMonth  float64
	SQSRequestsMillion float64 // standard queue, per 64 KiB chunk
	KMSKeyMonth        float64
	KMSRequests10k     float64

	GlueRequestsMillion  float64 // Data Catalog requests, above the first million a month
	GlueObjects100kMonth float64 // Data Catalog storage, per 100,000 objects above the first million

	FirehoseIngestGB         float64 // direct PUT / KDS source, first 500 TB, 5 KiB rounding per record
	FirehoseDynPartGB        float64 // dynamic partitioning, per GB delivered
	FirehoseDynPartObjects1k float64 // per 1,000 S3 objects delivered
	FirehoseJQHour           float64 // JQ parsing of partition keys, per hour
}

// USEast1 is the price table. Update Date with the numbers.
var USEast1 = Prices{
	Date:                      "2025-11 (aws.amazon.com pricing pages, us-east-1)",
	KinesisOnDemandStreamHour: 0.04,
	KinesisOnDemandIngestGB:   0.08,
	KinesisOnDemandReadGB:     0.04,
	KinesisShardHour:          0.015,
	KinesisPutUnitMillion:     0.014,
	LambdaArmGBSecond:         0.0000133334,
	LambdaRequestsMillion:     0.20,
	S3PutThousand:             0.005,
	S3GetThousand:             0.0004,
	S3StandardGBMonth:         0.023,
	SQSRequestsMillion:        0.40,
	KMSKeyMonth:               1.0,
	KMSRequests10k:            0.03,
	GlueRequestsMillion:       1.0,
	GlueObjects100kMonth:      1.0,
	FirehoseIngestGB:          0.029,
	FirehoseDynPartGB:         0.020,
	FirehoseDynPartObjects1k:  0.005,
	FirehoseJQHour:            0.07,
}

// Traffic and deployment assumptions.
type Traffic struct {
	EventsPerHour float64
	EventBytes    float64 // average event size as sent
	Types         int     // event types (partitions per day)
	BatchSize     int     // records per Lambda invocation (Kinesis)
	// KeySpread > 0: producers key records by event type and one of
	// KeySpread buckets (gen --partition-key type:N), so a shard carries
	// about Types*KeySpread/shards event types; 0: keyed by event_uuid, every
	// shard carries every type.
	KeySpread        int
	WindowSeconds    float64 // batching window
	LambdaMemoryMB   float64
	CompressionRatio float64 // stored bytes = input bytes / ratio (gzip on JSON: 6-10)
	BadFraction      float64 // share of events that become dead letters
	// Lambda duration per batch: a fixed part (S3 round trips, in
	// parallel) plus a part per event.
	FixedMsPerBatch   float64
	MicrosPerEvent    float64
	FirehoseBufferSec float64 // Firehose buffer interval (60..900)
	// Compaction, hourly, one invocation per event type: Lambda time per
	// event at CompactMemoryMB (measured: ~13 µs of core time per event,
	// gzip in and out; a 2 GB function has ~1.15 vCPU).
	CompactMicrosPerEvent float64
	CompactMemoryMB       float64
	// The Iceberg table (Table): Lambda time per event to encode Parquet
	// (measured: Parquet landing ~3x the CPU of NDJSON), and how long one
	// commit holds the table (load metadata, write manifest, manifest list
	// and metadata JSON, swap in Glue: ~5 S3/Glue round trips).
	TableMicrosPerEvent float64
	CommitSeconds       float64
	// The table's committer (TableCommitter): the most staged batches one
	// invocation commits, and how long its SQS mapping gathers them
	// (deploy/terraform: iceberg_commit_batch_size, _window_seconds).
	CommitBatchSize float64
	CommitWindowSec float64
}

// Defaults fills zero fields.
func (t Traffic) Defaults() Traffic {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&t.EventBytes, 500)
	def(&t.LambdaMemoryMB, 512)
	def(&t.CompressionRatio, 8)
	def(&t.FixedMsPerBatch, 60)
	def(&t.MicrosPerEvent, 4) // ~1 µs measured on a full core; 512 MB is a third of a vCPU
	def(&t.FirehoseBufferSec, 60)
	def(&t.CompactMicrosPerEvent, 12)
	def(&t.CompactMemoryMB, 2048)
	def(&t.TableMicrosPerEvent, 12)
	def(&t.CommitSeconds, 0.4)
	def(&t.CommitBatchSize, 100)
	def(&t.CommitWindowSec, 10)
	if t.Types == 0 {
		t.Types = 100
	}
	if t.BatchSize == 0 {
		t.BatchSize = 10000
	}
	if t.WindowSeconds == 0 {
		t.WindowSeconds = 60
	}
	return t
}

// Line is one item of an estimate.
type Line struct {
	Item     string
	Quantity string
	USD      float64
}

// Estimate is a monthly bill.
type Estimate struct {
	Name  string
	Lines []Line
}

// Total sums the lines.
func (e Estimate) Total() float64 {
	s := 0.0
	for _, l := range e.Lines {
		s += l.USD
	}
	return s
}

const hoursPerMonth = 730

func gb(bytes float64) float64 { return bytes / 1e9 }

func roundUp(bytes, unit float64) float64 { return math.Ceil(bytes/unit) * unit }

// ShardHeadroom is how many times the average write rate a provisioned
// stream is sized for, so that peaks are not throttled.
const ShardHeadroom = 2

// Shards is the provisioned shard count for the traffic: 1 MB/s and 1000
// records/s of writes per shard, times ShardHeadroom. The Terraform
// configuration sizes its stream the same way from expected_events_per_hour
// and expected_event_bytes (a test in deploy/terraform checks it).
func Shards(t Traffic) int {
	perSec := t.EventsPerHour / 3600
	byBytes := perSec * t.EventBytes / 1e6
	byRecords := perSec / 1000
	return max(1, int(math.Ceil(ShardHeadroom*math.Max(byBytes, byRecords))))
}

// Batches per hour the Kinesis mapping invokes: full batches, or one per
// window per shard when traffic is low.
func batchesPerHour(t Traffic, shards int) float64 {
	full := t.EventsPerHour / float64(t.BatchSize)
	windowed := float64(shards) * 3600 / math.Max(t.WindowSeconds, 1)
	return math.Min(t.EventsPerHour, math.Max(full, windowed))
}

// Eventlake estimates our deployment; provisioned chooses the stream mode.
func Eventlake(p Prices, t Traffic, provisioned bool) Estimate {
	t = t.Defaults()
	events := t.EventsPerHour * hoursPerMonth
	bytes := events * t.EventBytes
	shards := Shards(t)
	read := mappingShards(t, provisioned) // on-demand starts at 4 shards' capacity
	e := Estimate{Name: "eventlake (Kinesis on-demand)"}
	if provisioned {
		e.Name = "eventlake (Kinesis provisioned)"
		units := events * math.Ceil(t.EventBytes/25600)
		e.Lines = append(e.Lines,
			Line{"Kinesis shard-hours", fmt.Sprintf("%d shards x %d h", shards, hoursPerMonth), float64(shards) * hoursPerMonth * p.KinesisShardHour},
			Line{"Kinesis PUT payload units", fmt.Sprintf("%.3g million", units/1e6), units / 1e6 * p.KinesisPutUnitMillion})
	} else {
		e.Lines = append(e.Lines,
			Line{"Kinesis stream-hours", fmt.Sprintf("%d h", hoursPerMonth), hoursPerMonth * p.KinesisOnDemandStreamHour},
			Line{"Kinesis ingest (1 KiB rounding)", fmt.Sprintf("%.3g GB", gb(events*roundUp(t.EventBytes, 1024))), gb(events*roundUp(t.EventBytes, 1024)) * p.KinesisOnDemandIngestGB},
			Line{"Kinesis read by Lambda", fmt.Sprintf("%.3g GB", gb(bytes)), gb(bytes) * p.KinesisOnDemandReadGB})
	}
	batches := batchesPerHour(t, read) * hoursPerMonth
	perBatch := events / batches
	seconds := batches * (t.FixedMsPerBatch/1000 + perBatch*t.MicrosPerEvent/1e6)
	gbs := seconds * t.LambdaMemoryMB / 1024
	typesPerBatch := float64(t.Types)
	if t.KeySpread > 0 {
		typesPerBatch = math.Min(typesPerBatch, math.Ceil(float64(t.Types*t.KeySpread)/float64(read)))
	}
	objects := batches * math.Min(typesPerBatch, perBatch)
	stored := bytes / t.CompressionRatio
	dead := events * t.BadFraction
	e.Lines = append(e.Lines,
		Line{"Lambda requests", fmt.Sprintf("%.3g million batches", batches/1e6), batches / 1e6 * p.LambdaRequestsMillion},
		Line{"Lambda GB-seconds (arm64)", fmt.Sprintf("%.3g GB-s (%.0f events/batch)", gbs, perBatch), gbs * p.LambdaArmGBSecond},
		Line{"S3 PUT (one object per partition per batch)", fmt.Sprintf("%.3g million objects", objects/1e6), objects / 1000 * p.S3PutThousand},
		Line{"S3 storage of the month's data", fmt.Sprintf("%.3g GB compressed", gb(stored)), gb(stored) * p.S3StandardGBMonth},
		Line{"SQS: new-data notices (send+receive+delete), dead letters", fmt.Sprintf("%.3g million requests", (3*objects+dead)/1e6), (3*objects + dead) / 1e6 * p.SQSRequestsMillion},
		Line{"KMS key and requests (bucket key)", fmt.Sprintf("1 key, %.3g k requests", (objects/100+batches)/1000), p.KMSKeyMonth + (objects/100+batches)/1e4*p.KMSRequests10k},
	)
	// Compaction: every event is read and written once more; each landed
	// object is read once (GET) and listed; each hourly run writes about
	// one object and one manifest per event type and day touched, and
	// fans out one SQS message per event type.
	runs := float64(hoursPerMonth)
	invocations := runs * float64(1+t.Types)
	compactGBs := events * t.CompactMicrosPerEvent / 1e6 * t.CompactMemoryMB / 1024
	puts := runs * float64(t.Types) * 2
	lists := objects/1000 + runs*float64(t.Types)
	e.Lines = append(e.Lines,
		Line{"Compaction Lambda (hourly, one run per event type)", fmt.Sprintf("%.3g GB-s, %.3g k requests", compactGBs, invocations/1000),
			compactGBs*p.LambdaArmGBSecond + invocations/1e6*p.LambdaRequestsMillion},
		Line{"Compaction S3 GET, LIST, PUT; SQS fan-out", fmt.Sprintf("%.3g M GET, %.3g k LIST+PUT", objects/1e6, (lists+puts)/1000),
			objects/1000*p.S3GetThousand + (lists+puts)/1000*p.S3PutThousand + 3*runs*float64(t.Types)/1e6*p.SQSRequestsMillion},
	)
	return e
}

// Firehose estimates Amazon Data Firehose (direct PUT) with dynamic
// partitioning by event type, delivering to the same bucket.
func Firehose(p Prices, t Traffic) Estimate {
	t = t.Defaults()
	events := t.EventsPerHour * hoursPerMonth
	bytes := events * t.EventBytes
	billed := events * roundUp(t.EventBytes, 5*1024)
	// Each active partition flushes at the buffer interval (or at 64 MB).
	perPartitionPerFlush := t.EventsPerHour / float64(t.Types) * t.FirehoseBufferSec / 3600 * t.EventBytes
	flushesPerHour := 3600 / t.FirehoseBufferSec * math.Max(1, perPartitionPerFlush/64e6)
	objects := math.Min(events, float64(t.Types)*flushesPerHour*hoursPerMonth)
	stored := bytes / t.CompressionRatio
	return Estimate{Name: "Amazon Data Firehose + dynamic partitioning", Lines: []Line{
		{"Firehose ingest (5 KiB rounding)", fmt.Sprintf("%.3g GB billed for %.3g GB sent", gb(billed), gb(bytes)), gb(billed) * p.FirehoseIngestGB},
		{"Dynamic partitioning, per GB", fmt.Sprintf("%.3g GB", gb(bytes)), gb(bytes) * p.FirehoseDynPartGB},
		{"Dynamic partitioning, per object", fmt.Sprintf("%.3g million objects", objects/1e6), objects / 1000 * p.FirehoseDynPartObjects1k},
		{"JQ parsing of event_type", fmt.Sprintf("%d h", hoursPerMonth), hoursPerMonth * p.FirehoseJQHour},
		{"S3 PUT", fmt.Sprintf("%.3g million objects", objects/1e6), objects / 1000 * p.S3PutThousand},
		{"S3 storage of the month's data", fmt.Sprintf("%.3g GB compressed", gb(stored)), gb(stored) * p.S3StandardGBMonth},
		{"Enrichment (created_datetime, event_type, event_subtype)", "needs a transform Lambda, not counted", 0},
	}}
}

// TableLoad is what per-batch commits ask of one Iceberg table.
type TableLoad struct {
	CommitsPerHour float64
	// Busy is commits per second times CommitSeconds: the share of time
	// the table's one pointer is being swapped. Near or above 1, commits
	// from many writers conflict and retry more than they land.
	Busy float64
}

// Load is the commit load of landing every Lambda batch as one commit.
func Load(t Traffic, provisioned bool) TableLoad {
	t = t.Defaults()
	cph := batchesPerHour(t, mappingShards(t, provisioned))
	return TableLoad{CommitsPerHour: cph, Busy: cph / 3600 * t.CommitSeconds}
}

// mappingShards is how many shards the event source mapping reads: the
// provisioned count, or on-demand's at least 4.
func mappingShards(t Traffic, provisioned bool) int {
	if provisioned {
		return Shards(t)
	}
	return max(4, Shards(t))
}

// Table estimates landing into the Iceberg table on S3 with the Glue
// catalog instead of raw NDJSON objects: the same stream and Lambda
// invocations; Parquet data files (one per partition per batch) plus a
// manifest, a manifest list and a metadata file per commit; Glue requests
// (load, then check and swap, per commit); and maintenance that rewrites
// every event once more, as compaction does.
func Table(p Prices, t Traffic, provisioned bool) Estimate {
	t = t.Defaults()
	base := Eventlake(p, t, provisioned)
	e := Estimate{Name: base.Name + " into an Iceberg table (Glue)"}
	e.Lines = append(e.Lines, base.Lines[:streamLines(provisioned)]...)
	events := t.EventsPerHour * hoursPerMonth
	shards := mappingShards(t, provisioned)
	commits := batchesPerHour(t, shards) * hoursPerMonth
	perBatch := events / commits
	files := dataFiles(t, shards, commits)
	seconds := commits*(t.FixedMsPerBatch/1000+t.CommitSeconds) + events*t.TableMicrosPerEvent/1e6
	gbs := seconds * t.LambdaMemoryMB / 1024
	// Parquet of these events is ~24% of their JSON (docs/iceberg.md), about
	// gzip's size: the same stored bytes.
	stored := events * t.EventBytes / t.CompressionRatio
	glue := commits * 3
	load := Load(t, provisioned)
	e.Lines = append(e.Lines,
		Line{"Lambda requests", fmt.Sprintf("%.3g million batches", commits/1e6), commits / 1e6 * p.LambdaRequestsMillion},
		Line{"Lambda GB-seconds (arm64, Parquet + commit)", fmt.Sprintf("%.3g GB-s (%.0f events/commit)", gbs, perBatch), gbs * p.LambdaArmGBSecond},
		Line{"S3 PUT: data files + 3 metadata files per commit", fmt.Sprintf("%.3g million objects", (files+3*commits)/1e6), (files + 3*commits) / 1000 * p.S3PutThousand},
		Line{"S3 GET: metadata, manifest list, manifest per commit", fmt.Sprintf("%.3g million", 3*commits/1e6), 3 * commits / 1000 * p.S3GetThousand},
		Line{"S3 storage of the month's data", fmt.Sprintf("%.3g GB Parquet", gb(stored)), gb(stored) * p.S3StandardGBMonth},
		Line{"Glue requests (GetTable x2, UpdateTable per commit)", fmt.Sprintf("%.3g million; %.3g commits/s, table busy %.0f%%", glue/1e6, load.CommitsPerHour/3600, 100*load.Busy),
			math.Max(0, glue-1e6) / 1e6 * p.GlueRequestsMillion},
	)
	compactGBs := events * t.CompactMicrosPerEvent / 1e6 * t.CompactMemoryMB / 1024
	runs := float64(hoursPerMonth) * float64(t.Types)
	e.Lines = append(e.Lines,
		Line{"Table maintenance (hourly rewrite per event type)", fmt.Sprintf("%.3g GB-s, %.3g M GET", compactGBs, files/1e6),
			compactGBs*p.LambdaArmGBSecond + runs/1e6*p.LambdaRequestsMillion + files/1000*p.S3GetThousand + runs*4/1000*p.S3PutThousand},
	)
	return e
}

// CommitterLoad is the commit load through the table's committer: one
// commit per invocation, which takes up to CommitBatchSize staged batches
// gathered for CommitWindowSec (a commit per window at low volume).
func CommitterLoad(t Traffic, provisioned bool) TableLoad {
	t = t.Defaults()
	cph := committerInvocations(t, batchesPerHour(t, mappingShards(t, provisioned)))
	return TableLoad{CommitsPerHour: cph, Busy: cph / 3600 * t.CommitSeconds}
}

// committerInvocations is the committer's invocations per hour for
// batches staged per hour.
func committerInvocations(t Traffic, batches float64) float64 {
	return math.Min(batches, math.Max(batches/t.CommitBatchSize, 3600/math.Max(t.CommitWindowSec, 1)))
}

// TableCommitter estimates the table with its committer (deploy/terraform
// iceberg_committer, the default): the landing invocations write the data
// files, load the table (a Glue GetTable and a metadata GET per batch) and
// send one SQS message per batch (~42 KB: one request); the committer
// commits each invocation's batches in one snapshot (a manifest, a
// manifest list, a metadata file; three Glue requests) at 1 GB; the SQS
// mapping's pollers ask even when the queue is empty.
func TableCommitter(p Prices, t Traffic, provisioned bool) Estimate {
	t = t.Defaults()
	direct := Table(p, t, provisioned)
	e := Estimate{Name: direct.Name + ", through its committer"}
	e.Lines = append(e.Lines, direct.Lines[:streamLines(provisioned)]...)
	events := t.EventsPerHour * hoursPerMonth
	shards := mappingShards(t, provisioned)
	batches := batchesPerHour(t, shards) * hoursPerMonth
	commits := committerInvocations(t, batchesPerHour(t, shards)) * hoursPerMonth
	files := dataFiles(t, shards, batches)
	landGBs := (batches*t.FixedMsPerBatch/1000 + events*t.TableMicrosPerEvent/1e6) * t.LambdaMemoryMB / 1024
	commitGBs := commits * t.CommitSeconds * 1
	// Five long-polling connections (20 s) while idle: 15 requests a minute.
	polls := 15.0 * 60 * hoursPerMonth
	sqs := 1.2*batches + polls // a send per batch; receive and delete in tens
	glue := batches + 3*commits
	stored := events * t.EventBytes / t.CompressionRatio
	load := CommitterLoad(t, provisioned)
	e.Lines = append(e.Lines,
		Line{"Lambda requests (landing + committer)", fmt.Sprintf("%.3g million + %.3g million", batches/1e6, commits/1e6), (batches + commits) / 1e6 * p.LambdaRequestsMillion},
		Line{"Lambda GB-seconds (landing Parquet; committer 1 GB)", fmt.Sprintf("%.3g + %.3g GB-s", landGBs, commitGBs), (landGBs + commitGBs) * p.LambdaArmGBSecond},
		Line{"SQS: a staged batch per landed batch, the mapping's polls", fmt.Sprintf("%.3g million requests", sqs/1e6), sqs / 1e6 * p.SQSRequestsMillion},
		Line{"S3 PUT: data files + 3 metadata files per commit", fmt.Sprintf("%.3g million objects", (files+3*commits)/1e6), (files + 3*commits) / 1000 * p.S3PutThousand},
		Line{"S3 GET: metadata per batch; metadata, list, manifest per commit", fmt.Sprintf("%.3g million", (batches+3*commits)/1e6), (batches + 3*commits) / 1000 * p.S3GetThousand},
		Line{"S3 storage of the month's data", fmt.Sprintf("%.3g GB Parquet", gb(stored)), gb(stored) * p.S3StandardGBMonth},
		Line{"Glue requests (GetTable per batch; 3 per commit)", fmt.Sprintf("%.3g million; %.3g commits/s, table busy %.0f%%", glue/1e6, load.CommitsPerHour/3600, 100*load.Busy),
			math.Max(0, glue-1e6) / 1e6 * p.GlueRequestsMillion},
	)
	e.Lines = append(e.Lines, direct.Lines[len(direct.Lines)-1]) // the same maintenance
	return e
}

// dataFiles is the table's data files a month for batches a month: one
// per event type a batch holds (fewer with a key spread), at most one per
// event.
func dataFiles(t Traffic, shards int, batches float64) float64 {
	typesPerBatch := float64(t.Types)
	if t.KeySpread > 0 {
		typesPerBatch = math.Min(typesPerBatch, math.Ceil(float64(t.Types*t.KeySpread)/float64(shards)))
	}
	return batches * math.Min(typesPerBatch, t.EventsPerHour*hoursPerMonth/batches)
}

// streamLines is how many of Eventlake's first lines are the stream's.
func streamLines(provisioned bool) int {
	if provisioned {
		return 2
	}
	return 3
}
