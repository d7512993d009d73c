package sensor

import (
	"context"
	"time"
)

// Reading is one value a device reported for one of its profile's
// resources. The typed ingestion API takes readings by handle and resource
// index so that the hot path hashes no strings.
type Reading struct {
	Device Handle
	// Resource indexes the device profile's Resources.
	Resource uint8
	// Quality is set by ingestion: QualityGood, or QualityLate for a reading
	// older than the latest one held (kept for history, never "latest").
	Quality Quality
	// Seq is the device's sequence number for this resource: a reading with
	// the same (device, resource, Seq) as one already accepted is a
	// duplicate and is absorbed. Zero means unnumbered: never a duplicate.
	Seq uint64
	// Value is the reading, in Unit.
	Value float64
	// Unit must be empty (the resource's unit) or equal to it.
	Unit string
	// Observed is when the device measured the value (event time).
	Observed time.Time
	// Received is when govkit received it; ingestion sets it when zero.
	Received time.Time
}

// Quality describes an accepted reading.
type Quality uint8

const (
	// QualityGood: the reading is the newest of its resource.
	QualityGood Quality = iota
	// QualityLate: a newer reading was already held; this one goes to
	// history and to rules that look at windows, never to "latest".
	QualityLate
)

// String returns "good" or "late".
func (q Quality) String() string {
	switch q {
	case QualityGood:
		return "good"
	case QualityLate:
		return "late"
	}
	return "unknown"
}

// Observer sees every reading that ingestion accepts, batch by batch, in
// the order accepted and after the latest-value state has been updated.
// The rule engine is one; a vital-signs evaluator is another. Observe must
// not keep the slice, which ingestion reuses.
type Observer interface {
	Observe(batch []Reading)
}

// Sink stores raw readings for history (for example the PostgreSQL sink in
// adapters/postgres, which batches with COPY). Write returns nil only once
// the batch is stored.
type Sink interface {
	Write(ctx context.Context, batch []Reading) error
}
