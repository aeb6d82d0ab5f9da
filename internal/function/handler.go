package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/eventlake/eventlake/internal/deadletter"
	"github.com/eventlake/eventlake/internal/event"
	"github.com/eventlake/eventlake/internal/kpl"
	"github.com/eventlake/eventlake/internal/lake"
	"github.com/eventlake/eventlake/internal/pipeline"
)

// DeadLetterSender sends dead-letter messages to a queue.
type DeadLetterSender interface {
	// SendAll sends every body; a nil error means all were accepted.
	SendAll(ctx context.Context, bodies [][]byte) error
}

// Handler handles the function's invocations.
type Handler struct {
	cfg     Config
	store   lake.Store
	w       *lake.Writer
	sink    pipeline.Sink // where batches land: w, or Deps.Sink
	dlq     DeadLetterSender
	log     *slog.Logger
	metrics io.Writer
	name    string
	now     func() time.Time
	recent  windows
}

// Deps are what the handler talks to.
type Deps struct {
	Lake lake.Store // required
	// Sink, if set, is where batches land instead of the lake's objects:
	// an Iceberg table (internal/table's Sink, whose dead letters go to the
	// lake). Dead letters sent to the queue do not reach it.
	Sink         pipeline.Sink
	DeadLetters  DeadLetterSender // nil: dead letters go to the lake
	Log          *slog.Logger     // nil: discard
	Metrics      io.Writer        // EMF documents, one per line (stdout in Lambda); nil: discard
	FunctionName string
}

// New returns a Handler.
func New(cfg Config, d Deps) (*Handler, error) {
	if d.Lake == nil {
		return nil, errors.New("function: no lake store")
	}
	w, err := lake.NewWriter(d.Lake, &lake.WriterOptions{Compression: cfg.Compression, Format: cfg.Format})
	if err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = io.Discard
	}
	sink := d.Sink
	if sink == nil {
		sink = w
	}
	return &Handler{cfg: cfg, store: d.Lake, w: w, sink: sink, dlq: d.DeadLetters, log: d.Log, metrics: d.Metrics, name: d.FunctionName, now: time.Now}, nil
}

// Invoke handles a raw invocation: a Kinesis or an SQS event, told apart by
// the records' event source.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		Records []struct {
			EventSource    string `json:"eventSource"`
			EventSourceSQS string `json:"EventSource"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("invocation is not a JSON event: %w", err)
	}
	if len(probe.Records) == 0 {
		return map[string]any{"batchItemFailures": []any{}}, nil
	}
	src := probe.Records[0].EventSource
	if src == "" {
		src = probe.Records[0].EventSourceSQS
	}
	switch src {
	case "aws:kinesis":
		var ev events.KinesisEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("bad Kinesis event: %w", err)
		}
		return h.Kinesis(ctx, ev)
	case "aws:sqs":
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("bad SQS event: %w", err)
		}
		return h.SQS(ctx, ev)
	default:
		return nil, fmt.Errorf("unsupported event source %q: want aws:kinesis or aws:sqs", src)
	}
}

// Kinesis handles one batch from one shard. On a write failure it reports
// the batch's first record: the batch is the unit of durability, because its
// objects are named by the batch's first and last sequence numbers, so only
// a retry of the same batch finds the objects already written and adds
// nothing. Bad data never fails a batch.
func (h *Handler) Kinesis(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	var resp events.KinesisEventResponse
	if len(ev.Records) == 0 {
		return resp, nil
	}
	start := h.now()
	first, last := ev.Records[0], ev.Records[len(ev.Records)-1]
	shard, _, _ := strings.Cut(first.EventID, ":")
	failAll := func() events.KinesisEventResponse {
		return events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: first.Kinesis.SequenceNumber}}}
	}
	log := h.log.With("source", "kinesis", "shard", shard, "first_sequence", first.Kinesis.SequenceNumber, "records", len(ev.Records))

	wctx, cancel, ok := h.workContext(ctx)
	defer cancel()
	if !ok {
		log.Warn("too close to the deadline to start; reporting the batch as not done")
		return failAll(), nil
	}

	var recs []pipeline.Record
	oldest := start
	aggregated := 0
	for _, r := range ev.Records {
		if t := r.Kinesis.ApproximateArrivalTimestamp.Time; !t.IsZero() && t.Before(oldest) {
			oldest = t
		}
		src := shard + ":" + r.Kinesis.SequenceNumber
		data := r.Kinesis.Data
		if kpl.IsAggregated(data) {
			if subs, err := kpl.Deaggregate(data); err == nil {
				aggregated++
				for j, s := range subs {
					recs = append(recs, pipeline.Record{Data: s.Data, Source: src + ":" + strconv.Itoa(j)})
				}
				continue
			}
		}
		recs = append(recs, pipeline.Record{Data: data, Source: src})
	}
	name := lake.Name{Source: lake.SourceStem(shard), First: lake.SafePosition(first.Kinesis.SequenceNumber), Last: lake.SafePosition(last.Kinesis.SequenceNumber)}
	window := first.EventSourceArn + "/" + shard
	res, err := h.land(wctx, name, recs, h.recent.seen(window, first.Kinesis.SequenceNumber))
	if err != nil {
		log.Error("batch not written; reporting it for retry", "error", err)
		resp = failAll()
	} else {
		h.recent.add(window, first.Kinesis.SequenceNumber, last.Kinesis.SequenceNumber, res.UUIDs)
	}
	log.Info("batch done", "events_in", res.Stats.In, "written", res.Stats.Written, "already_present", res.Stats.AlreadyPresent,
		"dead_letters", res.Stats.DeadLetters, "duplicates", res.Stats.Duplicates, "objects", res.Stats.Objects,
		"aggregated_records", aggregated, "failed", err != nil)
	h.emit("kinesis", res.Stats, h.now().Sub(start), start.Sub(oldest), err != nil)
	return resp, nil
}

// SQS handles one batch of ingestion-queue messages (each one event or
// NDJSON of several). Messages whose events are all written, or are dead
// letters sent, succeed; the others are reported by id.
func (h *Handler) SQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	if len(ev.Records) == 0 {
		return resp, nil
	}
	start := h.now()
	queue := ev.Records[0].EventSourceARN
	if i := strings.LastIndexByte(queue, ':'); i >= 0 {
		queue = queue[i+1:]
	}
	log := h.log.With("source", "sqs", "queue", queue, "messages", len(ev.Records))
	failIdx := func(idx []int) {
		for _, i := range idx {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		}
	}
	all := make([]int, len(ev.Records))
	for i := range all {
		all[i] = i
	}
	wctx, cancel, ok := h.workContext(ctx)
	defer cancel()
	if !ok {
		log.Warn("too close to the deadline to start; reporting every message as not done")
		failIdx(all)
		return resp, nil
	}
	recs := make([]pipeline.Record, len(ev.Records))
	oldest := start
	for i, m := range ev.Records {
		recs[i] = pipeline.Record{Data: []byte(m.Body), Source: "sqs:" + queue + ":" + m.MessageId, Lines: true}
		if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil {
			if t := time.UnixMilli(ms); t.Before(oldest) {
				oldest = t
			}
		}
	}
	first, last := ev.Records[0].MessageId, ev.Records[len(ev.Records)-1].MessageId
	name := lake.Name{Source: lake.SourceStem("sqs-" + queue), First: lake.SafePosition(first), Last: lake.SafePosition(last)}
	window := ev.Records[0].EventSourceARN
	res, err := h.land(wctx, name, recs, h.recent.seen(window, ""))
	if err != nil {
		log.Error("some messages not written; reporting them for retry", "error", err, "failed", len(res.Failed))
		failIdx(res.Failed)
	} else {
		h.recent.add(window, "", "", res.UUIDs)
	}
	log.Info("batch done", "events_in", res.Stats.In, "written", res.Stats.Written, "already_present", res.Stats.AlreadyPresent,
		"dead_letters", res.Stats.DeadLetters, "duplicates", res.Stats.Duplicates, "objects", res.Stats.Objects, "failed_messages", len(resp.BatchItemFailures))
	h.emit("sqs", res.Stats, h.now().Sub(start), start.Sub(oldest), err != nil)
	return resp, nil
}

// workContext returns a context that ends DeadlineMargin before the
// invocation's deadline, and false if there is no time left to start.
func (h *Handler) workContext(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	dl, ok := ctx.Deadline()
	if !ok {
		c, cancel := context.WithCancel(ctx)
		return c, cancel, true
	}
	stop := dl.Add(-h.cfg.DeadlineMargin)
	c, cancel := context.WithDeadline(ctx, stop)
	return c, cancel, h.now().Before(stop)
}

// land writes the batch and sends its dead letters; seen, if not nil, says
// which event_uuids earlier batches wrote. On a dead-letter send
// failure, the records that had dead letters are added to Failed.
func (h *Handler) land(ctx context.Context, name lake.Name, recs []pipeline.Record, seen func([]byte) bool) (pipeline.LandResult, error) {
	res, err := pipeline.Land(ctx, h.sink, name, recs, &pipeline.LandOptions{
		Layout:          h.cfg.Layout,
		Event:           event.Options{MaxSize: h.cfg.MaxEventSize},
		KeepDeadLetters: h.dlq != nil,
		Seen:            seen,
		CollectUUIDs:    true,
	})
	if len(res.DeadLetters) == 0 {
		return res, err
	}
	if derr := h.sendDeadLetters(ctx, res.Name, res.DeadLetters); derr != nil {
		seen := map[int]bool{}
		for _, i := range res.Failed {
			seen[i] = true
		}
		for _, i := range res.DeadLetterRecords {
			if !seen[i] {
				seen[i] = true
				res.Failed = append(res.Failed, i)
			}
		}
		err = errors.Join(err, derr)
	}
	return res, err
}

// pointer is the queue message for a dead letter too large for the queue:
// the record itself is in the lake at LakeKey.
type pointer struct {
	Reason  string `json:"reason"`
	Error   string `json:"error"`
	Source  string `json:"source"`
	Size    int64  `json:"size"`
	LakeKey string `json:"lake_key"`
}

func (h *Handler) sendDeadLetters(ctx context.Context, name lake.Name, dls []deadletter.Record) error {
	bodies := make([][]byte, 0, len(dls))
	for i, d := range dls {
		body := asciiJSON(deadletter.Append(nil, d))
		if len(body) > h.cfg.DeadLetterMaxBytes {
			key := fmt.Sprintf("%s%s%s-%d.json", lake.DeadLetterPrefix, lake.DeadLetterDir(d.Reason), name, i)
			if err := h.store.Create(ctx, key, body); err != nil && !errors.Is(err, lake.ErrExist) {
				return fmt.Errorf("store large dead letter: %w", err)
			}
			body, _ = json.Marshal(pointer{Reason: d.Reason, Error: d.Error, Source: d.Source, Size: d.Size, LakeKey: key})
			body = asciiJSON(body)
		}
		bodies = append(bodies, body)
	}
	return h.dlq.SendAll(ctx, bodies)
}

// asciiJSON escapes every non-ASCII character of JSON text as \uXXXX
// (surrogate pairs above U+FFFF). Non-ASCII bytes occur only inside JSON
// strings, so the meaning is unchanged, and the message is accepted by every
// SQS implementation, whatever characters the original event held.
func asciiJSON(b []byte) []byte {
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, r := range string(b) {
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, "\\u%04x\\u%04x", r1, r2)
		default:
			out = fmt.Appendf(out, "\\u%04x", r)
		}
	}
	return out
}
