package lake

import (
	"fmt"
	"strings"
)

// DDL is the Athena CREATE TABLE statement for a lake at location
// (s3://bucket/prefix/) written with layout and format: the same table the
// Terraform configuration creates in Glue, with partition projection, so
// Athena needs no crawler. With no eventTypes, event_type is injected:
// queries must name it.
func DDL(table, location string, layout Layout, format Format, eventTypes []string) string {
	location = strings.TrimSuffix(location, "/") + "/"
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (\n", table)
	cols := []string{"event_uuid string", "event_name string", "event_subtype string", "created_at string", "created_datetime string"}
	if format == Parquet {
		cols = []string{"event_uuid string", "event_name string", "event_subtype string", "created_at string", "created_datetime timestamp", "event string"}
	}
	b.WriteString("  " + strings.Join(cols, ",\n  ") + "\n)\n")
	var parts []string
	for _, k := range layout.Keys() {
		parts = append(parts, k+" string")
	}
	fmt.Fprintf(&b, "PARTITIONED BY (%s)\n", strings.Join(parts, ", "))
	if format == Parquet {
		b.WriteString("STORED AS PARQUET\n")
	} else {
		b.WriteString("ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\nSTORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'\n  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n")
	}
	fmt.Fprintf(&b, "LOCATION '%s'\nTBLPROPERTIES (\n  'projection.enabled' = 'true',\n", location)
	props := []string{}
	if len(eventTypes) > 0 {
		props = append(props, "'projection.event_type.type' = 'enum'", fmt.Sprintf("'projection.event_type.values' = '%s'", strings.Join(eventTypes, ",")))
	} else {
		props = append(props, "'projection.event_type.type' = 'injected'")
	}
	if layout != LayoutType {
		props = append(props, "'projection.created_date.type' = 'date'", "'projection.created_date.format' = 'yyyy-MM-dd'",
			"'projection.created_date.range' = '2020-01-01,NOW'", "'projection.created_date.interval' = '1'", "'projection.created_date.interval.unit' = 'DAYS'")
	}
	if layout == LayoutHourly {
		props = append(props, "'projection.created_hour.type' = 'integer'", "'projection.created_hour.range' = '0,23'", "'projection.created_hour.digits' = '2'")
	}
	props = append(props, fmt.Sprintf("'storage.location.template' = '%s%s'", location, layout.Template()))
	b.WriteString("  " + strings.Join(props, ",\n  ") + "\n);\n")
	return b.String()
}
