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
