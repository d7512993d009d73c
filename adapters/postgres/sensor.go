package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/govkit/govkit/sensor"
)

//go:embed migrations/sensor/*.sql
var sensorMigrationFS embed.FS

// SensorComponent is the component under which the sensor tables'
// migrations are recorded in govkit_schema_migrations.
const SensorComponent = "sensor"

// readingColumns are the columns of govkit_sensor_reading, in COPY order.
var readingColumns = []string{"device_id", "resource", "value", "unit", "observed", "received", "seq", "quality"}

// ReadingSink is a sensor.Sink that stores raw readings in the table
// govkit_sensor_reading with COPY, one statement per batch: a batch is
// stored whole or not at all. Device IDs and resource names are resolved
// through the registry, so rows name devices as people do; the unit is
// the resource's when the reading gives none. Times are stored at
// microsecond precision. It is safe for concurrent use: give it to
// sensor.IngestOptions.Sink, and the ingester's workers write their
// batches in parallel over the pool.
//
// Delivery is at least once: a batch whose COPY succeeded but whose reply
// was lost is written again when retried, so history queries should
// tolerate a repeated (device_id, resource, seq) row.
type ReadingSink struct {
	db  *DB
	reg *sensor.Registry
}

var _ sensor.Sink = (*ReadingSink)(nil)

// NewReadingSink applies the sensor migrations (component
// SensorComponent) to db and returns a sink resolving handles through
// reg. A nil db or registry is an error matching ErrInvalidArgument.
func NewReadingSink(ctx context.Context, db *DB, reg *sensor.Registry) (*ReadingSink, error) {
	if db == nil || reg == nil {
		return nil, fmt.Errorf("%w: NewReadingSink needs a DB and a registry", ErrInvalidArgument)
	}
	if err := db.MigrateOutbox(ctx); err != nil { // the sensor migrations mark alarm events in it
		return nil, err
	}
	migs, err := LoadMigrations(sensorMigrationFS, "migrations/sensor")
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, SensorComponent, migs); err != nil {
		return nil, err
	}
	return &ReadingSink{db: db, reg: reg}, nil
}

// Write stores batch with one COPY and returns nil once it is committed.
// A reading whose device handle or resource index the registry does not
// know fails the whole batch, before anything is sent, with an error
// matching ErrInvalidArgument and sensor.ErrUnknownDevice or
// sensor.ErrUnknownResource.
func (s *ReadingSink) Write(ctx context.Context, batch []sensor.Reading) error {
	if len(batch) == 0 {
		return ctx.Err()
	}
	src, err := s.rows(batch)
	if err != nil {
		return err
	}
	n, err := s.db.pool.CopyFrom(ctx, pgx.Identifier{"govkit_sensor_reading"}, readingColumns, src)
	if err != nil {
		return fmt.Errorf("postgres: copy %d readings: %w", len(batch), err)
	}
	if n != int64(len(batch)) {
		return fmt.Errorf("postgres: copy stored %d of %d readings", n, len(batch))
	}
	return nil
}

// rows resolves the batch's names, so that a bad handle fails the batch
// before COPY starts.
func (s *ReadingSink) rows(batch []sensor.Reading) (*readingRows, error) {
	src := &readingRows{batch: batch, ids: make([]string, len(batch)), res: make([]sensor.Resource, len(batch)), i: -1}
	for i := range batch {
		r := &batch[i]
		if i > 0 && r.Device == batch[i-1].Device {
			src.ids[i] = src.ids[i-1]
		} else if src.ids[i] = s.reg.ID(r.Device); src.ids[i] == "" {
			return nil, fmt.Errorf("%w: reading %d: %w: handle %d", ErrInvalidArgument, i, sensor.ErrUnknownDevice, r.Device)
		}
		if i > 0 && r.Device == batch[i-1].Device && r.Resource == batch[i-1].Resource {
			src.res[i] = src.res[i-1]
			continue
		}
		res, err := s.reg.Resource(r.Device, r.Resource)
		if err != nil {
			return nil, fmt.Errorf("%w: reading %d: %w", ErrInvalidArgument, i, err)
		}
		src.res[i] = res
	}
	return src, nil
}

// readingRows is the pgx.CopyFromSource of a batch.
type readingRows struct {
	batch []sensor.Reading
	ids   []string
	res   []sensor.Resource
	i     int
	row   [8]any
}

func (rr *readingRows) Next() bool {
	rr.i++
	return rr.i < len(rr.batch)
}

func (rr *readingRows) Values() ([]any, error) {
	r := &rr.batch[rr.i]
	unit := r.Unit
	if unit == "" {
		unit = rr.res[rr.i].Unit
	}
	rr.row = [8]any{rr.ids[rr.i], rr.res[rr.i].Name, r.Value, unit, r.Observed, r.Received, int64(r.Seq), int16(r.Quality)}
	return rr.row[:], nil
}

func (rr *readingRows) Err() error { return nil }
