package table

import (
	"time"

	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/lake"
)

// RowOf is the typed row of an enriched event, as lake's Parquet objects
// hold it: info from event.Enricher.Check (or Enrich), line the enriched
// event. It belongs in package lake next to Row (lake's parquetOf builds
// the same row inline); it lives here until that export lands.
func RowOf(info event.Info, line []byte) lake.Row {
	return lake.Row{
		EventUUID: string(info.UUID), EventName: string(info.Name), EventType: string(info.Type),
		EventSubtype: string(info.Subtype), CreatedAt: string(info.CreatedAt),
		CreatedDatetime: time.Unix(info.Sec, int64(info.Nsec)).UTC(), Event: string(line),
	}
}
