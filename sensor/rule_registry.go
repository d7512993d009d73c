package sensor

import (
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/region"
)

// Read-only views of the registry's columns for the rule engine. They read
// columns directly, under the registry's read lock, so that the engine
// builds its per-rule tables from a million devices without materialising
// a Device (and its label map) for each.

// ruleDev is what rule matching needs of one device. The strings point
// into the registry's interned strings: no copies.
type ruleDev struct {
	prof    uint16
	flags   uint8
	gridID  uint32
	assetID uint32
	labelID uint32
	gateway uint32 // the gateway's handle+1; 0 for none
	grid    string
	asset   string
	labels  string // labelKey form
}

// ruleLen returns the number of handles issued so far.
func (r *Registry) ruleLen() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.profile)
}

// ruleScan calls fn for every handle in [from, len) with the registry
// read-locked and returns len. fn must not call back into the registry.
func (r *Registry) ruleScan(from int, fn func(h Handle, d *ruleDev)) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var d ruleDev
	for h := from; h < len(r.profile); h++ {
		r.ruleFill(Handle(h), &d)
		fn(Handle(h), &d)
	}
	return len(r.profile)
}

// ruleEach calls fn for each of hs with the registry read-locked.
func (r *Registry) ruleEach(hs []Handle, fn func(h Handle, d *ruleDev)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var d ruleDev
	for _, h := range hs {
		r.ruleFill(h, &d)
		fn(h, &d)
	}
}

func (r *Registry) ruleFill(h Handle, d *ruleDev) {
	*d = ruleDev{
		prof: r.profile[h], flags: r.flags[h], gridID: r.grid[h], assetID: r.asset[h], labelID: r.labels[h],
		gateway: r.gateway[h], grid: r.strs[r.grid[h]], asset: r.strs[r.asset[h]], labels: r.strs[r.labels[h]],
	}
}

// ruleProfile returns a profile's index and a copy of it.
func (r *Registry) ruleProfile(name string) (uint16, Profile, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i, ok := r.profileIdx[name]
	if !ok {
		return 0, Profile{}, false
	}
	p := *r.profiles[i]
	p.Resources = append([]Resource(nil), p.Resources...)
	return i, p, true
}

// ruleInfo is what an alarm records of a device.
type ruleInfo struct {
	id      string
	grid    region.Code
	asset   string
	assetID uint32
	at      geo.Point
	gateway uint32 // handle+1
	flags   uint8
}

// ruleDeviceInfo returns what an alarm needs of h; ok is false for a
// handle never issued.
func (r *Registry) ruleDeviceInfo(h Handle) (ruleInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if int(h) >= len(r.profile) {
		return ruleInfo{}, false
	}
	return ruleInfo{
		id: string(r.id(h)), grid: region.Code(r.strs[r.grid[h]]), asset: r.strs[r.asset[h]], assetID: r.asset[h],
		at:      geo.Point{Lat: float64(r.lat[h]) / 1e6, Lon: float64(r.lon[h]) / 1e6},
		gateway: r.gateway[h], flags: r.flags[h],
	}, true
}

// ruleFlags returns h's flags (0 for an unknown handle).
func (r *Registry) ruleFlags(h Handle) uint8 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if int(h) >= len(r.flags) {
		return flagRemoved
	}
	return r.flags[h]
}
