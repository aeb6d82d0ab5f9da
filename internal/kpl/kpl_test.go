package kpl

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestRoundTrip(t *testing.T) {
	var recs []Record
	for i := range 50 {
		r := Record{PartitionKey: fmt.Sprintf("pk-%d", i%7), Data: []byte(fmt.Sprintf(`{"event_uuid":"u%d"}`, i))}
		if i%5 == 0 {
			r.ExplicitHashKey = fmt.Sprint(i % 3)
		}
		recs = append(recs, r)
	}
	recs = append(recs, Record{PartitionKey: "empty", Data: []byte{}})
	agg := Aggregate(recs)
	if !IsAggregated(agg) {
		t.Fatal("aggregate not recognised")
	}
	got, err := Deaggregate(agg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if got[i].PartitionKey != recs[i].PartitionKey || got[i].ExplicitHashKey != recs[i].ExplicitHashKey || !bytes.Equal(got[i].Data, recs[i].Data) {
			t.Fatalf("record %d: got %+v, want %+v", i, got[i], recs[i])
		}
	}
}

// TestKPLWireFormat decodes a record built field by field the way the KPL
// serialises it (tables first, a tag on a record, unknown fields), not with
// our Aggregate.
func TestKPLWireFormat(t *testing.T) {
	var body []byte
	body = protowire.AppendTag(body, 1, protowire.BytesType)
	body = protowire.AppendString(body, "key-a")
	body = protowire.AppendTag(body, 1, protowire.BytesType)
	body = protowire.AppendString(body, "key-b")
	for i, data := range []string{"first", "second"} {
		var rb []byte
		rb = protowire.AppendTag(rb, 1, protowire.VarintType)
		rb = protowire.AppendVarint(rb, uint64(1-i))
		rb = protowire.AppendTag(rb, 3, protowire.BytesType)
		rb = protowire.AppendString(rb, data)
		// Tag { key = "k", value = "v" }
		var tag []byte
		tag = protowire.AppendTag(tag, 1, protowire.BytesType)
		tag = protowire.AppendString(tag, "k")
		tag = protowire.AppendTag(tag, 2, protowire.BytesType)
		tag = protowire.AppendString(tag, "v")
		rb = protowire.AppendTag(rb, 4, protowire.BytesType)
		rb = protowire.AppendBytes(rb, tag)
		body = protowire.AppendTag(body, 3, protowire.BytesType)
		body = protowire.AppendBytes(body, rb)
	}
	body = protowire.AppendTag(body, 99, protowire.VarintType) // a field from the future
	body = protowire.AppendVarint(body, 7)
	sum := md5.Sum(body)
	data := append(append(append([]byte{}, Magic...), body...), sum[:]...)
	got, err := Deaggregate(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].PartitionKey != "key-b" || string(got[0].Data) != "first" || got[1].PartitionKey != "key-a" || string(got[1].Data) != "second" {
		t.Fatalf("got %+v", got)
	}
}

func TestNotAggregates(t *testing.T) {
	good := Aggregate([]Record{{PartitionKey: "p", Data: []byte("x")}})
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	badIndex := func() []byte {
		var rb, body []byte
		rb = protowire.AppendTag(rb, 1, protowire.VarintType)
		rb = protowire.AppendVarint(rb, 5)
		rb = protowire.AppendTag(rb, 3, protowire.BytesType)
		rb = protowire.AppendString(rb, "x")
		body = protowire.AppendTag(body, 3, protowire.BytesType)
		body = protowire.AppendBytes(body, rb)
		sum := md5.Sum(body)
		return append(append(append([]byte{}, Magic...), body...), sum[:]...)
	}()
	truncated := func() []byte {
		body := []byte{0x1a, 0x10, 0x08} // length 16, only 1 byte follows
		sum := md5.Sum(body)
		return append(append(append([]byte{}, Magic...), body...), sum[:]...)
	}()
	for name, data := range map[string][]byte{
		"plain JSON":        []byte(`{"event_uuid":"u"}`),
		"magic only":        Magic,
		"bad checksum":      badSum,
		"key index too big": badIndex,
		"truncated field":   truncated,
	} {
		if recs, err := Deaggregate(data); err == nil {
			t.Errorf("%s: Deaggregate = %v, want an error", name, recs)
		}
	}
}

func FuzzDeaggregate(f *testing.F) {
	f.Add(Aggregate([]Record{{PartitionKey: "p", Data: []byte("x")}, {PartitionKey: "q", ExplicitHashKey: "1", Data: []byte("y")}}))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := Deaggregate(data)
		if err != nil {
			return
		}
		// A valid aggregate re-aggregates to something that decodes the same.
		again, err := Deaggregate(Aggregate(recs))
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-aggregation failed: %v", err)
		}
		for i := range recs {
			if !bytes.Equal(again[i].Data, recs[i].Data) || again[i].PartitionKey != recs[i].PartitionKey {
				t.Fatalf("record %d changed", i)
			}
		}
	})
}
