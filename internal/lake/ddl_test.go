package lake

import (
	"strings"
	"testing"
)

func TestDDLProjectsTheLayout(t *testing.T) {
	for _, l := range []Layout{LayoutDaily, LayoutType, LayoutHourly} {
		ddl := DDL("events", "s3://b/events", l, JSONL, nil)
		if !strings.Contains(ddl, "'storage.location.template' = 's3://b/events/"+l.Template()+"'") {
			t.Errorf("%s: template missing:\n%s", l, ddl)
		}
		for _, k := range l.Keys() {
			if !strings.Contains(ddl, k+" string") {
				t.Errorf("%s: partition key %s missing", l, k)
			}
		}
		if strings.Contains(ddl, "created_hour") != (l == LayoutHourly) || strings.Contains(ddl, "projection.created_date.type") != (l != LayoutType) {
			t.Errorf("%s: wrong projections:\n%s", l, ddl)
		}
	}
	if ddl := DDL("events", "s3://b/p/", LayoutDaily, Parquet, []string{"a", "b"}); !strings.Contains(ddl, "STORED AS PARQUET") || !strings.Contains(ddl, "'projection.event_type.values' = 'a,b'") || strings.Contains(ddl, "p//") {
		t.Errorf("parquet/enum DDL:\n%s", ddl)
	}
}

func TestDDLDefinesTheView(t *testing.T) {
	ddl := DDL("ev", "s3://bucket/pre", LayoutHourly, Parquet, nil)
	for _, want := range []string{
		"CREATE EXTERNAL TABLE IF NOT EXISTS ev_objects (",
		"CREATE EXTERNAL TABLE IF NOT EXISTS ev_compaction (",
		"LOCATION 's3://bucket/pre/eventlake-compaction/'",
		"CREATE OR REPLACE VIEW ev AS\n" + ViewSQL("o.event_uuid, o.event_name, o.event_type, o.event_subtype, o.created_at, o.created_datetime, o.event, o.created_date, o.created_hour",
			"ev_objects", "ev_compaction", `substr(o."$path", 17)`) + ";\n",
	} {
		if !strings.Contains(ddl, want) {
			t.Errorf("DDL lacks %q:\n%s", want, ddl)
		}
	}
	// "$path" is s3://bucket/pre/<key>: the offset starts the key.
	if p := "s3://bucket/pre/event_type=a/x.jsonl"; p[17-1:] != "event_type=a/x.jsonl" {
		t.Errorf("offset 17 gives %q", p[16:])
	}
}
