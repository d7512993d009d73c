package sensor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/region"
)

// Access-layer names of device management. Registering, removing, locking
// and unlocking a device, and recording its operating state, need
// ActionManageDevices on ResourceDevice within the device's grid; adding a
// profile needs it on ResourceProfile within DevicesOptions.Area.
const (
	ActionManageDevices = "manage"
	ResourceProfile     = "sensor.profile"
)

// DevicesOptions configures a Devices service.
type DevicesOptions struct {
	// Authorizer decides who may manage devices and profiles; required
	// (access.AllowAll() for tests and single-user tools).
	Authorizer access.Authorizer
	// Area is the jurisdiction of profiles, which belong to no grid:
	// typically the city's code, so that city-level staff add them.
	// Empty, only an authorizer that allows everything may add one.
	Area region.Code
}

// Devices manages the registry's profiles and devices on behalf of people
// and systems, writing every change through to a Store: it authorizes the
// actor in the context, checks the change against the registry, writes it
// to the store and then applies it to the registry, so that the store
// never lacks what the registry holds and LoadRegistry rebuilds the
// registry after a restart.
//
// The Registry itself stays a plain in-memory table: its hot paths
// (Lookup, the ingestion and rule views) never touch the store, and a
// program without a store uses it directly. With a store, make every
// change through Devices: one made on the registry directly is not
// stored. Changes are serialised, so that the store takes them in the
// registry's order. The quality flag (Device.OutOfRange), which ingestion
// sets per reading, is not written. It is safe for concurrent use.
type Devices struct {
	reg   *Registry
	store Store
	az    access.Authorizer
	area  region.Code

	mu sync.Mutex // serialises changes
}

// NewDevices returns a Devices service over reg and store, or an error
// matching ErrInvalidDevice for a missing dependency.
func NewDevices(reg *Registry, store Store, opts DevicesOptions) (*Devices, error) {
	if reg == nil || store == nil || opts.Authorizer == nil {
		return nil, fmt.Errorf("%w: NewDevices needs a registry, a store and an authorizer (access.AllowAll() to allow everything)", ErrInvalidDevice)
	}
	if opts.Area != "" {
		if _, err := region.ParseCode(string(opts.Area)); err != nil {
			return nil, fmt.Errorf("%w: DevicesOptions.Area: %w", ErrInvalidDevice, err)
		}
	}
	area := opts.Area
	if area == "" {
		area = "000000" // a jurisdiction nobody below the whole country holds
	}
	return &Devices{reg: reg, store: store, az: opts.Authorizer, area: area}, nil
}

func deviceResource(d *Device) access.Resource {
	return access.Resource{Kind: ResourceDevice, ID: d.ID, Jurisdiction: d.Grid}
}

// AddProfile validates a profile, authorizes the actor in ctx, stores the
// profile and adds it to the registry. A profile of the same name, in the
// registry or the store, gives ErrDuplicate.
func (s *Devices) AddProfile(ctx context.Context, p Profile) error {
	p = cloneProfile(p)
	if err := s.reg.checkProfile(&p); err != nil {
		return err
	}
	if err := access.Check(ctx, s.az, ActionManageDevices, access.Resource{Kind: ResourceProfile, ID: p.Name, Jurisdiction: s.area}); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reg.checkProfile(&p); err != nil {
		return err
	}
	if err := s.store.CreateProfile(ctx, p); err != nil {
		return err
	}
	return s.reg.AddProfile(p)
}

// Register validates a device against the registry, authorizes the actor
// in ctx within the device's grid, stores it and registers it, returning
// its handle. A device already registered or stored gives ErrDuplicate.
func (s *Devices) Register(ctx context.Context, d Device) (Handle, error) {
	d = cloneDevice(d)
	if err := s.reg.check(&d); err != nil {
		return 0, err
	}
	if err := access.Check(ctx, s.az, ActionManageDevices, deviceResource(&d)); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reg.check(&d); err != nil {
		return 0, err
	}
	if err := s.store.PutDevice(ctx, DeviceRecord{Device: d, Version: 1}); err != nil {
		return 0, err
	}
	return s.reg.Register(d)
}

// Remove takes a device out of service for good, after authorizing the
// actor in ctx: the store keeps it marked removed.
func (s *Devices) Remove(ctx context.Context, id string) error {
	return s.change(ctx, id, func(rec *DeviceRecord) { rec.Removed = true }, func(Handle) error { return s.reg.Remove(id) })
}

// SetAdmin locks or unlocks a device, after authorizing the actor in ctx.
func (s *Devices) SetAdmin(ctx context.Context, id string, st AdminState) error {
	if st > Locked {
		return fmt.Errorf("%w %q: unknown admin state %d", ErrInvalidDevice, id, st)
	}
	return s.change(ctx, id, func(rec *DeviceRecord) { rec.Device.Admin = st }, func(h Handle) error { return s.reg.SetAdmin(h, st) })
}

// SetOperating records whether a device works, after authorizing the actor
// in ctx.
func (s *Devices) SetOperating(ctx context.Context, id string, st OperatingState) error {
	if st > Down {
		return fmt.Errorf("%w %q: unknown operating state %d", ErrInvalidDevice, id, st)
	}
	return s.change(ctx, id, func(rec *DeviceRecord) { rec.Device.Operating = st }, func(h Handle) error { return s.reg.SetOperating(h, st) })
}

// change authorizes a change of a registered device, writes it to the
// store over the stored version, and applies it to the registry. A device
// registered before the store was in use is stored whole first.
func (s *Devices) change(ctx context.Context, id string, edit func(*DeviceRecord), apply func(Handle) error) error {
	h, err := s.reg.Lookup(id)
	if err != nil {
		return err
	}
	d, err := s.reg.Device(h)
	if err != nil {
		return err
	}
	if err := access.Check(ctx, s.az, ActionManageDevices, deviceResource(&d)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.reg.Lookup(id); err != nil { // removed meanwhile
		return err
	}
	rec, err := s.store.Device(ctx, id)
	switch {
	case errors.Is(err, ErrUnknownDevice):
		d.OutOfRange = false
		rec = DeviceRecord{Device: d}
	case err != nil:
		return err
	}
	edit(&rec)
	rec.Version++
	if err := s.store.PutDevice(ctx, rec); err != nil {
		return err
	}
	return apply(h)
}

// LoadRegistry builds a Registry from what a Store holds: every profile,
// then every device (removed ones too, taken out of service again once all
// are in, so that the devices behind a removed gateway still register).
// Devices come from the store in ID order; one listed before its gateway
// waits in memory until the gateway is registered. It fails with the
// store's error, or with the registry's for a record it refuses (a device
// naming a profile or gateway that is not stored).
func LoadRegistry(ctx context.Context, store Store) (*Registry, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: LoadRegistry needs a store", ErrInvalidDevice)
	}
	reg := NewRegistry()
	profiles, err := store.Profiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("sensor: loading profiles: %w", err)
	}
	for _, p := range profiles {
		if err := reg.AddProfile(p); err != nil {
			return nil, fmt.Errorf("sensor: loading profile %q: %w", p.Name, err)
		}
	}
	var removed []string
	var waiting []Device // devices whose gateway is not registered yet
	q := DeviceQuery{Limit: MaxQueryLimit}
	for {
		page, err := store.Devices(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("sensor: loading devices: %w", err)
		}
		for _, rec := range page.Devices {
			if rec.Removed {
				removed = append(removed, rec.Device.ID)
			}
			if _, err := reg.Register(rec.Device); err != nil {
				if rec.Device.Gateway != "" && errors.Is(err, ErrUnknownDevice) {
					waiting = append(waiting, rec.Device)
					continue
				}
				return nil, fmt.Errorf("sensor: loading device %q: %w", rec.Device.ID, err)
			}
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	for len(waiting) > 0 {
		rest := waiting[:0]
		var last error
		for _, d := range waiting {
			if _, err := reg.Register(d); err != nil {
				if !errors.Is(err, ErrUnknownDevice) {
					return nil, fmt.Errorf("sensor: loading device %q: %w", d.ID, err)
				}
				rest, last = append(rest, d), err
			}
		}
		if len(rest) == len(waiting) {
			return nil, fmt.Errorf("sensor: loading device %q: %w", rest[0].ID, last)
		}
		waiting = rest
	}
	for _, id := range removed {
		if err := reg.Remove(id); err != nil {
			return nil, fmt.Errorf("sensor: loading device %q: %w", id, err)
		}
	}
	return reg, nil
}
