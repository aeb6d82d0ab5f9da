resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_lambda_function" "eventlake" {
  function_name    = local.name
  description      = "Lands Kinesis and SQS events in the S3 lake"
  role             = aws_iam_role.function.arn
  runtime          = "provided.al2023"
  handler          = "land" # the bootstrap's job; see cmd/lambda
  architectures    = ["arm64"]
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  memory_size      = var.lambda_memory_mb
  timeout          = var.lambda_timeout_seconds

  # Exactly the variables internal/function/config.go reads (a test checks).
  environment {
    variables = {
      EVENTLAKE_LAKE_URL                      = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}"
      EVENTLAKE_DEAD_LETTER_QUEUE_URL         = aws_sqs_queue.dead_letters.url
      EVENTLAKE_LAYOUT                        = var.layout
      EVENTLAKE_COMPRESSION                   = var.compression
      EVENTLAKE_FORMAT                        = var.format
      EVENTLAKE_MAX_EVENT_SIZE                = tostring(var.max_event_size)
      EVENTLAKE_DEAD_LETTER_MAX_MESSAGE_BYTES = "262144"
      EVENTLAKE_DEADLINE_MARGIN               = "5s"
      EVENTLAKE_LOG_LEVEL                     = var.log_level
      EVENTLAKE_METRICS_NAMESPACE             = local.metrics_namespace
      EVENTLAKE_TABLE                         = local.iceberg ? local.iceberg_url : ""                          # iceberg.tf
      EVENTLAKE_TABLE_COMMIT_QUEUE_URL        = local.table_committer ? aws_sqs_queue.table_commits[0].url : "" # iceberg.tf
    }
  }

  logging_config {
    log_format = "Text" # the function writes JSON logs and EMF itself
    log_group  = aws_cloudwatch_log_group.function.name
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy.function_key, aws_cloudwatch_log_group.function]
}

resource "aws_lambda_event_source_mapping" "kinesis" {
  function_name                      = aws_lambda_function.eventlake.arn
  event_source_arn                   = aws_kinesis_stream.events.arn
  starting_position                  = var.starting_position
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds
  parallelization_factor             = var.parallelization_factor
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_seconds
  bisect_batch_on_function_error     = var.bisect_batch_on_function_error
  function_response_types            = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failed_batches.arn
    }
  }
}

resource "aws_lambda_event_source_mapping" "ingest" {
  function_name                      = aws_lambda_function.eventlake.arn
  event_source_arn                   = aws_sqs_queue.ingest.arn
  batch_size                         = var.sqs_batch_size
  maximum_batching_window_in_seconds = var.sqs_batch_size > 10 ? max(var.batching_window_seconds, 1) : var.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
}
