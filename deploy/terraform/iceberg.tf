# The Apache Iceberg table the landing function lands into when
# var.iceberg_table is true (docs/iceberg.md, "Glue and the Lambda"):
# the table events in the Glue database <name>_iceberg, its data and metadata
# files in the lake bucket under var.iceberg_prefix. Terraform makes the
# database only: the function creates the table at its first start with
# eventlake's schema, partition spec (event_type, day), sort order and
# properties (commit.retry.num-retries = 0 among them), which
# aws_glue_catalog_table's iceberg_input (metadata_operation and version
# only) cannot express; a table made here would be unpartitioned.
locals {
  iceberg            = var.iceberg_table
  iceberg_database   = replace("${local.name}_iceberg", "-", "_")
  iceberg_table_name = "events"
  # EVENTLAKE_TABLE, as internal/table/tableurl parses it.
  iceberg_url = "glue://${local.iceberg_database}/${local.iceberg_table_name}?warehouse=s3://${local.bucket}/${var.iceberg_prefix}"
  iceberg_arn = {
    catalog  = "arn:${local.partition}:glue:${var.region}:${local.account_id}:catalog"
    database = "arn:${local.partition}:glue:${var.region}:${local.account_id}:database/${local.iceberg_database}"
    table    = "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${local.iceberg_database}/${local.iceberg_table_name}"
  }
}

resource "aws_glue_catalog_database" "iceberg" {
  count       = local.iceberg ? 1 : 0
  name        = local.iceberg_database
  description = "eventlake's Iceberg table of events, committed by the landing function"

  lifecycle {
    # The bucket's expiration and storage-class rules apply to every key;
    # Iceberg files expire with their snapshots, never under a live table.
    precondition {
      condition     = var.expiration_days == 0
      error_message = "iceberg_table needs expiration_days = 0: a lifecycle expiration would delete files a live Iceberg table references."
    }
    precondition {
      condition     = var.iceberg_prefix != var.lake_prefix && !startswith("${var.iceberg_prefix}/", "${var.lake_prefix}/") && !startswith("${var.lake_prefix}/", "${var.iceberg_prefix}/")
      error_message = "iceberg_prefix and lake_prefix must not contain one another: compaction and the Athena table read the lake prefix."
    }
  }
}
