package tableurl_test

import (
	"fmt"

	"github.com/eventlake/eventlake/internal/table/tableurl"
)

func ExampleParse() {
	l, err := tableurl.Parse("glue://eventlake/events?warehouse=s3://lake/warehouse&region=eu-west-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.Database, l.Table, l.Warehouse, l.Region)
	_, err = tableurl.Parse("glue://eventlake/events?warehouse=s3://lake/warehouse&endpoint=http://localhost")
	fmt.Println(err)
	// Output:
	// eventlake events s3://lake/warehouse eu-west-1
	// table URL "glue://eventlake/events?warehouse=s3://lake/warehouse&endpoint=http://localhost": unknown parameter "endpoint" (want warehouse, region, catalog-id)
}
