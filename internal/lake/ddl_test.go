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
