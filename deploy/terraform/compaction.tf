# The compaction function: the same zip, run with the handler "compact".
# The schedule invokes it; it queues one message per event type; the
# queue's mapping invokes it again per type, up to compaction_concurrency
# at once. Each merges its partitions' small objects, keeps one copy of
# each event_uuid, and switches readers with a manifest per partition
# (docs/compaction.md). Runs overlapping each other are safe; a run that
# stops at its deadline fails its message, which comes back and goes on.
# With iceberg_table the schedule also queues one message for the table
# (it then needs the -tags iceberg zip, as the landing function does): the
# function compacts the whole table in one snapshot, expires old snapshots
# and deletes orphan files (docs/iceberg.md, "Scheduled maintenance").
resource "aws_cloudwatch_log_group" "compaction" {
  count             = var.compaction_schedule != "" ? 1 : 0
  name              = "/aws/lambda/${local.name}-compact"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_lambda_function" "compaction" {
  count            = var.compaction_schedule != "" ? 1 : 0
  function_name    = "${local.name}-compact"
  description      = local.iceberg ? "Compacts the S3 lake and maintains the Iceberg table: few large files, no duplicate events" : "Compacts the S3 lake: few large objects, no duplicate events"
  role             = aws_iam_role.compaction[0].arn
  runtime          = "provided.al2023"
  handler          = "compact"
  architectures    = ["arm64"]
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  memory_size      = var.compaction_memory_mb
  timeout          = 900
  # No reserved concurrency: reserving it fails on accounts with little
  # unreserved concurrency, and the queue's mapping already runs at most
  # compaction_concurrency at once (plus the scheduled fan-out, hourly).

  # Exactly the variables internal/function/compact.go reads (a test checks).
  environment {
    variables = {
      EVENTLAKE_LAKE_URL                = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}"
      EVENTLAKE_FORMAT                  = var.format
      EVENTLAKE_COMPRESSION             = var.compression
      EVENTLAKE_LOG_LEVEL               = var.log_level
      EVENTLAKE_METRICS_NAMESPACE       = local.metrics_namespace
      EVENTLAKE_DEADLINE_MARGIN         = "60s"
      EVENTLAKE_COMPACT_OLDER_THAN      = var.compaction_older_than
      EVENTLAKE_COMPACT_TARGET_SIZE     = tostring(var.compaction_target_size)
      EVENTLAKE_COMPACT_GRACE           = var.compaction_grace
      EVENTLAKE_COMPACT_MAX_ROUND_BYTES = tostring(floor(var.compaction_memory_mb * 1048576 / 3))
      EVENTLAKE_COMPACT_CONCURRENCY     = tostring(var.compaction_partitions_at_once)
      EVENTLAKE_COMPACT_QUEUE_URL       = aws_sqs_queue.compaction[0].url
      # The Iceberg table (iceberg.tf); the data files' target size is
      # EVENTLAKE_COMPACT_TARGET_SIZE.
      EVENTLAKE_TABLE                    = local.iceberg ? local.iceberg_url : ""
      EVENTLAKE_TABLE_EXPIRE_OLDER_THAN  = var.iceberg_expire_older_than
      EVENTLAKE_TABLE_RETAIN_LAST        = tostring(var.iceberg_retain_last)
      EVENTLAKE_TABLE_REMEMBER_BATCHES   = tostring(var.iceberg_remember_batches)
      EVENTLAKE_TABLE_ORPHANS_OLDER_THAN = var.iceberg_orphans_older_than
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.compaction[0].name
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_iam_role_policy.compaction, aws_iam_role_policy.compaction_key, aws_cloudwatch_log_group.compaction]
}

# One message per event type to compact.
resource "aws_sqs_queue" "compaction" {
  count                      = var.compaction_schedule != "" ? 1 : 0
  name                       = "${local.name}-compact"
  kms_master_key_id          = aws_kms_key.main.arn
  visibility_timeout_seconds = 900 * 6
  message_retention_seconds  = 86400
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.compaction_dlq[0].arn
    maxReceiveCount     = 10 # a big event type may take a few stopped runs
  })
}

resource "aws_sqs_queue" "compaction_dlq" {
  count                     = var.compaction_schedule != "" ? 1 : 0
  name                      = "${local.name}-compact-dlq"
  kms_master_key_id         = aws_kms_key.main.arn
  message_retention_seconds = 1209600
}

resource "aws_lambda_event_source_mapping" "compaction" {
  count                   = var.compaction_schedule != "" ? 1 : 0
  function_name           = aws_lambda_function.compaction[0].arn
  event_source_arn        = aws_sqs_queue.compaction[0].arn
  batch_size              = 1
  function_response_types = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.compaction_concurrency
  }
}

resource "aws_cloudwatch_event_rule" "compaction" {
  count               = var.compaction_schedule != "" ? 1 : 0
  name                = "${local.name}-compact"
  description         = "Runs the lake compaction."
  schedule_expression = var.compaction_schedule
}

resource "aws_cloudwatch_event_target" "compaction" {
  count = var.compaction_schedule != "" ? 1 : 0
  rule  = aws_cloudwatch_event_rule.compaction[0].name
  arn   = aws_lambda_function.compaction[0].arn
  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_lambda_permission" "compaction" {
  count         = var.compaction_schedule != "" ? 1 : 0
  statement_id  = "AllowTheSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.compaction[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.compaction[0].arn
}

resource "aws_iam_role" "compaction" {
  count              = var.compaction_schedule != "" ? 1 : 0
  name               = "${local.name}-compact"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

resource "aws_iam_role_policy" "compaction" {
  count  = var.compaction_schedule != "" ? 1 : 0
  name   = "${local.name}-compact"
  role   = aws_iam_role.compaction[0].id
  policy = data.aws_iam_policy_document.compaction[0].json
}

resource "aws_iam_role_policy" "compaction_key" {
  count  = var.compaction_schedule != "" ? 1 : 0
  name   = "${local.name}-compact-key"
  role   = aws_iam_role.compaction[0].id
  policy = data.aws_iam_policy_document.use_the_key.json
}

data "aws_iam_policy_document" "compaction" {
  count = var.compaction_schedule != "" ? 1 : 0

  statement {
    sid     = "RewriteTheLake"
    actions = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    # Compaction reads, writes and deletes any object of the lake.
    #tfsec:ignore:aws-iam-no-policy-wildcards
    resources = ["${local.arn.bucket}/${var.lake_prefix}/*"]
  }

  # Unconditioned: without s3:ListBucket on the bucket, S3 answers a
  # GetObject of a missing key with 403 instead of 404, and compaction
  # (lake.LatestManifest, compact's write and verify) relies on telling a
  # missing object apart. A condition on s3:prefix does not count: that
  # check carries no prefix. The role can list key names of the whole
  # bucket (the lake and athena-results/), not read them. The table's
  # orphan sweep lists the warehouse prefix with it.
  statement {
    sid       = "ListTheLake"
    actions   = ["s3:ListBucket"]
    resources = [local.arn.bucket]
  }

  # The Iceberg table's maintenance: exactly what iceberg-go's Glue catalog
  # calls for it. The table is opened, never created (table.Options
  # MustExist: GetTable only); each commit (compaction, expiry) is GetTable
  # then UpdateTable, compare-and-swap on the table's VersionId.
  dynamic "statement" {
    for_each = local.iceberg ? [1] : []
    content {
      sid       = "MaintainTheTable"
      actions   = ["glue:GetTable", "glue:UpdateTable"]
      resources = [local.iceberg_arn.catalog, local.iceberg_arn.database, local.iceberg_arn.table]
    }
  }

  # Table files: data files, manifests and metadata read and written
  # (compacted files, large ones in multipart uploads); old metadata files
  # deleted after a commit, and orphan files by the sweep, which lists the
  # warehouse (s3:ListBucket above).
  dynamic "statement" {
    for_each = local.iceberg ? [1] : []
    content {
      sid     = "RewriteTheTable"
      actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
      # File names come from the data; the warehouse prefix is the
      # narrowest scope S3 offers.
      #tfsec:ignore:aws-iam-no-policy-wildcards
      resources = ["${local.arn.bucket}/${var.iceberg_prefix}/*"]
    }
  }

  statement {
    sid       = "FanOutByEventType"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [local.arn.compaction_queue]
  }

  statement {
    sid     = "WriteLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    # Log streams are created by the runtime under this one group.
    #tfsec:ignore:aws-iam-no-policy-wildcards
    resources = ["${local.arn.compaction_logs}:*"]
  }

  statement {
    sid       = "Trace"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}

resource "aws_cloudwatch_metric_alarm" "compaction_errors" {
  count               = var.compaction_schedule != "" ? 1 : 0
  alarm_name          = "${local.name}-compact-errors"
  alarm_description   = "Compaction fails (the lake stays consistent, but small objects and duplicates pile up)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.compaction[0].function_name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
