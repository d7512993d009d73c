package sensor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/region"
)

// Errors of stores.
var (
	// ErrConflict: a write expected a version of a record that the store
	// no longer holds (another writer changed it).
	ErrConflict = errors.New("sensor: version conflict")
	// ErrInvalidRecord: a record given to a Store is malformed (an empty
	// ID or name, a version that does not follow), or holds text the store
	// cannot keep.
	ErrInvalidRecord = errors.New("sensor: invalid record")
	// ErrInvalidQuery: a DeviceQuery or AlarmQuery is malformed.
	ErrInvalidQuery = errors.New("sensor: invalid query")
)

// Page sizes of DeviceQuery and AlarmQuery.
const (
	DefaultQueryLimit = 100
	MaxQueryLimit     = 1000
)

// Store keeps what the sensor package manages and must survive a
// restart: device profiles, devices, alarm rules, alarms and vital-sign
// definitions. Readings are not kept here (see Sink). MemoryStore is the
// embedded default; adapters/postgres has the PostgreSQL one; sensortest
// is the suite both pass. Implementations return copies (never a slice or
// map the store holds) and are safe for concurrent use.
//
// Who writes what: Devices writes profiles and devices through, and
// LoadRegistry reads them back into a Registry at start-up; an Engine
// given EngineOptions.Store writes its rules and every alarm change, and
// restores them in NewEngine; Vitals given VitalsOptions.Store does the
// same for vital signs.
//
// Errors match the package's sentinels whatever the storage:
// ErrDuplicate for a record created twice, ErrConflict for a stale
// version, ErrUnknownProfile, ErrUnknownDevice, ErrUnknownRule,
// ErrUnknownAlarm and ErrUnknownVitalSign for a missing one,
// ErrInvalidRecord and ErrInvalidQuery for malformed input. A failed
// write changes nothing.
type Store interface {
	// CreateProfile stores a new profile; profiles are never replaced (a
	// new version takes a new name), so one of the same name gives
	// ErrDuplicate.
	CreateProfile(ctx context.Context, p Profile) error
	// Profile returns a profile by name, or ErrUnknownProfile.
	Profile(ctx context.Context, name string) (Profile, error)
	// Profiles returns every profile, by name.
	Profiles(ctx context.Context) ([]Profile, error)

	// PutDevice creates or updates a device record. A record at Version
	// 1 is created and must not exist yet (ErrDuplicate); any other
	// updates the stored record, and applies only if that is at
	// Version-1 (ErrConflict otherwise, ErrUnknownDevice if there is
	// none).
	PutDevice(ctx context.Context, rec DeviceRecord) error
	// Device returns a device record by ID, or ErrUnknownDevice.
	Device(ctx context.Context, id string) (DeviceRecord, error)
	// Devices returns one page of the device records matching q, in ID
	// order, removed devices included.
	Devices(ctx context.Context, q DeviceQuery) (DevicePage, error)

	// CreateRule stores a new rule; a rule of the same ID gives
	// ErrDuplicate (rules are replaced by deleting and creating them, as
	// the Engine does).
	CreateRule(ctx context.Context, r Rule) error
	// DeleteRule removes a rule, or fails with ErrUnknownRule.
	DeleteRule(ctx context.Context, id string) error
	// Rule returns a rule by ID, or ErrUnknownRule.
	Rule(ctx context.Context, id string) (Rule, error)
	// Rules returns every rule, by ID.
	Rules(ctx context.Context) ([]Rule, error)

	// WriteAlarms applies alarm changes atomically, in order: each applies
	// only if the store holds the alarm at the write's Prev version (see
	// AlarmWrite), so that several writes of one alarm in one call apply
	// in sequence. An alarm written as AlarmCancelled is removed, since
	// cancelled alarms are not kept. On any error nothing of the call is
	// applied.
	WriteAlarms(ctx context.Context, writes ...AlarmWrite) error
	// Pending returns up to limit events written with alarms and not yet
	// marked published, oldest first. A store may keep event times to
	// the microsecond.
	Pending(ctx context.Context, limit int) ([]bus.Message, error)
	// MarkPublished marks events published; unknown IDs are ignored.
	MarkPublished(ctx context.Context, ids ...string) error
	// Alarm returns an alarm by ID, or ErrUnknownAlarm.
	Alarm(ctx context.Context, id string) (Alarm, error)
	// PruneAlarms deletes up to limit cleared alarms last updated before
	// before (Alarm.Updated, to the microsecond), lowest IDs first, and
	// returns how many it deleted; pending and active alarms are never
	// deleted. It is the retention tool: alarms are records, kept as long
	// as a city's rules say; call it in a loop until it returns fewer than
	// limit (1–MaxQueryLimit, else ErrInvalidQuery). Prune well behind an
	// Engine's History, whose cleared alarms can still be acknowledged.
	PruneAlarms(ctx context.Context, before time.Time, limit int) (int, error)
	// Alarms returns one page of the alarms matching q, in ID order
	// (which, for the engine's UUIDv7 IDs, is the order they were
	// opened).
	Alarms(ctx context.Context, q AlarmQuery) (AlarmPage, error)

	// PutVitalSign stores a vital sign, replacing one of the same name.
	PutVitalSign(ctx context.Context, s VitalSign) error
	// DeleteVitalSign removes a vital sign, or fails with
	// ErrUnknownVitalSign.
	DeleteVitalSign(ctx context.Context, name string) error
	// VitalSigns returns every vital sign, by name.
	VitalSigns(ctx context.Context) ([]VitalSign, error)
}

// DeviceRecord is a device as a Store keeps it: the registration, whether
// it was removed from service (removed devices stay, as their handles do
// in a Registry, so that the devices behind a removed gateway still load),
// and an optimistic version.
//
// OutOfRange, the quality flag, is whatever was last written: ingestion
// sets and clears it in the Registry on every reading and never writes it
// to the store.
type DeviceRecord struct {
	Device  Device
	Removed bool
	Version int64
}

// Clone returns a deep copy of r.
func (r DeviceRecord) Clone() DeviceRecord {
	r.Device = cloneDevice(r.Device)
	return r
}

func cloneDevice(d Device) Device {
	if d.Labels != nil {
		d.Labels = cloneLabels(d.Labels)
	}
	return d
}

// DeviceQuery selects device records; every set field narrows the result.
type DeviceQuery struct {
	// Within selects devices whose grid lies in this unit's subtree.
	Within  region.Code
	Profile string
	// Limit is the page size: 0 means DefaultQueryLimit, at most
	// MaxQueryLimit.
	Limit int
	// After continues after this device ID (DevicePage.Next).
	After string
}

// DevicePage is one page of Store.Devices.
type DevicePage struct {
	Devices []DeviceRecord
	// Next is the ID to pass as DeviceQuery.After for the next page; empty
	// at the end.
	Next string
}

// Validate reports a malformed query with an error matching
// ErrInvalidQuery.
func (q DeviceQuery) Validate() error {
	return validateQuery(q.Limit, q.Within)
}

// Matches reports whether rec satisfies every filter of q but paging.
func (q DeviceQuery) Matches(rec *DeviceRecord) bool {
	d := &rec.Device
	return (q.Within == "" || d.Grid.Within(q.Within)) && (q.Profile == "" || d.Profile == q.Profile)
}

// AlarmWrite is one alarm change for Store.WriteAlarms: the alarm as it
// now stands, and Prev, the version the store must hold for the change to
// apply: 0 for an alarm the store does not hold yet (ErrDuplicate if it
// does). A stored alarm at another version gives ErrConflict; a Prev
// above 0 for an alarm the store lacks gives ErrUnknownAlarm.
//
// The engine raises an alarm's Version at every event and may write only
// the last of several changes made together, so Alarm.Version is above
// Prev but need not follow it by one.
//
// Events are the bus messages announcing the change. The store keeps them
// in its outbox in the same atomic write as the alarm, and they are
// published from there (Store.Pending, Store.MarkPublished), so that an
// alarm change and its announcement never part ways: a crash or a broker
// outage after the write delays the events, never loses them. Each needs
// a UUID ID, unique in the outbox (ErrDuplicate), and a subject.
type AlarmWrite struct {
	Alarm  Alarm
	Prev   int64
	Events []bus.Message
}

// Validate reports a malformed write with an error matching
// ErrInvalidRecord.
func (w *AlarmWrite) Validate() error {
	switch {
	case w.Alarm.ID == "":
		return fmt.Errorf("%w: alarm without an ID", ErrInvalidRecord)
	case w.Prev < 0 || w.Alarm.Version <= w.Prev:
		return fmt.Errorf("%w: alarm %s at version %d written over version %d", ErrInvalidRecord, w.Alarm.ID, w.Alarm.Version, w.Prev)
	}
	for i, m := range w.Events {
		if id, err := uuid.Parse(m.ID); err != nil || id == uuid.Nil || id.String() != m.ID {
			return fmt.Errorf("%w: event %d of alarm %s: ID %q is not a UUID in canonical form", ErrInvalidRecord, i, w.Alarm.ID, m.ID)
		}
		if m.Subject == "" {
			return fmt.Errorf("%w: event %d of alarm %s has no subject", ErrInvalidRecord, i, w.Alarm.ID)
		}
	}
	return nil
}

// checkPruneLimit validates PruneAlarms' limit.
func checkPruneLimit(limit int) error {
	if limit < 1 || limit > MaxQueryLimit {
		return fmt.Errorf("%w: prune limit %d outside 1–%d", ErrInvalidQuery, limit, MaxQueryLimit)
	}
	return nil
}

// AlarmQuery selects alarms; every set field narrows the result.
type AlarmQuery struct {
	// Statuses selects alarms in any of these statuses (AlarmPending and
	// AlarmActive for the open ones).
	Statuses []AlarmStatus
	Kind     AlarmKind
	Rule     string
	Device   string
	Asset    string
	// Within selects alarms whose grid lies in this unit's subtree.
	Within region.Code
	// Unacked selects alarms not yet acknowledged.
	Unacked bool
	// Limit is the page size: 0 means DefaultQueryLimit, at most
	// MaxQueryLimit.
	Limit int
	// After continues after this alarm ID (AlarmPage.Next).
	After string
}

// AlarmPage is one page of Store.Alarms.
type AlarmPage struct {
	Alarms []Alarm
	// Next is the ID to pass as AlarmQuery.After for the next page; empty
	// at the end.
	Next string
}

// Validate reports a malformed query with an error matching
// ErrInvalidQuery.
func (q AlarmQuery) Validate() error {
	for _, s := range q.Statuses {
		if s < AlarmPending || s > AlarmCancelled {
			return fmt.Errorf("%w: unknown alarm status %d", ErrInvalidQuery, s)
		}
	}
	if q.Kind > AlarmBurst {
		return fmt.Errorf("%w: unknown alarm kind %d", ErrInvalidQuery, q.Kind)
	}
	return validateQuery(q.Limit, q.Within)
}

// Matches reports whether a satisfies every filter of q but paging.
func (q AlarmQuery) Matches(a *Alarm) bool {
	return (len(q.Statuses) == 0 || slices.Contains(q.Statuses, a.Status)) && (q.Kind == 0 || a.Kind == q.Kind) &&
		(q.Rule == "" || a.Rule == q.Rule) && (q.Device == "" || a.Device == q.Device) &&
		(q.Asset == "" || a.Asset == q.Asset) && (q.Within == "" || a.Grid.Within(q.Within)) &&
		(!q.Unacked || !a.Acked())
}

func validateQuery(limit int, within region.Code) error {
	if limit < 0 || limit > MaxQueryLimit {
		return fmt.Errorf("%w: limit %d outside 0-%d", ErrInvalidQuery, limit, MaxQueryLimit)
	}
	if within != "" {
		if _, err := region.ParseCode(string(within)); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	}
	return nil
}

// QueryLimit returns the page size a query's Limit asks for.
func QueryLimit(limit int) int {
	if limit == 0 {
		return DefaultQueryLimit
	}
	return limit
}

// ValidateDeviceRecord reports a device record no store can keep: one
// without an ID, or at a version below 1. Stores call it before writing.
func ValidateDeviceRecord(rec *DeviceRecord) error {
	switch {
	case rec.Device.ID == "":
		return fmt.Errorf("%w: device without an ID", ErrInvalidRecord)
	case rec.Version < 1:
		return fmt.Errorf("%w: device %s at version %d", ErrInvalidRecord, rec.Device.ID, rec.Version)
	}
	return nil
}

// cloneProfile returns a deep copy of p.
func cloneProfile(p Profile) Profile {
	p.Resources = slices.Clone(p.Resources)
	return p
}

// cloneVitalSign returns a deep copy of s.
func cloneVitalSign(s VitalSign) VitalSign {
	s.Labels = cloneLabels(s.Labels)
	s.Bands = slices.Clone(s.Bands)
	return s
}
