// Package kpl reads and writes records aggregated by the Kinesis Producer
// Library: the 4 magic bytes F3 89 9A C2, a protobuf AggregatedRecord, and
// the MD5 of the protobuf bytes. Deaggregate turns one Kinesis record into
// the user records it holds; anything that is not a well-formed aggregate
// (wrong magic, bad checksum, bad protobuf) is one plain record, as the KCL
// does. Aggregate exists so tests can build aggregated records the same way
// the KPL does.
package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Magic starts every aggregated record.
var Magic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// Record is one user record.
type Record struct {
	PartitionKey    string
	ExplicitHashKey string // empty if none
	Data            []byte
}

// Field numbers of the KPL protobuf messages.
const (
	aggPartitionKeyTable    = 1 // repeated string
	aggExplicitHashKeyTable = 2 // repeated string
	aggRecords              = 3 // repeated Record
	recPartitionKeyIndex    = 1 // uint64
	recExplicitHashKeyIndex = 2 // uint64
	recData                 = 3 // bytes
	recTags                 = 4 // repeated Tag, ignored
)

// IsAggregated reports whether data looks like an aggregated record (magic
// bytes and room for a checksum). Deaggregate still checks the checksum.
func IsAggregated(data []byte) bool {
	return len(data) >= len(Magic)+md5.Size && bytes.Equal(data[:len(Magic)], Magic)
}

// Deaggregate returns the user records in data, or nil and an error saying
// why data is not a valid aggregate (callers then treat data as one plain
// record). The returned Data slices point into data.
func Deaggregate(data []byte) ([]Record, error) {
	if !IsAggregated(data) {
		return nil, errors.New("kpl: no aggregation magic")
	}
	body := data[len(Magic) : len(data)-md5.Size]
	sum := md5.Sum(body)
	if !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
		return nil, errors.New("kpl: MD5 checksum mismatch")
	}
	var pkeys, ehkeys []string
	var recs []rawRecord
	for b := body; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("kpl: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == aggPartitionKeyTable && typ == protowire.BytesType,
			num == aggExplicitHashKeyTable && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("kpl: %w", protowire.ParseError(n))
			}
			if num == aggPartitionKeyTable {
				pkeys = append(pkeys, string(v))
			} else {
				ehkeys = append(ehkeys, string(v))
			}
			b = b[n:]
		case num == aggRecords && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("kpl: %w", protowire.ParseError(n))
			}
			r, err := parseRecord(v)
			if err != nil {
				return nil, err
			}
			recs = append(recs, r)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, fmt.Errorf("kpl: %w", protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		if r.pk >= uint64(len(pkeys)) {
			return nil, fmt.Errorf("kpl: record %d: partition key index %d out of range (%d keys)", i, r.pk, len(pkeys))
		}
		out[i] = Record{PartitionKey: pkeys[r.pk], Data: r.data}
		if r.hasEHK {
			if r.ehk >= uint64(len(ehkeys)) {
				return nil, fmt.Errorf("kpl: record %d: explicit hash key index %d out of range", i, r.ehk)
			}
			out[i].ExplicitHashKey = ehkeys[r.ehk]
		}
	}
	return out, nil
}

// rawRecord is a Record message before its key indexes are resolved.
type rawRecord struct {
	pk, ehk uint64
	hasEHK  bool
	data    []byte
}

func parseRecord(b []byte) (rawRecord, error) {
	var r rawRecord
	var hasPK, hasData bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, fmt.Errorf("kpl: record: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == recPartitionKeyIndex && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return r, fmt.Errorf("kpl: record: %w", protowire.ParseError(n))
			}
			r.pk, hasPK = v, true
			b = b[n:]
		case num == recExplicitHashKeyIndex && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return r, fmt.Errorf("kpl: record: %w", protowire.ParseError(n))
			}
			r.ehk, r.hasEHK = v, true
			b = b[n:]
		case num == recData && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return r, fmt.Errorf("kpl: record: %w", protowire.ParseError(n))
			}
			r.data, hasData = v, true
			b = b[n:]
		default: // tags and unknown fields
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return r, fmt.Errorf("kpl: record: %w", protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if !hasPK || !hasData {
		return r, errors.New("kpl: record without partition_key_index or data")
	}
	return r, nil
}

// Aggregate builds an aggregated record holding recs, as the KPL does:
// partition and explicit hash keys deduplicated into tables.
func Aggregate(recs []Record) []byte {
	var body []byte
	pkIndex := map[string]uint64{}
	ehkIndex := map[string]uint64{}
	var pks, ehks []string
	type ref struct {
		pk, ehk uint64
		hasEHK  bool
	}
	refs := make([]ref, len(recs))
	for i, r := range recs {
		idx, ok := pkIndex[r.PartitionKey]
		if !ok {
			idx = uint64(len(pks))
			pkIndex[r.PartitionKey] = idx
			pks = append(pks, r.PartitionKey)
		}
		refs[i].pk = idx
		if r.ExplicitHashKey != "" {
			idx, ok := ehkIndex[r.ExplicitHashKey]
			if !ok {
				idx = uint64(len(ehks))
				ehkIndex[r.ExplicitHashKey] = idx
				ehks = append(ehks, r.ExplicitHashKey)
			}
			refs[i].ehk, refs[i].hasEHK = idx, true
		}
	}
	for _, k := range pks {
		body = protowire.AppendTag(body, aggPartitionKeyTable, protowire.BytesType)
		body = protowire.AppendString(body, k)
	}
	for _, k := range ehks {
		body = protowire.AppendTag(body, aggExplicitHashKeyTable, protowire.BytesType)
		body = protowire.AppendString(body, k)
	}
	for i, r := range recs {
		var rb []byte
		rb = protowire.AppendTag(rb, recPartitionKeyIndex, protowire.VarintType)
		rb = protowire.AppendVarint(rb, refs[i].pk)
		if refs[i].hasEHK {
			rb = protowire.AppendTag(rb, recExplicitHashKeyIndex, protowire.VarintType)
			rb = protowire.AppendVarint(rb, refs[i].ehk)
		}
		rb = protowire.AppendTag(rb, recData, protowire.BytesType)
		rb = protowire.AppendBytes(rb, r.Data)
		body = protowire.AppendTag(body, aggRecords, protowire.BytesType)
		body = protowire.AppendBytes(body, rb)
	}
	sum := md5.Sum(body)
	out := append(append([]byte(nil), Magic...), body...)
	return append(out, sum[:]...)
}
