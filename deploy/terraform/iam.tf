resource "aws_iam_role" "function" {
  name               = "${local.name}-function"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "${local.name}-function"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

# The key's ARN is known only once it exists, so its use is a policy of
# its own: the one above is then known at plan time, and checked.
resource "aws_iam_role_policy" "function_key" {
  name   = "${local.name}-function-key"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.use_the_key.json
}

# Decrypt: reading the stream and the ingestion queue; GenerateDataKey:
# writing the bucket (SSE-KMS) and sending to the queues.
data "aws_iam_policy_document" "use_the_key" {
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
}

# Least privilege: named actions only, on these resources only.
data "aws_iam_policy_document" "function" {
  statement {
    sid = "ReadTheStream"
    actions = [
      "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
      "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard",
    ]
    resources = [local.arn.stream]
  }

  statement {
    sid       = "ConsumeTheIngestionQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [local.arn.ingest]
  }

  statement {
    sid       = "SendDeadLettersAndFailedBatches"
    actions   = ["sqs:SendMessage"]
    resources = [local.arn.dead_letters, local.arn.failed_batches]
  }

  # The function only creates objects (If-None-Match: * puts, multipart
  # for large ones, which an abort must be able to clean up); it never
  # reads, lists or deletes, so a missing key never needs telling apart.
  statement {
    sid     = "WriteTheLake"
    actions = ["s3:PutObject", "s3:AbortMultipartUpload"]
    # Object names come from the data; the lake's prefix is the narrowest
    # scope S3 offers.
    #tfsec:ignore:aws-iam-no-policy-wildcards
    resources = ["${local.arn.bucket}/${var.lake_prefix}/*"]
  }

  # The Iceberg table (iceberg.tf): exactly what iceberg-go's Glue catalog
  # calls. Opening: GetDatabase (does the database exist; its location),
  # GetTable; at the first start CreateTable; each commit GetTable and
  # UpdateTable (compare-and-swap on the table's VersionId).
  dynamic "statement" {
    for_each = local.iceberg ? [1] : []
    content {
      sid       = "ReadTheTableDatabase"
      actions   = ["glue:GetDatabase"]
      resources = [local.iceberg_arn.catalog, local.iceberg_arn.database]
    }
  }

  dynamic "statement" {
    for_each = local.iceberg ? [1] : []
    content {
      sid = "CommitToTheTable"
      # With the committer (iceberg_committer) the function only stages
      # batches: it creates the table at its first start and loads it,
      # and never updates it.
      actions   = local.table_committer ? ["glue:GetTable", "glue:CreateTable"] : ["glue:GetTable", "glue:CreateTable", "glue:UpdateTable"]
      resources = [local.iceberg_arn.catalog, local.iceberg_arn.database, local.iceberg_arn.table]
    }
  }

  dynamic "statement" {
    for_each = local.table_committer ? [1] : []
    content {
      sid       = "HandBatchesToTheCommitter"
      actions   = ["sqs:SendMessage"]
      resources = [local.arn.table_commits]
    }
  }

  # Table files: data files and metadata are written (in place, whole),
  # metadata and manifests read, old metadata files deleted after a commit
  # (write.metadata.delete-after-commit), and a data file looked up by name
  # before it is written (a retry reuses it), which needs ListBucket for a
  # missing key to be a 404 rather than a 403.
  dynamic "statement" {
    for_each = local.iceberg ? [1] : []
    content {
      sid     = "ReadAndWriteTheTable"
      actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
      # File names come from the data; the warehouse prefix is the
      # narrowest scope S3 offers.
      #tfsec:ignore:aws-iam-no-policy-wildcards
      resources = ["${local.arn.bucket}/${var.iceberg_prefix}/*"]
    }
  }

  dynamic "statement" {
    for_each = local.iceberg ? [1] : []
    content {
      sid       = "FindTableFiles"
      actions   = ["s3:ListBucket"]
      resources = [local.arn.bucket]
    }
  }

  statement {
    sid     = "WriteLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    # Log streams are created by the runtime under this one group.
    #tfsec:ignore:aws-iam-no-policy-wildcards
    resources = ["${local.arn.function_logs}:*"]
  }

  statement {
    sid       = "Trace"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}
