package lake

import (
	"fmt"
	"strings"
)

// ViewSQL is the query behind the view "events" that readers use: the rows
// of objects (a table of every stored object) that the latest compaction
// manifests, in the table compaction, make visible (see Manifest).
// keyExpr is a row's object key relative to the lake's root; selectList
// the columns. The same text runs on Athena and on DuckDB, which is how
// "eventlake query" gives the answers Athena gives.
func ViewSQL(selectList, objects, compaction, keyExpr string) string {
	return fmt.Sprintf(`WITH latest AS (
  SELECT c.live_keys, c.superseded_keys
  FROM %[2]s c
  JOIN (SELECT folder, max(seq) AS seq FROM %[2]s GROUP BY folder) m
    ON c.folder = m.folder AND c.seq = m.seq
), live AS (
  SELECT k FROM latest CROSS JOIN UNNEST(latest.live_keys) AS t(k)
), superseded AS (
  SELECT k FROM latest CROSS JOIN UNNEST(latest.superseded_keys) AS t(k)
)
SELECT %[1]s
FROM %[3]s o
WHERE CASE WHEN strpos(%[4]s, '/%[5]s') > 0
  THEN %[4]s IN (SELECT k FROM live)
  ELSE %[4]s NOT IN (SELECT k FROM superseded) END`, selectList, compaction, objects, keyExpr, CompactedPrefix)
}

// DDL is the Athena statements for a lake at location (s3://bucket/prefix/)
// written with layout and format: the table <table>_objects over every
// stored object, with partition projection, so Athena needs no crawler
// (the table Terraform creates in Glue); the table <table>_compaction over
// the compaction manifests; and the view <table> that queries use, which
// shows each event once after a compaction (ViewSQL). With no eventTypes,
// event_type is injected: queries must name it.
func DDL(table, location string, layout Layout, format Format, eventTypes []string) string {
	location = strings.TrimSuffix(location, "/") + "/"
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS %s_objects (\n", table)
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
	b.WriteString("  " + strings.Join(props, ",\n  ") + "\n);\n\n")
	fmt.Fprintf(&b, `CREATE EXTERNAL TABLE IF NOT EXISTS %s_compaction (
  folder string,
  seq bigint,
  live_keys array<string>,
  superseded_keys array<string>
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION '%s%s';

`, table, location, ManifestPrefix)
	sel := []string{"o.event_uuid", "o.event_name", "o.event_type", "o.event_subtype", "o.created_at", "o.created_datetime"}
	if format == Parquet {
		sel = append(sel, "o.event")
	}
	for _, k := range layout.Keys()[1:] {
		sel = append(sel, "o."+k)
	}
	keyExpr := fmt.Sprintf(`substr(o."$path", %d)`, len(location)+1)
	fmt.Fprintf(&b, "CREATE OR REPLACE VIEW %s AS\n%s;\n", table, ViewSQL(strings.Join(sel, ", "), table+"_objects", table+"_compaction", keyExpr))
	return b.String()
}
