# One dashboard for the deployment: what the functions report in EMF
# (internal/function/metrics.go; a test checks every metric here is one
# the code emits, with its dimensions, and that none is missing), and
# what AWS reports of the stream, the functions and the queues.
locals {
  sources       = ["kinesis", "sqs"] # the dimension Source (function.MetricSources)
  land_function = local.name

  # One line per source of an EMF metric of the landing function.
  land = { for m in ["EventsIn", "Written", "AlreadyPresent", "Duplicates", "DeadLetters", "Unwritten", "FailedBatches", "Objects", "Bytes", "Duration", "OldestRecordAge"] :
    m => [for src in local.sources : [local.metrics_namespace, m, "FunctionName", local.land_function, "Source", src]]
  }

  queues = merge({
    dead-letters   = "${local.name}-dead-letters"
    failed-batches = "${local.name}-failed-batches"
    ingest         = "${local.name}-ingest"
    ingest-dlq     = "${local.name}-ingest-dlq"
    new-data       = "${local.name}-new-data"
    new-data-dlq   = "${local.name}-new-data-dlq"
    }, local.compaction ? {
    compact     = "${local.name}-compact"
    compact-dlq = "${local.name}-compact-dlq"
    } : {}, local.table_committer ? {
    table-commits     = "${local.name}-table-commits"
    table-commits-dlq = "${local.name}-table-commits-dlq"
  } : {})
  functions = concat([local.land_function], local.compaction ? ["${local.name}-compact"] : [], local.table_committer ? ["${local.name}-commit"] : [])

  widget = {
    width  = 12
    height = 6
  }
  widgets = concat([
    {
      title   = "Events in, written, already present, duplicates (per batch source)"
      stat    = "Sum"
      metrics = concat(local.land.EventsIn, local.land.Written, local.land.AlreadyPresent, local.land.Duplicates)
    },
    {
      title = "Dead letters by reason"
      stat  = "Sum"
      metrics = concat(local.land.DeadLetters, [[{
        id         = "reasons"
        label      = ""
        expression = "SEARCH('{${local.metrics_namespace},FunctionName,Source,Reason} MetricName=\"DeadLetters\" FunctionName=\"${local.land_function}\"', 'Sum', 300)"
      }]])
    },
    {
      title   = "Objects and bytes landed"
      stat    = "Sum"
      metrics = concat(local.land.Objects, [for m in local.land.Bytes : concat(m, [{ yAxis = "right" }])])
    },
    {
      title   = "Unwritten events and failed batches (retried)"
      stat    = "Sum"
      metrics = concat(local.land.Unwritten, local.land.FailedBatches)
    },
    {
      title   = "Batch duration and oldest record age (ms)"
      stat    = "Maximum"
      metrics = concat(local.land.Duration, local.land.OldestRecordAge)
    },
    {
      title = "Kinesis iterator age (ms)"
      stat  = "Maximum"
      metrics = [
        ["AWS/Lambda", "IteratorAge", "FunctionName", local.land_function],
        ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", "${local.name}-events"],
      ]
    },
    {
      title   = "Lambda errors and throttles"
      stat    = "Sum"
      metrics = concat([for f in local.functions : ["AWS/Lambda", "Errors", "FunctionName", f]], [for f in local.functions : ["AWS/Lambda", "Throttles", "FunctionName", f]])
    },
    {
      title   = "Queue depth: dead letters, DLQs, ingestion, compaction"
      stat    = "Maximum"
      metrics = [for k, q in local.queues : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
    },
    {
      title   = "Age of the oldest message (s)"
      stat    = "Maximum"
      metrics = [for k, q in local.queues : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q] if contains(["ingest", "compact", "table-commits"], k)]
    },
    ], [for w in [
      {
        title   = "Compaction: objects merged, written, deleted; duplicates removed; failures"
        stat    = "Sum"
        metrics = [for m in ["CompactedObjects", "WrittenObjects", "DeletedObjects", "DuplicatesRemoved", "CompactionFailures"] : [local.metrics_namespace, m, "FunctionName", "${local.name}-compact"]]
      },
      {
        title = "Compaction: bytes merged, run time (ms)"
        stat  = "Maximum"
        metrics = [
          [local.metrics_namespace, "CompactedBytes", "FunctionName", "${local.name}-compact", { stat = "Sum" }],
          [local.metrics_namespace, "CompactionDuration", "FunctionName", "${local.name}-compact", { yAxis = "right" }],
        ]
      },
      ] : w if local.compaction], [for w in [
      {
        title   = "Iceberg table maintenance: files merged, written; duplicates removed; snapshots expired; orphans deleted; stops, failures"
        stat    = "Sum"
        metrics = [for m in ["TableFilesCompacted", "TableFilesWritten", "TableDuplicatesRemoved", "SnapshotsExpired", "OrphanFilesDeleted", "TablePartitionsDeferred", "TableMaintenanceStopped", "TableMaintenanceFailures"] : [local.metrics_namespace, m, "FunctionName", "${local.name}-compact"]]
      },
      {
        title = "Iceberg table maintenance: bytes merged, run time (ms)"
        stat  = "Maximum"
        metrics = [
          [local.metrics_namespace, "TableBytesCompacted", "FunctionName", "${local.name}-compact", { stat = "Sum" }],
          [local.metrics_namespace, "TableMaintenanceDuration", "FunctionName", "${local.name}-compact", { yAxis = "right" }],
        ]
      },
      ] : w if local.compaction && local.iceberg], [for w in [
      {
        title   = "Iceberg table committer: messages; staged batches committed, already committed, refused; attempts, failures"
        stat    = "Sum"
        metrics = [for m in ["StagedMessages", "StagedBatchesCommitted", "StagedBatchesAlreadyCommitted", "StagedBatchesRefused", "TableCommitAttempts", "TableCommitFailures"] : [local.metrics_namespace, m, "FunctionName", "${local.name}-commit"]]
      },
      {
        title = "Iceberg table committer: oldest staged batch's age, commit time (ms)"
        stat  = "Maximum"
        metrics = [
          [local.metrics_namespace, "OldestStagedAge", "FunctionName", "${local.name}-commit"],
          [local.metrics_namespace, "TableCommitDuration", "FunctionName", "${local.name}-commit", { yAxis = "right" }],
        ]
      },
  ] : w if local.table_committer])
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = local.name
  dashboard_body = jsonencode({
    widgets = [for i, w in local.widgets : {
      type   = "metric"
      x      = (i % 2) * local.widget.width
      y      = floor(i / 2) * local.widget.height
      width  = local.widget.width
      height = local.widget.height
      properties = {
        title   = w.title
        region  = var.region
        view    = "timeSeries"
        stacked = false
        period  = 300
        stat    = w.stat
        metrics = w.metrics
      }
    }]
  })
}
