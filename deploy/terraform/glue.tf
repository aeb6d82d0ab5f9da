# The Glue table lets Athena query the lake with partition projection: no
# crawler, no partition maintenance. Its location template is the layout
# the function writes (a test compares it with the code's).
resource "aws_glue_catalog_database" "lake" {
  name = replace("${local.name}_lake", "-", "_")
}

locals {
  partition_keys = {
    daily  = ["event_type", "created_date"]
    type   = ["event_type"]
    hourly = ["event_type", "created_date", "created_hour"]
  }
  event_type_projection = length(var.event_types) > 0 ? {
    "projection.event_type.type"   = "enum"
    "projection.event_type.values" = join(",", var.event_types)
    } : {
    "projection.event_type.type" = "injected"
  }
  date_projection = {
    "projection.created_date.type"          = "date"
    "projection.created_date.format"        = "yyyy-MM-dd"
    "projection.created_date.range"         = "2020-01-01,NOW"
    "projection.created_date.interval"      = "1"
    "projection.created_date.interval.unit" = "DAYS"
  }
  hour_projection = {
    "projection.created_hour.type"   = "integer"
    "projection.created_hour.range"  = "0,23"
    "projection.created_hour.digits" = "2"
  }
}

# Every stored object, as written. Queries use the view "events" below,
# which shows each event once after a compaction.
resource "aws_glue_catalog_table" "events" {
  name          = "events_objects"
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(
    {
      "classification"            = var.format == "parquet" ? "parquet" : "json"
      "projection.enabled"        = "true"
      "storage.location.template" = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}/${local.partition_templates[var.layout]}"
    },
    local.event_type_projection,
    var.layout != "type" ? local.date_projection : {},
    var.layout == "hourly" ? local.hour_projection : {},
  )

  dynamic "partition_keys" {
    for_each = local.partition_keys[var.layout]
    content {
      name = partition_keys.value
      type = "string"
    }
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}/"
    input_format  = local.storage[var.format].input_format
    output_format = local.storage[var.format].output_format

    ser_de_info {
      serialization_library = local.storage[var.format].serde
      parameters            = local.storage[var.format].serde_parameters
    }

    dynamic "columns" {
      for_each = local.storage[var.format].columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

locals {
  storage = {
    jsonl = {
      input_format  = "org.apache.hadoop.mapred.TextInputFormat"
      output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
      serde         = "org.openx.data.jsonserde.JsonSerDe"
      serde_parameters = {
        "ignore.malformed.json" = "false"
        "case.insensitive"      = "false"
      }
      columns = [
        { name = "event_uuid", type = "string", comment = null },
        { name = "event_name", type = "string", comment = null },
        { name = "event_subtype", type = "string", comment = null },
        { name = "created_at", type = "string", comment = "as sent: seconds, milliseconds, ... as a number or a string" },
        { name = "created_datetime", type = "string", comment = "ISO 8601 UTC; from_iso8601_timestamp(created_datetime) in Athena" },
      ]
    }
    parquet = {
      input_format     = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
      output_format    = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
      serde            = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      serde_parameters = {}
      columns = [
        { name = "event_uuid", type = "string", comment = null },
        { name = "event_name", type = "string", comment = null },
        { name = "event_subtype", type = "string", comment = null },
        { name = "created_at", type = "string", comment = "as sent: seconds, milliseconds, ... as a number or a string" },
        { name = "created_datetime", type = "timestamp", comment = null },
        { name = "event", type = "string", comment = "the whole enriched event, JSON" },
      ]
    }
  }
}

locals {
  # lake.ManifestPrefix: no path segment of a table's location may begin
  # with '_' or '.', which Athena skips as hidden (a test checks both).
  manifest_prefix = "eventlake-compaction/"
}

# The compaction manifests (one JSON line each): which objects of a
# partition are live and which are superseded.
resource "aws_glue_catalog_table" "compaction" {
  name          = "events_compaction"
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  parameters    = { "classification" = "json" }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}/${local.manifest_prefix}"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
    }

    columns {
      name = "folder"
      type = "string"
    }
    columns {
      name = "seq"
      type = "bigint"
    }
    columns {
      name = "live_keys"
      type = "array<string>"
    }
    columns {
      name = "superseded_keys"
      type = "array<string>"
    }
  }
}

# The view queries use: the same SQL as "eventlake ddl" prints and
# "eventlake query" runs on DuckDB (a test compares the template with the
# code). Run it once: terraform output -raw create_events_view.
locals {
  lake_location = "s3://${aws_s3_bucket.lake.bucket}/${var.lake_prefix}/"
  view_select = join(", ", concat(
    ["o.event_uuid", "o.event_name", "o.event_type", "o.event_subtype", "o.created_at", "o.created_datetime"],
    var.format == "parquet" ? ["o.event"] : [],
    [for k in slice(local.partition_keys[var.layout], 1, length(local.partition_keys[var.layout])) : "o.${k}"],
  ))
  create_events_view = "CREATE OR REPLACE VIEW events AS\n${templatefile("${path.module}/events_view.sql.tftpl", {
    select_list = local.view_select
    objects     = aws_glue_catalog_table.events.name
    compaction  = aws_glue_catalog_table.compaction.name
    key         = "substr(o.\"$path\", ${length(local.lake_location) + 1})"
  })}"
}

resource "aws_athena_named_query" "create_events_view" {
  name        = "${local.name}-create-events-view"
  description = "Creates the view events: each event once, whatever compaction is doing."
  database    = aws_glue_catalog_database.lake.name
  workgroup   = aws_athena_workgroup.lake.name
  query       = local.create_events_view
}

# Queries of the lake run in this workgroup: results go to the lake bucket
# under athena-results/ (outside the lake, expired after
# athena_results_days), encrypted with the key, whatever a client asks
# for. Users need kms:Decrypt and kms:GenerateDataKey on the key.
resource "aws_athena_workgroup" "lake" {
  name = local.name

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true

    result_configuration {
      output_location = "s3://${aws_s3_bucket.lake.bucket}/${local.athena_results_prefix}"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.main.arn
      }
    }
  }
}
