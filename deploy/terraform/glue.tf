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

resource "aws_glue_catalog_table" "events" {
  name          = "events"
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(
    {
      "classification"            = "json"
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
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters = {
        "ignore.malformed.json" = "false"
        "case.insensitive"      = "false"
      }
    }

    columns {
      name = "event_uuid"
      type = "string"
    }
    columns {
      name = "event_name"
      type = "string"
    }
    columns {
      name    = "created_at"
      type    = "string"
      comment = "as sent: seconds, milliseconds, ... as a number or a string"
    }
    columns {
      name    = "created_datetime"
      type    = "string"
      comment = "ISO 8601 UTC; from_iso8601_timestamp(created_datetime) in Athena"
    }
    columns {
      name = "event_subtype"
      type = "string"
    }
  }
}
