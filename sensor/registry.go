package sensor

import (
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// Errors of the registry.
var (
	ErrInvalidDevice  = errors.New("sensor: invalid device")
	ErrUnknownDevice  = errors.New("sensor: unknown device")
	ErrDuplicate      = errors.New("sensor: duplicate")
	ErrUnknownProfile = errors.New("sensor: unknown profile")
)

// AdminState says whether a device may be used, as in EdgeX: a locked
// device's readings are refused.
type AdminState uint8

// Admin states.
const (
	Unlocked AdminState = iota
	Locked
)

// String returns "unlocked" or "locked".
func (s AdminState) String() string {
	if s == Locked {
		return "locked"
	}
	return "unlocked"
}

// OperatingState says whether a device is working, as far as govkit knows.
type OperatingState uint8

// Operating states.
const (
	Unknown OperatingState = iota
	Up
	Down
)

// String returns "unknown", "up" or "down".
func (s OperatingState) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// Device is a registered sensing device.
type Device struct {
	ID        string
	Profile   string
	Admin     AdminState
	Operating OperatingState
	Location  geo.Point
	// Grid is the deepest unit the device lies in (see region.Hierarchy);
	// rules and vital signs group devices by its subtree.
	Grid region.Code
	// Asset links the device to what it watches: a pipe segment, a tank, a
	// bridge, an elevator.
	Asset string
	// Gateway is the ID of the device it reports through, if any; when a
	// gateway goes silent, storm control raises one alarm for it.
	Gateway string
	Labels  map[string]string
	// OutOfRange is the quality flag: set when a reading was outside its
	// resource's valid range, cleared by the next valid one.
	OutOfRange bool
}

// Handle is a registered device's dense index in the registry: the typed
// ingestion API takes handles so that the hot path does no string hashing.
// Handles are never reused within a registry.
type Handle uint32

// Registry holds devices in columns rather than one struct each, so that 14
// million devices fit one machine: an ID's bytes live in one arena, places
// are micro-degrees in int32, grids, assets and label sets are interned,
// and the ID index is an open-addressing table of handles. It is safe for
// concurrent use.
type Registry struct {
	mu sync.RWMutex

	profiles   []*Profile
	profileIdx map[string]uint16

	seed  maphash.Seed
	arena []byte   // every ID's bytes, back to back
	idOff []uint32 // start of each ID in arena; the next start ends it
	slots []uint32 // open addressing: handle+1, 0 for empty

	profile []uint16
	flags   []uint8 // admin, operating, quality, removed
	lat     []int32 // micro-degrees
	lon     []int32
	grid    []uint32 // interned; 0 for none
	asset   []uint32
	gateway []uint32 // the gateway's handle+1; 0 for none
	labels  []uint32 // interned label sets

	strs   []string // interned strings; strs[0] is ""
	strIdx map[string]uint32

	live int
}

const (
	flagLocked     = 1 << 0
	flagUp         = 1 << 1
	flagDown       = 1 << 2
	flagOutOfRange = 1 << 3
	flagRemoved    = 1 << 4
)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		profileIdx: map[string]uint16{}, seed: maphash.MakeSeed(),
		idOff: []uint32{0}, strs: []string{""}, strIdx: map[string]uint32{"": 0},
	}
}

// AddProfile validates and adds a profile; profiles cannot be replaced
// while devices use them, so a new version takes a new name.
func (r *Registry) AddProfile(p Profile) error {
	p.Resources = slices.Clone(p.Resources)
	if err := p.validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.profileIdx[p.Name]; dup {
		return fmt.Errorf("%w: profile %q", ErrDuplicate, p.Name)
	}
	if len(r.profiles) == math.MaxUint16 {
		return fmt.Errorf("%w: too many profiles", ErrInvalidProfile)
	}
	r.profileIdx[p.Name] = uint16(len(r.profiles))
	r.profiles = append(r.profiles, &p)
	return nil
}

// Profile returns a profile by name.
func (r *Registry) Profile(name string) (Profile, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.profileIdx[name]
	if !ok {
		return Profile{}, fmt.Errorf("%w: %q", ErrUnknownProfile, name)
	}
	p := *r.profiles[i]
	p.Resources = slices.Clone(p.Resources)
	return p, nil
}

// maxIDLen bounds device IDs; real ones are serial numbers or IMEIs.
const maxIDLen = 128

func (r *Registry) validate(d *Device) error {
	bad := func(reason string) error { return fmt.Errorf("%w %q: %s", ErrInvalidDevice, d.ID, reason) }
	switch {
	case d.ID == "" || len(d.ID) > maxIDLen || strings.ContainsAny(d.ID, " \t\r\n/+#"):
		return bad("ID must be 1-128 bytes without spaces or MQTT wildcards")
	case d.Admin > Locked || d.Operating > Down:
		return bad("unknown state")
	case len(d.Asset) > 256 || len(d.Gateway) > maxIDLen:
		return bad("asset or gateway too long")
	case d.Gateway == d.ID:
		return bad("a device cannot be its own gateway")
	}
	if _, ok := r.profileIdx[d.Profile]; !ok {
		return fmt.Errorf("%w: device %q names profile %q", ErrUnknownProfile, d.ID, d.Profile)
	}
	if err := d.Location.Validate(); err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidDevice, d.ID, err)
	}
	if d.Grid != "" {
		if _, err := region.ParseCode(string(d.Grid)); err != nil {
			return fmt.Errorf("%w %q: %w", ErrInvalidDevice, d.ID, err)
		}
	}
	if d.Gateway != "" {
		if _, ok := r.find(d.Gateway); !ok {
			return fmt.Errorf("%w: device %q names gateway %q, which is not registered", ErrUnknownDevice, d.ID, d.Gateway)
		}
	}
	if len(d.Labels) > 32 {
		return bad("more than 32 labels")
	}
	return nil
}

// check reports the error Register would return for d, without
// registering it.
func (r *Registry) check(d *Device) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if err := r.validate(d); err != nil {
		return err
	}
	if _, dup := r.find(d.ID); dup {
		return fmt.Errorf("%w: device %q", ErrDuplicate, d.ID)
	}
	return nil
}

// checkProfile reports the error AddProfile would return for p, without
// adding it.
func (r *Registry) checkProfile(p *Profile) error {
	if err := p.validate(); err != nil {
		return err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, dup := r.profileIdx[p.Name]; dup {
		return fmt.Errorf("%w: profile %q", ErrDuplicate, p.Name)
	}
	return nil
}

// Register adds a device and returns its handle. A gateway must be
// registered before the devices behind it.
func (r *Registry) Register(d Device) (Handle, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.validate(&d); err != nil {
		return 0, err
	}
	if _, dup := r.find(d.ID); dup {
		return 0, fmt.Errorf("%w: device %q", ErrDuplicate, d.ID)
	}
	if len(r.profile) >= math.MaxUint32-1 {
		return 0, fmt.Errorf("%w: registry full", ErrInvalidDevice)
	}
	h := Handle(len(r.profile))
	r.arena = append(r.arena, d.ID...)
	r.idOff = append(r.idOff, uint32(len(r.arena)))
	r.profile = append(r.profile, r.profileIdx[d.Profile])
	r.flags = append(r.flags, flagsOf(&d))
	r.lat = append(r.lat, micro(d.Location.Lat))
	r.lon = append(r.lon, micro(d.Location.Lon))
	r.grid = append(r.grid, r.intern(string(d.Grid)))
	r.asset = append(r.asset, r.intern(d.Asset))
	var gw uint32
	if d.Gateway != "" {
		g, _ := r.find(d.Gateway)
		gw = uint32(g) + 1
	}
	r.gateway = append(r.gateway, gw)
	r.labels = append(r.labels, r.intern(labelKey(d.Labels)))
	r.insert(h)
	r.live++
	return h, nil
}

func flagsOf(d *Device) uint8 {
	var f uint8
	if d.Admin == Locked {
		f |= flagLocked
	}
	switch d.Operating {
	case Up:
		f |= flagUp
	case Down:
		f |= flagDown
	}
	if d.OutOfRange {
		f |= flagOutOfRange
	}
	return f
}

func micro(deg float64) int32 { return int32(math.Round(deg * 1e6)) }

// labelKey encodes a label set canonically, so equal sets intern to one.
func labelKey(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(l))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(l[k])
		b.WriteByte(0)
	}
	return b.String()
}

func parseLabels(s string) map[string]string {
	if s == "" {
		return nil
	}
	parts := strings.Split(strings.TrimSuffix(s, "\x00"), "\x00")
	out := make(map[string]string, len(parts)/2)
	for i := 0; i+1 < len(parts); i += 2 {
		out[parts[i]] = parts[i+1]
	}
	return out
}

func (r *Registry) intern(s string) uint32 {
	if i, ok := r.strIdx[s]; ok {
		return i
	}
	i := uint32(len(r.strs))
	r.strs = append(r.strs, s)
	r.strIdx[s] = i
	return i
}

func (r *Registry) id(h Handle) []byte { return r.arena[r.idOff[h]:r.idOff[h+1]] }

// find looks an ID up in the open-addressing table.
func (r *Registry) find(id string) (Handle, bool) {
	if len(r.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(r.slots) - 1)
	for i := maphash.String(r.seed, id) & mask; ; i = (i + 1) & mask {
		s := r.slots[i]
		if s == 0 {
			return 0, false
		}
		if h := Handle(s - 1); string(r.id(h)) == id {
			return h, true
		}
	}
}

// insert adds h to the table, growing it to keep it at most half full.
func (r *Registry) insert(h Handle) {
	if 2*(len(r.profile)) > len(r.slots) {
		r.grow()
		return // grow rehashed every handle, h included
	}
	r.place(h)
}

func (r *Registry) place(h Handle) {
	mask := uint64(len(r.slots) - 1)
	for i := maphash.Bytes(r.seed, r.id(h)) & mask; ; i = (i + 1) & mask {
		if r.slots[i] == 0 {
			r.slots[i] = uint32(h) + 1
			return
		}
	}
}

func (r *Registry) grow() {
	n := max(16, 2*len(r.slots))
	for n < 2*len(r.profile) {
		n *= 2
	}
	r.slots = make([]uint32, n)
	for h := range Handle(len(r.profile)) {
		r.place(h)
	}
}

// Lookup returns the handle of a registered device.
func (r *Registry) Lookup(id string) (Handle, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.find(id)
	if !ok || r.flags[h]&flagRemoved != 0 {
		return 0, fmt.Errorf("%w: %q", ErrUnknownDevice, id)
	}
	return h, nil
}

// Device returns a registered device.
func (r *Registry) Device(h Handle) (Device, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if int(h) >= len(r.profile) || r.flags[h]&flagRemoved != 0 {
		return Device{}, fmt.Errorf("%w: handle %d", ErrUnknownDevice, h)
	}
	f := r.flags[h]
	d := Device{
		ID: string(r.id(h)), Profile: r.profiles[r.profile[h]].Name,
		Location: geo.Point{Lat: float64(r.lat[h]) / 1e6, Lon: float64(r.lon[h]) / 1e6},
		Grid:     region.Code(r.strs[r.grid[h]]), Asset: r.strs[r.asset[h]], Labels: parseLabels(r.strs[r.labels[h]]),
		OutOfRange: f&flagOutOfRange != 0,
	}
	if f&flagLocked != 0 {
		d.Admin = Locked
	}
	switch {
	case f&flagUp != 0:
		d.Operating = Up
	case f&flagDown != 0:
		d.Operating = Down
	}
	if gw := r.gateway[h]; gw != 0 {
		d.Gateway = string(r.id(Handle(gw - 1)))
	}
	return d, nil
}

// Remove takes a device out of service for good; its handle is not reused.
func (r *Registry) Remove(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.find(id)
	if !ok || r.flags[h]&flagRemoved != 0 {
		return fmt.Errorf("%w: %q", ErrUnknownDevice, id)
	}
	r.flags[h] |= flagRemoved
	r.live--
	return nil
}

// SetAdmin locks or unlocks a device.
func (r *Registry) SetAdmin(h Handle, s AdminState) error {
	return r.setFlags(h, flagLocked, s == Locked)
}

// SetOperating records whether a device works.
func (r *Registry) SetOperating(h Handle, s OperatingState) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if int(h) >= len(r.flags) || r.flags[h]&flagRemoved != 0 {
		return fmt.Errorf("%w: handle %d", ErrUnknownDevice, h)
	}
	f := r.flags[h] &^ (flagUp | flagDown)
	switch s {
	case Up:
		f |= flagUp
	case Down:
		f |= flagDown
	}
	r.flags[h] = f
	return nil
}

func (r *Registry) setFlags(h Handle, bit uint8, on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if int(h) >= len(r.flags) || r.flags[h]&flagRemoved != 0 {
		return fmt.Errorf("%w: handle %d", ErrUnknownDevice, h)
	}
	if on {
		r.flags[h] |= bit
	} else {
		r.flags[h] &^= bit
	}
	return nil
}

// Len returns the number of devices in service.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.live
}

// Devices calls fn for every device in service whose grid lies within
// unit's subtree (all devices when unit is empty), in handle order, until fn
// returns false.
func (r *Registry) Devices(unit region.Code, fn func(Handle, Device) bool) {
	r.mu.RLock()
	n := len(r.profile)
	r.mu.RUnlock()
	for h := range Handle(n) {
		d, err := r.Device(h)
		if err != nil {
			continue
		}
		if unit != "" && !d.Grid.Within(unit) {
			continue
		}
		if !fn(h, d) {
			return
		}
	}
}

// Behind returns the handles of the devices that report through gateway.
func (r *Registry) Behind(gateway Handle) []Handle {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Handle
	for h, g := range r.gateway {
		if g == uint32(gateway)+1 && r.flags[h]&flagRemoved == 0 {
			out = append(out, Handle(h))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ErrUnknownResource is matched by errors about a resource name or index
// that the device's profile does not have.
var ErrUnknownResource = errors.New("sensor: unknown resource")

// ID returns the ID of the device with handle h, removed devices included,
// or "" for a handle never issued.
func (r *Registry) ID(h Handle) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if int(h) >= len(r.profile) {
		return ""
	}
	return string(r.id(h))
}

// Resource returns the resource at index in the profile of the device with
// handle h (removed devices included).
func (r *Registry) Resource(h Handle, index uint8) (Resource, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if int(h) >= len(r.profile) {
		return Resource{}, fmt.Errorf("%w: handle %d", ErrUnknownDevice, h)
	}
	p := r.profiles[r.profile[h]]
	if int(index) >= len(p.Resources) {
		return Resource{}, fmt.Errorf("%w: %d of profile %q", ErrUnknownResource, index, p.Name)
	}
	return p.Resources[index], nil
}

// ResourceIndex returns the index of the named resource in the profile of
// the device with handle h.
func (r *Registry) ResourceIndex(h Handle, name string) (uint8, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if int(h) >= len(r.profile) || r.flags[h]&flagRemoved != 0 {
		return 0, fmt.Errorf("%w: handle %d", ErrUnknownDevice, h)
	}
	p := r.profiles[r.profile[h]]
	i := p.resource(name)
	if i < 0 {
		return 0, fmt.Errorf("%w: %q of profile %q", ErrUnknownResource, name, p.Name)
	}
	return uint8(i), nil
}

// findBytes is find for an ID held in bytes, without converting it.
func (r *Registry) findBytes(id []byte) (Handle, bool) {
	if len(r.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(r.slots) - 1)
	for i := maphash.Bytes(r.seed, id) & mask; ; i = (i + 1) & mask {
		s := r.slots[i]
		if s == 0 {
			return 0, false
		}
		if h := Handle(s - 1); string(r.id(h)) == string(id) {
			return h, true
		}
	}
}

// setOutOfRange sets or clears a device's quality flag; it ignores removed
// devices and handles never issued.
func (r *Registry) setOutOfRange(h Handle, on bool) {
	_ = r.setFlags(h, flagOutOfRange, on)
}
