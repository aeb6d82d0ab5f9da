resource "aws_s3_bucket" "lake" {
  bucket = local.bucket

  # S3's bucket naming rules, on the whole name: its length depends on the
  # account ID, known at plan time.
  lifecycle {
    precondition {
      condition     = length(local.bucket) >= 3 && length(local.bucket) <= 63
      error_message = "The bucket name ${local.bucket} is ${length(local.bucket)} characters long; S3 allows 3 to 63: shorten name_prefix or environment (together at most 44 characters)."
    }
    precondition {
      condition = (can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", local.bucket)) && !strcontains(local.bucket, "..")
        && !can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", local.bucket))
        && !anytrue([for p in ["xn--", "sthree-", "amzn-s3-demo-"] : startswith(local.bucket, p)])
      && !anytrue([for x in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] : endswith(local.bucket, x)]))
      error_message = "The bucket name ${local.bucket} breaks S3's naming rules (characters, consecutive dots, IP address form, reserved prefixes or suffixes)."
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id
  versioning_configuration {
    # tfsec:ignore:aws-s3-enable-versioning the lake never overwrites (conditional creates); versioning is a cost option
    status = var.versioning ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  # Compaction deletes every object it supersedes: with versioning, their
  # old versions would otherwise be kept, and billed, for ever.
  dynamic "rule" {
    for_each = var.versioning ? [1] : []
    content {
      id     = "expire-noncurrent-versions"
      status = "Enabled"
      filter {}
      noncurrent_version_expiration {
        noncurrent_days = var.noncurrent_version_days
      }
      expiration {
        expired_object_delete_marker = true
      }
    }
  }

  rule {
    id     = "expire-athena-results"
    status = "Enabled"
    filter {
      prefix = local.athena_results_prefix
    }
    expiration {
      days = var.athena_results_days
    }
  }

  dynamic "rule" {
    for_each = var.transition_to_ia_days > 0 ? [1] : []
    content {
      id     = "transition-to-standard-ia"
      status = "Enabled"
      filter {}
      transition {
        days          = var.transition_to_ia_days
        storage_class = "STANDARD_IA"
      }
    }
  }

  dynamic "rule" {
    for_each = var.expiration_days > 0 ? [1] : []
    content {
      id     = "expire"
      status = "Enabled"
      filter {}
      expiration {
        days = var.expiration_days
      }
    }
  }
}

resource "aws_s3_bucket_policy" "lake" {
  bucket     = aws_s3_bucket.lake.id
  policy     = data.aws_iam_policy_document.lake_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.lake]
}

data "aws_iam_policy_document" "lake_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"] # a deny: every action, over plain HTTP
    resources = [local.arn.bucket, "${local.arn.bucket}/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# New objects in the lake are announced on the "new data" queue, the bus
# for later processing.
resource "aws_s3_bucket_notification" "lake" {
  bucket = aws_s3_bucket.lake.id
  queue {
    queue_arn     = aws_sqs_queue.new_data.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "${var.lake_prefix}/event_type="
    filter_suffix = var.format == "parquet" ? ".parquet" : local.object_suffix[var.compression]
  }
  depends_on = [aws_sqs_queue_policy.new_data]
}
