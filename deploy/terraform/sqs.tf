# Ingestion queue: events sent to SQS instead of Kinesis; its own DLQ for
# messages that fail repeatedly (bad events never fail: they are dead
# letters).
resource "aws_sqs_queue" "ingest" {
  name                       = "${local.name}-ingest"
  kms_master_key_id          = aws_kms_key.main.arn
  visibility_timeout_seconds = var.lambda_timeout_seconds * 6
  message_retention_seconds  = 345600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.ingest_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue" "ingest_dlq" {
  name                      = "${local.name}-ingest-dlq"
  kms_master_key_id         = aws_kms_key.main.arn
  message_retention_seconds = 1209600
}

# Bad events, one message each (reason, error, source, original bytes).
resource "aws_sqs_queue" "dead_letters" {
  name                      = "${local.name}-dead-letters"
  kms_master_key_id         = aws_kms_key.main.arn
  message_retention_seconds = 1209600
}

# Kinesis batches that kept failing (the mapping's on-failure destination).
resource "aws_sqs_queue" "failed_batches" {
  name                      = "${local.name}-failed-batches"
  kms_master_key_id         = aws_kms_key.main.arn
  message_retention_seconds = 1209600
}

# "New data": S3 ObjectCreated notifications of the lake.
resource "aws_sqs_queue" "new_data" {
  name                      = "${local.name}-new-data"
  kms_master_key_id         = aws_kms_key.main.arn
  message_retention_seconds = 345600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.new_data_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue" "new_data_dlq" {
  name                      = "${local.name}-new-data-dlq"
  kms_master_key_id         = aws_kms_key.main.arn
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue_policy" "new_data" {
  queue_url = aws_sqs_queue.new_data.id
  policy    = data.aws_iam_policy_document.new_data_queue.json
}

data "aws_iam_policy_document" "new_data_queue" {
  statement {
    sid       = "S3SendsNotificationsOfTheLakeOnly"
    actions   = ["sqs:SendMessage"]
    resources = [local.arn.new_data]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.arn.bucket]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sqs_queue_redrive_allow_policy" "ingest_dlq" {
  queue_url = aws_sqs_queue.ingest_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.ingest.arn]
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "new_data_dlq" {
  queue_url = aws_sqs_queue.new_data_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.new_data.arn]
  })
}
