package lakeurl_test

import (
	"context"
	"fmt"
	"log"

	"github.com/eventlake/eventlake/internal/lake/lakeurl"
)

func ExampleOpen() {
	ctx := context.Background()
	s, err := lakeurl.Open(ctx, "mem://", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			log.Fatal(err)
		}
	}()
	if err := s.Create(ctx, "event_type=a/x.jsonl", []byte("{}\n")); err != nil {
		log.Fatal(err)
	}
	for e, err := range s.List(ctx, "") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(s, e.Key, e.Size)
	}
	// Output: mem:// event_type=a/x.jsonl 3
}
