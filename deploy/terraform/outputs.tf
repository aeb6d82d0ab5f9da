output "stream_name" {
  description = "Kinesis stream to send events to."
  value       = aws_kinesis_stream.events.name
}

output "stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = aws_kinesis_stream.events.arn
}

output "bucket" {
  description = "The lake bucket."
  value       = aws_s3_bucket.lake.bucket
}

output "lake_url" {
  description = "The lake as eventlake URLs spell it."
  value       = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}"
}

output "ingest_queue_url" {
  description = "SQS ingestion queue."
  value       = aws_sqs_queue.ingest.url
}

output "dead_letter_queue_url" {
  description = "Bad events, one message each."
  value       = aws_sqs_queue.dead_letters.url
}

output "failed_batches_queue_url" {
  description = "Kinesis batches that kept failing (the mapping's on-failure destination; records' positions, not their data)."
  value       = aws_sqs_queue.failed_batches.url
}

output "new_data_queue_url" {
  description = "S3 ObjectCreated notifications of the lake."
  value       = aws_sqs_queue.new_data.url
}

output "function_name" {
  description = "The Lambda function."
  value       = aws_lambda_function.eventlake.function_name
}

output "glue_database" {
  description = "Glue database for Athena."
  value       = aws_glue_catalog_database.lake.name
}

output "glue_table" {
  description = "Glue table over the lake."
  value       = aws_glue_catalog_table.events.name
}

output "create_events_view" {
  description = "Run once in Athena: the view events, each event once whatever compaction is doing."
  value       = local.create_events_view
}

output "compaction_function_name" {
  description = "The scheduled compaction function (empty when compaction is off)."
  value       = one(aws_lambda_function.compaction[*].function_name)
}

output "compaction_queue_url" {
  description = "The compaction queue: one message per event type or partition to compact (null when compaction is off)."
  value       = one(aws_sqs_queue.compaction[*].url)
}

output "compaction_dlq_url" {
  description = "Compaction messages that kept failing (null when compaction is off)."
  value       = one(aws_sqs_queue.compaction_dlq[*].url)
}

output "kms_key_arn" {
  description = "The key that encrypts the stream, bucket, queues, topic, logs and Athena results: producers, consumers of the queues and Athena users need kms:GenerateDataKey and kms:Decrypt on it."
  value       = aws_kms_key.main.arn
}

output "athena_workgroup" {
  description = "Athena workgroup to query the lake in (results encrypted under athena-results/)."
  value       = aws_athena_workgroup.lake.name
}

output "dashboard_name" {
  description = "The CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.main.dashboard_name
}

output "iceberg_table_url" {
  description = "With iceberg_table, the table the landing function commits to (its EVENTLAKE_TABLE: glue://DATABASE/TABLE?warehouse=s3://...); null otherwise. Athena, Spark and PyIceberg open it as <database>.events in the Glue catalog."
  value       = local.iceberg ? local.iceberg_url : null
}

output "iceberg_database" {
  description = "With iceberg_table, the Glue database holding the Iceberg table events; null otherwise."
  value       = one(aws_glue_catalog_database.iceberg[*].name)
}

output "iceberg_commit_queue_url" {
  description = "With iceberg_table and iceberg_committer, the queue of staged batches the committer drains (its dead-letter queue is <name>-table-commits-dlq); null otherwise."
  value       = one(aws_sqs_queue.table_commits[*].url)
}
