# The Apache Iceberg table the landing function lands into when
# var.iceberg_table is true (docs/iceberg.md, "Glue and the Lambda"):
# the table events in the Glue database <name>_iceberg, its data and metadata
# files in the lake bucket under var.iceberg_prefix. Terraform makes the
# database only: the function creates the table at its first start with
# eventlake's schema, partition spec (event_type, day), sort order and
# properties (commit.retry.num-retries = 0 among them), which
# aws_glue_catalog_table's iceberg_input (metadata_operation and version
# only) cannot express; a table made here would be unpartitioned.
locals {
  iceberg            = var.iceberg_table
  iceberg_database   = replace("${local.name}_iceberg", "-", "_")
  iceberg_table_name = "events"
  # EVENTLAKE_TABLE, as internal/table/tableurl parses it.
  iceberg_url = "glue://${local.iceberg_database}/${local.iceberg_table_name}?warehouse=s3://${local.bucket}/${var.iceberg_prefix}"
  iceberg_arn = {
    catalog  = "arn:${local.partition}:glue:${var.region}:${local.account_id}:catalog"
    database = "arn:${local.partition}:glue:${var.region}:${local.account_id}:database/${local.iceberg_database}"
    table    = "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${local.iceberg_database}/${local.iceberg_table_name}"
  }
}

resource "aws_glue_catalog_database" "iceberg" {
  count       = local.iceberg ? 1 : 0
  name        = local.iceberg_database
  description = "eventlake's Iceberg table of events, committed by the landing function"

  lifecycle {
    # The bucket's expiration and storage-class rules apply to every key;
    # Iceberg files expire with their snapshots, never under a live table.
    precondition {
      condition     = var.expiration_days == 0
      error_message = "iceberg_table needs expiration_days = 0: a lifecycle expiration would delete files a live Iceberg table references."
    }
    precondition {
      condition     = var.iceberg_prefix != var.lake_prefix && !startswith("${var.iceberg_prefix}/", "${var.lake_prefix}/") && !startswith("${var.lake_prefix}/", "${var.iceberg_prefix}/")
      error_message = "iceberg_prefix and lake_prefix must not contain one another: compaction and the Athena table read the lake prefix."
    }
  }
}

# The table's committer (var.iceberg_committer; docs/iceberg.md, "A
# committer per table"). Landing functions write each batch's data files
# and send the batch, staged, to this queue instead of committing; the
# committer function (the same zip, handler "commit") commits up to
# iceberg_commit_batch_size staged batches a snapshot, at most 2 at once.
# So the table's catalog row sees a few commits a minute whatever the
# number of shards, instead of every shard's every batch racing for it.
locals {
  table_committer = local.iceberg && var.iceberg_committer
  # The committer's timeout; the queue's visibility is 6x it (Lambda's
  # advice for an SQS event source).
  committer_timeout = 120
}

resource "aws_sqs_queue" "table_commits" {
  count                      = local.table_committer ? 1 : 0
  name                       = "${local.name}-table-commits"
  kms_master_key_id          = aws_kms_key.main.arn
  visibility_timeout_seconds = local.committer_timeout * 6
  # Staged data files are orphans until committed; the committer refuses a
  # batch whose files are more than 20 h old (the sweep's grace is at
  # least 24 h), so a message is of no use after that.
  message_retention_seconds = 72000
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.table_commits_dlq[0].arn
    maxReceiveCount     = 10 # a message of a bad batch; commit conflicts retry within one receive
  })
}

# Only the landing function stages batches: a message here makes the table
# take in files (checked against the table's data folder and names, but
# their statistics are trusted), so no other principal of the account may
# send one, but those of iceberg_commit_senders (whoever redrives the
# dead-letter queue: a message move task sends as its caller).
resource "aws_sqs_queue_policy" "table_commits" {
  count     = local.table_committer ? 1 : 0
  queue_url = aws_sqs_queue.table_commits[0].id
  policy    = data.aws_iam_policy_document.table_commits_queue[0].json
}

data "aws_iam_policy_document" "table_commits_queue" {
  count = local.table_committer ? 1 : 0
  statement {
    sid       = "OnlyTheLandingFunctionStagesBatches"
    effect    = "Deny"
    actions   = ["sqs:SendMessage"]
    resources = [local.arn.table_commits]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = concat([local.arn.function_role], var.iceberg_commit_senders)
    }
  }
}

# Staged batches the committer refused (not a staged batch, files not the
# table's, positions the table holds with other rows), with their bytes.
resource "aws_sqs_queue" "table_commits_dlq" {
  count                     = local.table_committer ? 1 : 0
  name                      = "${local.name}-table-commits-dlq"
  kms_master_key_id         = aws_kms_key.main.arn
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue_redrive_allow_policy" "table_commits_dlq" {
  count     = local.table_committer ? 1 : 0
  queue_url = aws_sqs_queue.table_commits_dlq[0].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.table_commits[0].arn]
  })
}

resource "aws_cloudwatch_log_group" "committer" {
  count             = local.table_committer ? 1 : 0
  name              = "/aws/lambda/${local.name}-commit"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_lambda_function" "committer" {
  count            = local.table_committer ? 1 : 0
  function_name    = "${local.name}-commit"
  description      = "Commits the batches the landing function staged to the Iceberg table, many per snapshot"
  role             = aws_iam_role.committer[0].arn
  runtime          = "provided.al2023"
  handler          = "commit"
  architectures    = ["arm64"]
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  memory_size      = 1024
  timeout          = local.committer_timeout

  # The landing function's variables (the committer reads its
  # configuration), but for the commit queue: the committer commits.
  environment {
    variables = merge(aws_lambda_function.eventlake.environment[0].variables, {
      EVENTLAKE_TABLE_COMMIT_QUEUE_URL = ""
    })
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.committer[0].name
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_iam_role_policy.committer, aws_iam_role_policy.committer_key, aws_cloudwatch_log_group.committer]
}

resource "aws_lambda_event_source_mapping" "table_commits" {
  count                              = local.table_committer ? 1 : 0
  function_name                      = aws_lambda_function.committer[0].arn
  event_source_arn                   = aws_sqs_queue.table_commits[0].arn
  batch_size                         = var.iceberg_commit_batch_size
  maximum_batching_window_in_seconds = var.iceberg_commit_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = 2 # the least SQS mappings allow; two committers rarely conflict
  }

  lifecycle {
    precondition {
      condition     = var.iceberg_commit_batch_size <= 10 || var.iceberg_commit_window_seconds >= 1
      error_message = "iceberg_commit_batch_size above 10 needs iceberg_commit_window_seconds of at least 1 (an SQS mapping's rule)."
    }
    # The committer refuses batches whose files are more than 20 h old
    # (table.DefaultMaxStagedAge); the orphan sweep must not remove
    # younger uncommitted files.
    precondition {
      condition     = var.iceberg_orphans_older_than == "off" || (can(regex("^[0-9]+h$", var.iceberg_orphans_older_than)) && try(tonumber(trimsuffix(var.iceberg_orphans_older_than, "h")) >= 24, false))
      error_message = "With iceberg_committer, iceberg_orphans_older_than must be off or whole hours of at least 24h (such as 24h or 120h): the committer commits staged files up to 20 h old."
    }
  }
}

resource "aws_iam_role" "committer" {
  count              = local.table_committer ? 1 : 0
  name               = "${local.name}-commit"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

resource "aws_iam_role_policy" "committer" {
  count  = local.table_committer ? 1 : 0
  name   = "${local.name}-commit"
  role   = aws_iam_role.committer[0].id
  policy = data.aws_iam_policy_document.committer[0].json
}

resource "aws_iam_role_policy" "committer_key" {
  count  = local.table_committer ? 1 : 0
  name   = "${local.name}-commit-key"
  role   = aws_iam_role.committer[0].id
  policy = data.aws_iam_policy_document.use_the_key.json
}

data "aws_iam_policy_document" "committer" {
  count = local.table_committer ? 1 : 0

  # Exactly what iceberg-go's Glue catalog calls to commit: the table is
  # opened, never created (table.Options MustExist), and each commit is
  # GetTable then UpdateTable, compare-and-swap on its VersionId.
  statement {
    sid       = "CommitToTheTable"
    actions   = ["glue:GetTable", "glue:UpdateTable"]
    resources = [local.iceberg_arn.catalog, local.iceberg_arn.database, local.iceberg_arn.table]
  }

  # Metadata and manifests read and written, old metadata files deleted
  # after a commit; data files are never read (their statistics come in
  # the messages).
  statement {
    sid     = "CommitTableFiles"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    # File names come from the data; the warehouse prefix is the
    # narrowest scope S3 offers.
    #tfsec:ignore:aws-iam-no-policy-wildcards
    resources = ["${local.arn.bucket}/${var.iceberg_prefix}/*"]
  }

  statement {
    sid       = "FindTableFiles"
    actions   = ["s3:ListBucket"]
    resources = [local.arn.bucket]
  }

  statement {
    sid       = "ConsumeTheCommitQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [local.arn.table_commits]
  }

  statement {
    sid     = "WriteLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    # Log streams are created by the runtime under this one group.
    #tfsec:ignore:aws-iam-no-policy-wildcards
    resources = ["${local.arn.committer_logs}:*"]
  }

  statement {
    sid       = "Trace"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}

# Staged batches wait: the committer is down or throttled. Past 20 hours
# it refuses them (their files may be swept as orphans), so page early.
resource "aws_cloudwatch_metric_alarm" "table_commits_age" {
  count               = local.table_committer ? 1 : 0
  alarm_name          = "${local.name}-table-commits-age"
  alarm_description   = "The oldest staged batch in ${aws_sqs_queue.table_commits[0].name} waits more than an hour (the committer refuses them after 20 h)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.table_commits[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 3600
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "committer_errors" {
  count               = local.table_committer ? 1 : 0
  alarm_name          = "${local.name}-commit-errors"
  alarm_description   = "The table's committer fails (staged batches wait in ${aws_sqs_queue.table_commits[0].name}; nothing is lost)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.committer[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
