resource "aws_sns_topic" "alarms" {
  count             = var.alarm_email != "" ? 1 : 0
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_subscription" "alarms" {
  count     = var.alarm_email != "" ? 1 : 0
  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  # The topic's ARN as spelled in main.tf, so that the alarms' actions are
  # known at plan time (and checked); iterating over the topic keeps the
  # alarms created after it.
  alarm_actions = [for t in aws_sns_topic.alarms : local.arn.alarm_topic]
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${local.name}-iterator-age"
  alarm_description   = "The function falls behind the stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.eventlake.function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.iterator_age_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = {
    Errors    = "Invocations fail (batches are retried)."
    Throttles = "Invocations are throttled."
  }
  alarm_name          = "${local.name}-${lower(each.key)}"
  alarm_description   = each.value
  namespace           = "AWS/Lambda"
  metric_name         = each.key
  dimensions          = { FunctionName = aws_lambda_function.eventlake.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  for_each = merge({
    dead-letters   = aws_sqs_queue.dead_letters.name
    failed-batches = aws_sqs_queue.failed_batches.name
    ingest-dlq     = aws_sqs_queue.ingest_dlq.name
    new-data-dlq   = aws_sqs_queue.new_data_dlq.name
  }, { for q in aws_sqs_queue.compaction_dlq : "compact-dlq" => q.name }, { for q in aws_sqs_queue.table_commits_dlq : "table-commits-dlq" => q.name })
  alarm_name          = "${local.name}-${each.key}-depth"
  alarm_description   = "Messages wait in ${each.value}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Messages wait in the ingestion queue: the function falls behind, or
# keeps failing on them (they then go to the ingestion DLQ, alarmed above).
resource "aws_cloudwatch_metric_alarm" "ingest_age" {
  alarm_name          = "${local.name}-ingest-age"
  alarm_description   = "The oldest message of ${aws_sqs_queue.ingest.name} is older than ${var.ingest_age_alarm_seconds} s."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.ingest.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.ingest_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
