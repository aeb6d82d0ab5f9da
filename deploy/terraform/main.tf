data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "${var.name_prefix}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  tags = merge(var.tags, {
    Application = "eventlake"
    Environment = var.environment
  })

  bucket            = "${local.name}-lake-${local.account_id}"
  metrics_namespace = "eventlake" # EVENTLAKE_METRICS_NAMESPACE of both functions and the dashboard's
  # Athena writes query results here: outside the lake prefix, in a folder
  # whose name does not begin with '_' (lake_prefix may not be it).
  athena_results_prefix = "athena-results/"

  # The ARNs the policies name, spelled from the names the resources are
  # given rather than read from the resources: the key policy must name
  # the log groups and the queue that use the key before they exist (no
  # cycle), and policies known at plan time can be checked by the tests
  # in terraform_test.go, which also check that each ARN names a resource
  # of the plan.
  arn = {
    bucket           = "arn:${local.partition}:s3:::${local.bucket}"
    stream           = "arn:${local.partition}:kinesis:${var.region}:${local.account_id}:stream/${local.name}-events"
    ingest           = "arn:${local.partition}:sqs:${var.region}:${local.account_id}:${local.name}-ingest"
    dead_letters     = "arn:${local.partition}:sqs:${var.region}:${local.account_id}:${local.name}-dead-letters"
    failed_batches   = "arn:${local.partition}:sqs:${var.region}:${local.account_id}:${local.name}-failed-batches"
    new_data         = "arn:${local.partition}:sqs:${var.region}:${local.account_id}:${local.name}-new-data"
    compaction_queue = "arn:${local.partition}:sqs:${var.region}:${local.account_id}:${local.name}-compact"
    function_logs    = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/lambda/${local.name}"
    compaction_logs  = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/lambda/${local.name}-compact"
    table_commits    = "arn:${local.partition}:sqs:${var.region}:${local.account_id}:${local.name}-table-commits"
    function_role    = "arn:${local.partition}:iam::${local.account_id}:role/${local.name}-function"
    committer_logs   = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/lambda/${local.name}-commit"
    alarm_topic      = "arn:${local.partition}:sns:${var.region}:${local.account_id}:${local.name}-alarms"
    alarms           = "arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:${local.name}-*"
  }

  compaction = var.compaction_schedule != ""

  # The partition folders the function writes, by layout. They must match
  # lake.Layout.Template() in the code (a test checks it).
  partition_templates = {
    daily  = "event_type=$${event_type}/created_date=$${created_date}/"
    type   = "event_type=$${event_type}/"
    hourly = "event_type=$${event_type}/created_date=$${created_date}/created_hour=$${created_hour}/"
  }
  object_suffix = {
    gzip = ".jsonl.gz"
    zstd = ".jsonl.zst"
    none = ".jsonl"
  }
}

# One customer-managed key encrypts the stream, the bucket, the queues, the
# alarm topic, the logs and Athena's results.
resource "aws_kms_key" "main" {
  description             = "${local.name}: Kinesis, S3, SQS, SNS, logs, Athena results"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

# The account administers the key and may delegate its use with IAM
# policies (the functions' roles do). Services that act as themselves get
# one statement each, scoped to this deployment's resources. S3 (bucket
# encryption), SQS and Kinesis need none: they use the key with the
# caller's permissions.
data "aws_iam_policy_document" "key" {
  statement {
    sid     = "AccountAdministers"
    actions = local.kms_admin_actions
    # In a key policy, "*" is this key.
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts this deployment's log groups and no other
  # (the statement the CloudWatch Logs guide gives, actions spelled out).
  statement {
    sid       = "LogsEncryptTheLogGroups"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = concat([local.arn.function_logs], local.compaction ? [local.arn.compaction_logs] : [], local.table_committer ? [local.arn.committer_logs] : [])
    }
  }

  # S3 sends the lake's notifications to the encrypted "new data" queue as
  # itself: SQS asks for a data key with the queue's ARN as encryption
  # context. aws:SourceAccount/SourceArn are not used: they are not
  # reliably present when S3 validates the destination, which then fails.
  statement {
    sid       = "S3NotifiesTheNewDataQueue"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:sqs:arn"
      values   = [local.arn.new_data]
    }
  }

  # CloudWatch publishes this deployment's alarms to the encrypted topic.
  dynamic "statement" {
    for_each = var.alarm_email != "" ? [1] : []
    content {
      sid       = "CloudWatchPublishesTheAlarms"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["cloudwatch.amazonaws.com"]
      }
      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = [local.arn.alarms]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }
}

locals {
  kms_admin_actions = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:DeleteAlias", "kms:DescribeKey",
    "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
    "kms:PutKeyPolicy", "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
    "kms:UpdateAlias", "kms:UpdateKeyDescription", "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom",
    "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
  ]

  # Provisioned shards for the expected traffic, the way internal/cost
  # (eventlake cost) sizes them: 1 MB/s and 1000 records/s of writes per
  # shard, times the headroom for peaks (a test compares the two).
  shards_for_traffic = max(1, ceil(var.shard_headroom * max(
    var.expected_events_per_hour / 3600 * var.expected_event_bytes / 1e6,
    var.expected_events_per_hour / 3600 / 1000,
  )))
  shard_count = coalesce(var.shard_count, local.shards_for_traffic)
}

resource "aws_kinesis_stream" "events" {
  name             = "${local.name}-events"
  shard_count      = var.stream_mode == "PROVISIONED" ? local.shard_count : null
  retention_period = var.retention_hours
  encryption_type  = "KMS"
  kms_key_id       = aws_kms_key.main.arn

  stream_mode_details {
    stream_mode = var.stream_mode
  }
}
