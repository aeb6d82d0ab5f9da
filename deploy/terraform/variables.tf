variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "The region must look like us-east-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name. The bucket is <name_prefix>-<environment>-lake-<account id>: the two together may hold at most 44 characters (S3's limit is 63)."
  type        = string
  default     = "eventlake"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,29}[a-z0-9]$", var.name_prefix))
    error_message = "The name prefix must be 2-31 lower-case letters, digits or dashes, starting with a letter and not ending with a dash."
  }

  # Bucket names S3 reserves (the bucket name starts with the prefix).
  validation {
    condition     = !anytrue([for p in ["xn--", "sthree-", "amzn-s3-demo-"] : startswith(var.name_prefix, p)])
    error_message = "The name prefix may not start with xn--, sthree- or amzn-s3-demo-: S3 refuses bucket names that do."
  }
}

variable "environment" {
  description = "Environment name, part of resource names (dev, staging, prod)."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.environment))
    error_message = "The environment must be 2-16 lower-case letters or digits."
  }
}

variable "stream_mode" {
  description = "Kinesis capacity mode: PROVISIONED (default; shards sized from expected_events_per_hour) or ON_DEMAND (no sizing, but dearer at steady load: see eventlake cost and docs/terraform.md)."
  type        = string
  default     = "PROVISIONED"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "The stream mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "expected_events_per_hour" {
  description = "Average events per hour the stream is sized for (PROVISIONED): with expected_event_bytes and shard_headroom it gives the shard count, as eventlake cost computes it."
  type        = number
  default     = 1000000

  validation {
    condition     = var.expected_events_per_hour > 0
    error_message = "expected_events_per_hour must be positive."
  }
}

variable "expected_event_bytes" {
  description = "Average size in bytes of an event as sent, for sizing the stream (PROVISIONED)."
  type        = number
  default     = 500

  validation {
    condition     = var.expected_event_bytes >= 1 && var.expected_event_bytes <= 1048576
    error_message = "expected_event_bytes must be between 1 and 1048576 (a Kinesis record's limit)."
  }
}

variable "shard_headroom" {
  description = "Peak write rate over the average the stream is sized for: a shard takes 1 MB/s or 1000 records/s, and the stream gets ceil(headroom x average need) shards, at least 1."
  type        = number
  default     = 2

  validation {
    condition     = var.shard_headroom >= 1 && var.shard_headroom <= 10
    error_message = "shard_headroom must be between 1 and 10."
  }
}

variable "shard_count" {
  description = "Shards of a PROVISIONED stream; null (default) sizes it from expected_events_per_hour. Ignored for ON_DEMAND."
  type        = number
  default     = null

  validation {
    condition     = var.shard_count == null || (coalesce(var.shard_count, 1) >= 1 && coalesce(var.shard_count, 1) <= 500)
    error_message = "The shard count must be null or between 1 and 500."
  }
}

variable "retention_hours" {
  description = "Kinesis retention in hours (24 to 8760)."
  type        = number
  default     = 24

  validation {
    condition     = var.retention_hours >= 24 && var.retention_hours <= 8760
    error_message = "Retention must be between 24 and 8760 hours."
  }
}

variable "batch_size" {
  description = "Records per Lambda invocation from Kinesis (1 to 10000; AWS also caps a batch at 6 MB)."
  type        = number
  default     = 10000

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "The batch size must be between 1 and 10000."
  }
}

variable "batching_window_seconds" {
  description = "Seconds the event source mappings wait to fill a batch (0 to 300). Each batch writes one object per partition: longer windows mean fewer, larger objects and lower S3 and SQS bills (see eventlake cost)."
  type        = number
  default     = 60

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300
    error_message = "The batching window must be between 0 and 300 seconds."
  }
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1 to 10). Order per partition key is kept at any value."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10
    error_message = "The parallelization factor must be between 1 and 10."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing Kinesis batch before the on-failure destination (-1 means until the record expires)."
  type        = number
  default     = 10

  validation {
    condition     = var.maximum_retry_attempts >= -1 && var.maximum_retry_attempts <= 10000
    error_message = "Maximum retry attempts must be between -1 and 10000."
  }
}

variable "maximum_record_age_seconds" {
  description = "Records older than this go to the on-failure destination (-1, or 60 to 604800)."
  type        = number
  default     = 86400

  validation {
    condition     = var.maximum_record_age_seconds == -1 || (var.maximum_record_age_seconds >= 60 && var.maximum_record_age_seconds <= 604800)
    error_message = "Maximum record age must be -1 or between 60 and 604800 seconds."
  }
}

variable "bisect_batch_on_function_error" {
  description = "Split a batch in two when the function fails (not on partial responses). Off: see docs/serverless.md."
  type        = bool
  default     = false
}

variable "starting_position" {
  description = "Where the Kinesis mapping starts: TRIM_HORIZON (default) or LATEST."
  type        = string
  default     = "TRIM_HORIZON"

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.starting_position)
    error_message = "The starting position must be TRIM_HORIZON or LATEST."
  }
}

variable "sqs_batch_size" {
  description = "Messages per invocation from the ingestion queue (1 to 10000; above 10 needs a batching window)."
  type        = number
  default     = 10

  validation {
    condition     = var.sqs_batch_size >= 1 && var.sqs_batch_size <= 10000
    error_message = "The SQS batch size must be between 1 and 10000."
  }
}

variable "layout" {
  description = "Partition layout the function writes: daily, type or hourly."
  type        = string
  default     = "daily"

  validation {
    condition     = contains(["daily", "type", "hourly"], var.layout)
    error_message = "The layout must be daily, type or hourly."
  }
}

variable "compression" {
  description = "Object compression: gzip, zstd or none."
  type        = string
  default     = "gzip"

  validation {
    condition     = contains(["gzip", "zstd", "none"], var.compression)
    error_message = "Compression must be gzip, zstd or none."
  }
}

variable "max_event_size" {
  description = "Largest event in bytes; larger ones are dead letters."
  type        = number
  default     = 1048576

  validation {
    condition     = var.max_event_size >= 1024 && var.max_event_size <= 10485760
    error_message = "The maximum event size must be between 1 KiB and 10 MiB."
  }
}

variable "log_level" {
  description = "Function log level: debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "The log level must be debug, info, warn or error."
  }
}

variable "lambda_zip" {
  description = "Path of the function package built by `go run ./scripts/buildlambda` (arm64)."
  type        = string
  default     = "../../dist/lambda-arm64.zip"
}

variable "lambda_memory_mb" {
  description = "Function memory in MB (128 to 10240)."
  type        = number
  default     = 512

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "Memory must be between 128 and 10240 MB."
  }
}

variable "lambda_timeout_seconds" {
  description = "Function timeout in seconds (10 to 900)."
  type        = number
  default     = 120

  validation {
    condition     = var.lambda_timeout_seconds >= 10 && var.lambda_timeout_seconds <= 900
    error_message = "The timeout must be between 10 and 900 seconds."
  }
}

variable "log_retention_days" {
  description = "Days to keep the function's logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "Log retention must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "lake_prefix" {
  description = "Key prefix of the lake inside the bucket: folders of lower-case letters, digits, '_' and '-' joined by single slashes, each beginning with a letter or digit (Athena skips folders beginning with '_' or '.'), no leading or trailing slash."
  type        = string
  default     = "events"

  validation {
    condition     = length(var.lake_prefix) <= 200 && can(regex("^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$", var.lake_prefix))
    error_message = "The lake prefix must be folders of lower-case letters, digits, '_' and '-', each beginning with a letter or digit, joined by single slashes (no empty folder such as a//b, no leading or trailing slash), at most 200 characters."
  }

  validation {
    condition     = split("/", var.lake_prefix)[0] != "athena-results" # local.athena_results_prefix
    error_message = "The lake prefix may not be in athena-results/, where Athena writes query results."
  }
}

variable "versioning" {
  description = "Enable S3 versioning on the lake bucket (noncurrent versions then expire after noncurrent_version_days)."
  type        = bool
  default     = false
}

variable "noncurrent_version_days" {
  description = "With versioning, days after which an overwritten or deleted object's old version is removed (compaction deletes every superseded object, so without this they are kept and billed forever)."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "athena_results_days" {
  description = "Days after which Athena query results (under athena-results/ in the bucket) expire."
  type        = number
  default     = 30

  validation {
    condition     = var.athena_results_days >= 1
    error_message = "athena_results_days must be at least 1."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1
    error_message = "Must be at least 1 day."
  }
}

variable "transition_to_ia_days" {
  description = "Days after which objects move to STANDARD_IA (0 disables)."
  type        = number
  default     = 0

  validation {
    condition     = var.transition_to_ia_days == 0 || var.transition_to_ia_days >= 30
    error_message = "STANDARD_IA transitions need at least 30 days (or 0 to disable)."
  }
}

variable "expiration_days" {
  description = "Days after which objects expire (0 keeps them forever)."
  type        = number
  default     = 0

  validation {
    condition     = var.expiration_days >= 0
    error_message = "Expiration days must not be negative."
  }
}

variable "event_types" {
  description = "Event types for Athena partition projection (enum), as they appear in event_type= folders. Empty: injected projection, queries must filter on event_type."
  type        = list(string)
  default     = []

  # The projection joins them with commas, and a type the code writes
  # percent-escaped would not match its folder.
  validation {
    condition     = alltrue([for t in var.event_types : can(regex("^[^,\\x00-\\x1f\\x7f\"#%'*/:=?\\\\{\\[\\]^]+$", t))])
    error_message = "Each event type must be non-empty, without commas and without the characters the lake percent-escapes in folder names (control characters and \" # % ' * / : = ? \\ { [ ] ^)."
  }
}

variable "alarm_email" {
  description = "Email address for alarm notifications (creates an SNS topic); empty: alarms without actions."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be empty or an email address."
  }
}

variable "iterator_age_alarm_ms" {
  description = "Alarm when the Kinesis iterator age exceeds this many milliseconds."
  type        = number
  default     = 300000

  validation {
    condition     = var.iterator_age_alarm_ms >= 1000
    error_message = "iterator_age_alarm_ms must be at least 1000."
  }
}

variable "ingest_age_alarm_seconds" {
  description = "Alarm when the oldest message of the SQS ingestion queue is older than this many seconds (the function falls behind or keeps failing)."
  type        = number
  default     = 900

  validation {
    condition     = var.ingest_age_alarm_seconds >= 60
    error_message = "ingest_age_alarm_seconds must be at least 60."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "format" {
  description = "Object format: jsonl (NDJSON, compressed as var.compression) or parquet (zstd columns plus the whole event)."
  type        = string
  default     = "jsonl"

  validation {
    condition     = contains(["jsonl", "parquet"], var.format)
    error_message = "Format must be jsonl or parquet."
  }
}

variable "compaction_schedule" {
  description = "When the compaction function runs (an EventBridge schedule expression); an empty string turns compaction off."
  type        = string
  default     = "rate(1 hour)"

  validation {
    condition     = var.compaction_schedule == "" || can(regex("^(rate|cron)\\(.+\\)$", var.compaction_schedule))
    error_message = "compaction_schedule must be rate(...), cron(...) or empty."
  }
}

variable "compaction_older_than" {
  description = "Compaction leaves objects younger than this (a Go duration)."
  type        = string
  default     = "1h"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.compaction_older_than))
    error_message = "compaction_older_than must be a Go duration such as 1h or 30m."
  }
}

variable "compaction_grace" {
  description = "Superseded objects are kept this long after a compaction, for queries that listed them (a Go duration)."
  type        = string
  default     = "15m"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.compaction_grace))
    error_message = "compaction_grace must be a Go duration such as 15m."
  }
}

variable "compaction_target_size" {
  description = "Bytes per compacted object."
  type        = number
  default     = 134217728

  validation {
    condition     = var.compaction_target_size >= 1048576
    error_message = "compaction_target_size must be at least 1 MiB."
  }
}

variable "compaction_memory_mb" {
  description = "Memory of the compaction function; it holds up to a third of it in events at once, with a Go memory limit at 80%."
  type        = number
  default     = 2048

  validation {
    condition     = var.compaction_memory_mb >= 512 && var.compaction_memory_mb <= 10240
    error_message = "compaction_memory_mb must be within 512..10240."
  }
}

variable "compaction_concurrency" {
  description = "Invocations of the compaction function at once, each compacting one event type (or one partition left over from a stopped run): the SQS mapping's maximum concurrency (2..1000)."
  type        = number
  default     = 4

  validation {
    condition     = var.compaction_concurrency >= 2 && var.compaction_concurrency <= 1000
    error_message = "compaction_concurrency must be within 2..1000 (the SQS mapping's maximum_concurrency range)."
  }
}

variable "compaction_partitions_at_once" {
  description = "Partitions (days, or hours, of one event type) one compaction invocation merges side by side; they share its memory budget (a third of compaction_memory_mb). Not the same as compaction_concurrency, the invocations at once: up to their product run in all. Sets EVENTLAKE_COMPACT_CONCURRENCY."
  type        = number
  default     = 4

  validation {
    condition     = var.compaction_partitions_at_once >= 1 && var.compaction_partitions_at_once <= 64
    error_message = "compaction_partitions_at_once must be within 1..64."
  }
}

variable "iceberg_table" {
  description = "Land events into an Apache Iceberg table in Glue (database <name>_iceberg, table events, files under s3://<bucket>/<iceberg_prefix>/) instead of the lake's objects; dead letters still go to the queue. Needs lambda_zip built with -tags iceberg (go run ./scripts/buildlambda -tags iceberg). Off by default: docs/iceberg.md, Glue and the Lambda."
  type        = bool
  default     = false
}

variable "iceberg_prefix" {
  description = "With iceberg_table, the key prefix of the Iceberg warehouse in the lake bucket: folders as lake_prefix, not inside it."
  type        = string
  default     = "warehouse"

  validation {
    condition     = length(var.iceberg_prefix) <= 200 && can(regex("^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$", var.iceberg_prefix)) && split("/", var.iceberg_prefix)[0] != "athena-results"
    error_message = "The Iceberg prefix must be folders of lower-case letters, digits, '_' and '-', each beginning with a letter or digit, joined by single slashes, at most 200 characters, not in athena-results/."
  }
}

variable "iceberg_expire_older_than" {
  description = "With iceberg_table and compaction, the scheduled maintenance expires the table's snapshots older than this (a Go duration; 0 keeps them all). Their batches stay remembered for exactly-once (iceberg_remember_batches). Sets EVENTLAKE_TABLE_EXPIRE_OLDER_THAN."
  type        = string
  default     = "120h"

  validation {
    condition     = var.iceberg_expire_older_than == "0" || can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.iceberg_expire_older_than))
    error_message = "iceberg_expire_older_than must be a Go duration such as 120h, or 0."
  }
}

variable "iceberg_retain_last" {
  description = "With iceberg_table and compaction, snapshots the expiry keeps whatever their age. Sets EVENTLAKE_TABLE_RETAIN_LAST."
  type        = number
  default     = 1

  validation {
    condition     = var.iceberg_retain_last >= 1 && floor(var.iceberg_retain_last) == var.iceberg_retain_last
    error_message = "iceberg_retain_last must be a whole number, at least 1."
  }
}

variable "iceberg_remember_batches" {
  description = "With iceberg_table and compaction, how many batches of expired snapshots the table remembers (the newest), so that a replay of one commits nothing; ~50 bytes each in every metadata file. Sets EVENTLAKE_TABLE_REMEMBER_BATCHES."
  type        = number
  default     = 2000

  validation {
    condition     = var.iceberg_remember_batches >= 1 && floor(var.iceberg_remember_batches) == var.iceberg_remember_batches
    error_message = "iceberg_remember_batches must be a whole number, at least 1."
  }
}

variable "iceberg_orphans_older_than" {
  description = "With iceberg_table and compaction, the scheduled maintenance deletes files below the table that no kept snapshot references once they are older than this (a Go duration, longer than any commit and retry takes: the landing function's files are written before their commit), or off. Sets EVENTLAKE_TABLE_ORPHANS_OLDER_THAN."
  type        = string
  default     = "24h"

  validation {
    condition     = var.iceberg_orphans_older_than == "off" || (can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.iceberg_orphans_older_than)) && !can(regex("^(0+(\\.0+)?(ns|us|ms|s|m|h))+$", var.iceberg_orphans_older_than)))
    error_message = "iceberg_orphans_older_than must be a Go duration above zero such as 24h, or off."
  }
}

variable "iceberg_committer" {
  description = "With iceberg_table, the landing function stages each batch (writes its data files) and hands it to one committer function over an SQS queue, which commits many batches per snapshot: the table's catalog row sees a few commits a minute whatever the shard count. Off: every landing invocation commits its batch itself, which is fine for a few shards (docs/iceberg.md, A committer per table)."
  type        = bool
  default     = true
}

variable "iceberg_commit_batch_size" {
  description = "With iceberg_committer, the most staged batches one committer invocation commits in one snapshot (the SQS mapping's batch size; up to 1000, eventlake's bound per snapshot)."
  type        = number
  default     = 100

  validation {
    condition     = var.iceberg_commit_batch_size >= 1 && var.iceberg_commit_batch_size <= 1000 && floor(var.iceberg_commit_batch_size) == var.iceberg_commit_batch_size
    error_message = "iceberg_commit_batch_size must be a whole number within 1..1000."
  }
}

variable "iceberg_commit_senders" {
  description = "With iceberg_committer, IAM role ARNs besides the landing function's that may send to the commit queue: whoever redrives its dead-letter queue (a message move task sends as its caller). Everyone else is denied."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.iceberg_commit_senders : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", a))])
    error_message = "iceberg_commit_senders must be IAM role ARNs (arn:aws:iam::ACCOUNT:role/NAME)."
  }
}

variable "iceberg_commit_window_seconds" {
  description = "With iceberg_committer, how long the SQS mapping gathers staged batches before invoking the committer (0..300 s; at least 1 when iceberg_commit_batch_size is above 10): the table's commit cadence at low volume."
  type        = number
  default     = 10

  validation {
    condition     = var.iceberg_commit_window_seconds >= 0 && var.iceberg_commit_window_seconds <= 300 && floor(var.iceberg_commit_window_seconds) == var.iceberg_commit_window_seconds
    error_message = "iceberg_commit_window_seconds must be a whole number within 0..300."
  }
}
