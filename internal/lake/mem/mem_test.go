package mem

import (
	"testing"

	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/lake/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) lake.ReadWriteStore { return New() })
}
