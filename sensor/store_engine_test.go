package sensor_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/sensor"
)

// plant is a process of a district's sensor platform: a registry loaded
// from the store, an engine restoring from it, on a manual clock that
// survives "restarts" (a new registry and engine on the same store).
type plant struct {
	t     *testing.T
	store sensor.Store
	clk   *clock.Manual
	opts  sensor.EngineOptions
	reg   *sensor.Registry
	devs  *sensor.Devices
	pub   *rulePub
	eng   *sensor.Engine
	ctx   context.Context
}

func newPlant(t *testing.T, store sensor.Store, opts sensor.EngineOptions, profiles ...sensor.Profile) *plant {
	t.Helper()
	p := &plant{t: t, store: store, clk: clock.NewManual(ruleT0), opts: opts, ctx: context.Background()}
	if p.opts.Authorizer == nil {
		p.opts.Authorizer = access.AllowAll()
	}
	p.opts.Store = store
	p.start()
	for _, pr := range append([]sensor.Profile{rulePipeProfile}, profiles...) {
		require.NoError(t, p.devs.AddProfile(p.ctx, pr))
	}
	return p
}

// start loads the registry and starts an engine, as a process does.
func (p *plant) start() {
	p.t.Helper()
	var err error
	p.reg, err = sensor.LoadRegistry(p.ctx, p.store)
	require.NoError(p.t, err)
	p.devs, err = sensor.NewDevices(p.reg, p.store, sensor.DevicesOptions{Authorizer: access.AllowAll()})
	require.NoError(p.t, err)
	p.pub = &rulePub{}
	p.eng, err = sensor.NewEngine(p.reg, p.clk, p.pub, p.opts)
	require.NoError(p.t, err)
	p.t.Cleanup(p.eng.Close)
}

// restart stops the engine and starts a new process on the same store.
func (p *plant) restart() {
	p.t.Helper()
	p.eng.Close()
	p.start()
}

func (p *plant) device(id string, d sensor.Device) {
	p.t.Helper()
	d.ID = id
	if d.Profile == "" {
		d.Profile = "pipe-pressure"
	}
	if d.Grid == "" {
		d.Grid = "500107001002003"
	}
	if d.Location == (geo.Point{}) {
		d.Location = geo.Point{Lat: 29.5, Lon: 106.5}
	}
	_, err := p.devs.Register(p.ctx, d)
	require.NoError(p.t, err)
}

func (p *plant) add(r sensor.Rule) {
	p.t.Helper()
	require.NoError(p.t, p.eng.AddRule(p.ctx, r))
}

// read observes one reading of a device at the clock's time.
func (p *plant) read(id string, v float64) {
	p.t.Helper()
	h, err := p.reg.Lookup(id)
	require.NoError(p.t, err)
	p.eng.Observe([]sensor.Reading{{Device: h, Value: v, Observed: p.clk.Now()}})
}

// expect checks the events published since the last call, as
// "event severity".
func (p *plant) expect(want ...string) {
	p.t.Helper()
	var got []string
	for _, ev := range p.pub.take(p.t) {
		got = append(got, ev.Event+" "+ev.Alarm.Severity.String())
	}
	require.Equal(p.t, want, got)
}

func (p *plant) alarms(f sensor.AlarmFilter) []sensor.Alarm {
	p.t.Helper()
	a, err := p.eng.Alarms(p.ctx, f)
	require.NoError(p.t, err)
	return a
}

// stored returns the store's copy of an alarm.
func (p *plant) stored(id string) sensor.Alarm {
	p.t.Helper()
	a, err := p.store.Alarm(p.ctx, id)
	require.NoError(p.t, err)
	return a
}

func (p *plant) storedAlarms(q sensor.AlarmQuery) []sensor.Alarm {
	p.t.Helper()
	page, err := p.store.Alarms(p.ctx, q)
	require.NoError(p.t, err)
	return page.Alarms
}

func hysteresisRule(id string) sensor.Rule {
	r := rulePressureRule(id, ruleThreshold(sensor.Critical, ">", 1.2), ruleThreshold(sensor.Major, ">", 0.8))
	r.Clear = &sensor.Condition{Op: "<", Value: 0.6}
	return r
}

// An alarm raised and acknowledged before a restart is the same alarm
// after it: still active, still acknowledged, not raised again by the
// readings that keep it up, cleared by the one that clears it.
func TestRestartKeepsAlarmAndAcknowledgement(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.device("cq-pp-000018", sensor.Device{})
	p.add(hysteresisRule("main-pressure-high"))
	p.read("cq-pp-000017", 0.9)
	p.expect("raised major")
	raised := p.alarms(sensor.AlarmFilter{})
	require.Len(t, raised, 1)
	p.clk.Advance(time.Minute)
	acked, err := p.eng.Ack(access.WithActor(p.ctx, access.Actor{ID: "jlp-water-duty-02"}), raised[0].ID)
	require.NoError(t, err)
	p.expect("acknowledged major")
	require.Equal(t, acked, p.stored(acked.ID), "the store holds the alarm as it stands")
	require.Equal(t, sensor.EngineStats{}.StoreErrors, p.eng.Stats().StoreErrors)

	p.clk.Advance(time.Minute)
	p.restart()
	p.expect() // restoring publishes nothing
	st := p.eng.Stats()
	require.Equal(t, 1, st.Rules)
	require.Equal(t, 1, st.Open)
	got := p.alarms(sensor.AlarmFilter{})
	require.Equal(t, []sensor.Alarm{acked}, got, "the same alarm, acknowledged")

	// Readings that keep the condition up raise nothing; a worse one
	// updates the same alarm, keeping its acknowledgement.
	p.read("cq-pp-000017", 0.95)
	p.read("cq-pp-000017", 0.7) // between raise and clear: hysteresis
	p.expect()
	p.clk.Advance(time.Minute)
	p.read("cq-pp-000017", 1.3)
	p.expect("updated critical")
	got = p.alarms(sensor.AlarmFilter{})
	require.Len(t, got, 1)
	require.Equal(t, acked.ID, got[0].ID)
	require.Equal(t, "jlp-water-duty-02", got[0].AckedBy)
	require.Equal(t, acked.Version+1, got[0].Version)
	_, err = p.eng.Ack(p.ctx, acked.ID)
	require.ErrorIs(t, err, sensor.ErrAlarmState, "acknowledged once, before the restart")

	// Clearing works; the next excursion is a new alarm.
	p.clk.Advance(time.Minute)
	p.read("cq-pp-000017", 0.5)
	p.expect("cleared critical")
	cleared := p.stored(acked.ID)
	require.Equal(t, sensor.AlarmCleared, cleared.Status)
	require.Equal(t, "jlp-water-duty-02", cleared.AckedBy)
	require.Equal(t, ruleT0.Add(4*time.Minute), cleared.Cleared)
	p.clk.Advance(time.Minute)
	p.read("cq-pp-000017", 0.9)
	p.expect("raised major")
	all := p.storedAlarms(sensor.AlarmQuery{})
	require.Len(t, all, 2)
	require.Equal(t, acked.ID, all[0].ID)
	require.NotEqual(t, acked.ID, all[1].ID)
	open := p.storedAlarms(sensor.AlarmQuery{Statuses: []sensor.AlarmStatus{sensor.AlarmPending, sensor.AlarmActive}})
	require.Len(t, open, 1)
	require.Equal(t, all[1].ID, open[0].ID)
	require.Zero(t, p.eng.Stats().Unstored)
}

// Restarting twice, with nothing happening between, changes nothing.
func TestRestartIsIdempotent(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.add(hysteresisRule("high"))
	p.read("cq-pp-000017", 0.9)
	p.expect("raised major")
	before := p.storedAlarms(sensor.AlarmQuery{})
	for range 3 {
		p.restart()
		p.expect()
		require.Equal(t, before, p.alarms(sensor.AlarmFilter{}))
		require.Equal(t, before, p.storedAlarms(sensor.AlarmQuery{}))
	}
}

// A pending alarm keeps its "for" deadline across a restart, on the
// engine's clock: it is raised when it would have been, as the same alarm.
func TestRestartKeepsPendingDeadline(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{PublishPending: true})
	p.device("cq-pp-000017", sensor.Device{})
	r := hysteresisRule("high")
	r.For = 10 * time.Minute
	p.add(r)
	p.read("cq-pp-000017", 0.9)
	p.expect("pending major")
	pending := p.alarms(sensor.AlarmFilter{})
	require.Len(t, pending, 1)
	require.Equal(t, sensor.AlarmPending, p.stored(pending[0].ID).Status)

	p.clk.Advance(3 * time.Minute)
	p.restart()
	p.clk.Advance(6*time.Minute + 59*time.Second)
	p.expect()
	p.clk.Advance(time.Second)
	p.expect("raised major")
	got := p.alarms(sensor.AlarmFilter{})
	require.Len(t, got, 1)
	require.Equal(t, pending[0].ID, got[0].ID)
	require.Equal(t, sensor.AlarmActive, got[0].Status)
	require.Equal(t, ruleT0.Add(10*time.Minute), got[0].Raised)
	require.InDelta(t, 0.9, got[0].Value, 1e-6)
	require.Equal(t, got[0], p.stored(got[0].ID))

	// A pending alarm that the condition leaves after a restart is
	// cancelled, and leaves the store.
	p.clk.Advance(time.Minute)
	p.read("cq-pp-000017", 0.5)
	p.expect("cleared major")
	p.read("cq-pp-000017", 0.9)
	p.expect("pending major")
	second := p.alarms(sensor.AlarmFilter{Status: sensor.AlarmPending})
	require.Len(t, second, 1)
	p.restart()
	p.read("cq-pp-000017", 0.5)
	p.expect("cancelled major")
	_, err := p.store.Alarm(p.ctx, second[0].ID)
	require.ErrorIs(t, err, sensor.ErrUnknownAlarm)
}

// A missing-heartbeat alarm survives a restart: the silent device raises
// no second alarm, and its next reading clears the first.
func TestRestartKeepsHeartbeatAlarm(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.device("cq-pp-000018", sensor.Device{})
	p.add(missingRule("offline", sensor.Condition{After: 3 * time.Minute}))
	p.clk.Advance(time.Minute)
	p.read("cq-pp-000018", 0.4)
	p.clk.Advance(2 * time.Minute)
	p.expect("raised major") // 017 never reported
	silent := p.alarms(sensor.AlarmFilter{})
	require.Len(t, silent, 1)
	require.Equal(t, "cq-pp-000017", silent[0].Device)

	p.restart()
	for range 60 {
		p.read("cq-pp-000018", 0.4)
		p.clk.Advance(time.Minute)
	}
	p.expect() // 017 stays silent under its one alarm; 018 keeps reporting
	p.read("cq-pp-000017", 0.4)
	p.expect("cleared major")
	got := p.stored(silent[0].ID)
	require.Equal(t, sensor.AlarmCleared, got.Status)
	require.Equal(t, "reported again", got.Note)
	require.Len(t, p.storedAlarms(sensor.AlarmQuery{}), 1)
}

// A gateway's storm alarm survives a restart and still stands for the
// devices behind it: none raises an alarm of its own, and the gateway's
// clears when they report again.
func TestRestartKeepsGatewayAlarm(t *testing.T) {
	gateway := sensor.Profile{Name: "gateway", Resources: []sensor.Resource{{Name: "uplink", Interval: time.Minute}}}
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{}, gateway)
	p.device("cq-gw-0001", sensor.Device{Profile: "gateway"})
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = fmt.Sprintf("cq-pp-%06d", i)
		p.device(ids[i], sensor.Device{Gateway: "cq-gw-0001"})
	}
	p.add(missingRule("offline", sensor.Condition{After: 2 * time.Minute}))
	for _, id := range ids {
		p.read(id, 0.4)
	}
	p.clk.Advance(2 * time.Minute)
	p.clk.Advance(2 * time.Minute) // past the storm hold
	p.expect("raised major")
	gw := p.alarms(sensor.AlarmFilter{Status: sensor.AlarmActive})
	require.Len(t, gw, 1)
	require.Equal(t, sensor.AlarmGateway, gw[0].Kind)

	p.restart()
	p.expect()
	p.clk.Advance(10 * time.Minute) // heartbeat timeouts run out again: still one alarm
	p.expect()
	require.Equal(t, 1, p.eng.Stats().Open)
	for _, id := range ids[:3] {
		p.read(id, 0.4)
	}
	p.expect("updated major", "updated major", "cleared major") // fewer than half silent
	got := p.stored(gw[0].ID)
	require.Equal(t, sensor.AlarmCleared, got.Status)
	require.Equal(t, 2, got.Silent)
	p.clk.Advance(5 * time.Minute)
	// The two still silent get their own alarms once released; the three
	// that reported have gone quiet again and join them.
	require.NotEmpty(t, p.alarms(sensor.AlarmFilter{Kind: sensor.AlarmDevice, Status: sensor.AlarmActive}))
}

// A burst alarm survives a restart with its devices: it clears when they
// recover, and the devices raise nothing of their own meanwhile.
func TestRestartKeepsBurstAlarm(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{})
	for i := range 3 {
		p.device(fmt.Sprintf("s%d", i), sensor.Device{Asset: "main-7", Location: geo.Point{Lat: 29.5, Lon: 106.5 + 0.002*float64(i)}})
	}
	r := rulePressureRule("main-low", ruleThreshold(sensor.Critical, "<", 0.15))
	r.Clear = &sensor.Condition{Op: ">", Value: 0.3}
	r.Correlate = &sensor.Correlation{By: "asset", Window: 5 * time.Minute}
	p.add(r)
	p.read("s0", 0.1)
	p.read("s1", 0.12)
	p.expect("raised critical")
	burst := p.alarms(sensor.AlarmFilter{})
	require.Len(t, burst, 1)
	require.Equal(t, sensor.AlarmBurst, burst[0].Kind)
	require.Equal(t, []string{"s0", "s1"}, burst[0].Devices)

	p.restart()
	p.read("s0", 0.1)
	p.read("s1", 0.11)
	p.expect()
	p.read("s0", 0.4)
	p.expect() // s1 still meets the rule
	p.read("s1", 0.4)
	p.expect("cleared critical")
	got := p.stored(burst[0].ID)
	require.Equal(t, sensor.AlarmCleared, got.Status)
	require.Len(t, p.storedAlarms(sensor.AlarmQuery{}), 1)
}

// After a restart a Rate rule cannot tell a rate until it has readings
// again: its restored alarm is neither cleared nor changed until then.
func TestRestartRateAlarmWaitsForRate(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.add(rulePressureRule("falling", sensor.Condition{Kind: sensor.Rate, Op: "<", Value: -0.1, Window: 4 * time.Minute}))
	for _, v := range []float64{0.4, 0.4, 0.4, 0.2} {
		p.read("cq-pp-000017", v)
		p.clk.Advance(time.Minute)
	}
	p.expect("raised major")
	p.restart()
	p.read("cq-pp-000017", 0.2) // no reference yet: the rate is unknown
	p.expect()
	require.Equal(t, 1, p.eng.Stats().Open)
	for range 3 {
		p.clk.Advance(time.Minute)
		p.read("cq-pp-000017", 0.2) // steady: once the rate is known, it clears
	}
	p.expect("cleared major")
}

// failingStore fails alarm writes while fail is set.
type failingStore struct {
	sensor.Store
	mu     sync.Mutex
	fail   bool
	writes int
}

func (s *failingStore) WriteAlarms(ctx context.Context, w ...sensor.AlarmWrite) error {
	s.mu.Lock()
	fail := s.fail
	s.writes++
	s.mu.Unlock()
	if fail {
		return errors.New("connection refused")
	}
	return s.Store.WriteAlarms(ctx, w...)
}

func (s *failingStore) setFail(on bool) {
	s.mu.Lock()
	s.fail = on
	s.mu.Unlock()
}

// A store that fails does not stop the engine: the alarms it missed are
// counted, written with the next change, or by Sync, as they stand then.
func TestStoreFailureIsRetried(t *testing.T) {
	store := &failingStore{Store: sensor.NewMemoryStore()}
	p := newPlant(t, store, sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.device("cq-pp-000018", sensor.Device{})
	p.add(hysteresisRule("high"))

	store.setFail(true)
	p.read("cq-pp-000017", 0.9)
	p.expect("raised major") // events still go out
	st := p.eng.Stats()
	require.EqualValues(t, 1, st.StoreErrors)
	require.Equal(t, 1, st.Unstored)
	a := p.alarms(sensor.AlarmFilter{})
	require.Len(t, a, 1)
	_, err := p.store.Alarm(p.ctx, a[0].ID)
	require.ErrorIs(t, err, sensor.ErrUnknownAlarm)
	require.Error(t, p.eng.Sync(p.ctx), "still failing")

	store.setFail(false)
	p.read("cq-pp-000018", 0.9) // the next change writes both
	p.expect("raised major")
	require.Equal(t, 1, p.pub.dups, "the first raise, announced from memory, came again from the outbox under its ID")
	require.Zero(t, p.eng.Stats().Unstored)
	require.Equal(t, a[0], p.stored(a[0].ID))
	require.Len(t, p.storedAlarms(sensor.AlarmQuery{}), 2)

	store.setFail(true)
	p.read("cq-pp-000017", 1.3)
	p.read("cq-pp-000017", 0.5)
	p.expect("updated critical", "cleared critical")
	store.setFail(false)
	require.NoError(t, p.eng.Sync(p.ctx))
	require.Zero(t, p.eng.Stats().Unstored)
	got := p.stored(a[0].ID)
	require.Equal(t, sensor.AlarmCleared, got.Status)
	require.Equal(t, a[0].Version+2, got.Version, "written as it stands: one write for two changes")
}

// An alarm changed in the store behind the engine's back is overwritten
// with the engine's state at its next change: the engine owns its alarms.
func TestStoreConflictIsResolvedByTheEngine(t *testing.T) {
	store := sensor.NewMemoryStore()
	p := newPlant(t, store, sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.device("cq-pp-000018", sensor.Device{})
	p.add(hysteresisRule("high"))
	p.read("cq-pp-000017", 0.9)
	p.read("cq-pp-000018", 0.9)
	a := p.alarms(sensor.AlarmFilter{})
	require.Len(t, a, 2)
	meddled := p.stored(a[0].ID)
	meddled.Version += 5
	meddled.Note = "edited by hand"
	require.NoError(t, store.WriteAlarms(p.ctx, sensor.AlarmWrite{Alarm: meddled, Prev: a[0].Version}))

	p.read("cq-pp-000017", 1.3) // conflicts; the other alarm's change is not held up
	p.read("cq-pp-000018", 1.3)
	require.Equal(t, sensor.Critical, p.stored(a[1].ID).Severity)
	require.NoError(t, p.eng.Sync(p.ctx))
	got := p.stored(a[0].ID)
	require.Equal(t, sensor.Critical, got.Severity)
	require.Equal(t, "pressure > 1.2", got.Note)
	require.Zero(t, p.eng.Stats().Unstored)
}

// An alarm that has left the engine's history is acknowledged in the
// store, and the acknowledgement is published.
func TestAckOfStoredAlarm(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{History: -1})
	p.device("cq-pp-000017", sensor.Device{})
	p.add(hysteresisRule("high"))
	p.read("cq-pp-000017", 0.9)
	p.read("cq-pp-000017", 0.5)
	p.expect("raised major", "cleared major")
	all := p.storedAlarms(sensor.AlarmQuery{})
	require.Len(t, all, 1)
	id := all[0].ID
	require.Empty(t, p.alarms(sensor.AlarmFilter{}), "no history kept in memory")

	got, err := p.eng.Alarm(p.ctx, id)
	require.NoError(t, err, "Alarm reads the store")
	require.Equal(t, all[0], got)
	p.clk.Advance(time.Minute)
	acked, err := p.eng.Ack(access.WithActor(p.ctx, access.Actor{ID: "jlp-water-duty-02"}), id)
	require.NoError(t, err)
	p.expect("acknowledged major")
	require.Equal(t, "jlp-water-duty-02", acked.AckedBy)
	require.Equal(t, ruleT0.Add(time.Minute), acked.AckedAt)
	require.Equal(t, all[0].Version+1, acked.Version)
	require.Equal(t, acked, p.stored(id))
	_, err = p.eng.Ack(p.ctx, id)
	require.ErrorIs(t, err, sensor.ErrAlarmState)
	_, err = p.eng.Ack(p.ctx, "0190a1c2-7f3a-7c9e-8b1d-2f4e6a8c0b1d")
	require.ErrorIs(t, err, sensor.ErrUnknownAlarm)
}

// Rules are written through: AddRule stores, RemoveRule deletes (and its
// alarms are cleared in the store), a restart restores them, and a store
// that refuses leaves the engine unchanged.
func TestRulesArePersisted(t *testing.T) {
	store := sensor.NewMemoryStore()
	p := newPlant(t, store, sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.add(hysteresisRule("high"))
	p.add(missingRule("offline", sensor.Condition{After: time.Hour}))
	rules, err := store.Rules(p.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"high", "offline"}, []string{rules[0].ID, rules[1].ID})
	require.Equal(t, hysteresisRule("high"), rules[0])

	// The store has it: a second engine on the same store cannot add it
	// again.
	require.ErrorIs(t, p.eng.AddRule(p.ctx, hysteresisRule("high")), sensor.ErrDuplicate)
	require.NoError(t, store.CreateRule(p.ctx, hysteresisRule("elsewhere")))
	require.ErrorIs(t, p.eng.AddRule(p.ctx, hysteresisRule("elsewhere")), sensor.ErrDuplicate)
	require.NoError(t, store.DeleteRule(p.ctx, "elsewhere"))

	p.read("cq-pp-000017", 0.9)
	p.expect("raised major")
	require.NoError(t, p.eng.RemoveRule(p.ctx, "high"))
	p.expect("cleared major")
	_, err = store.Rule(p.ctx, "high")
	require.ErrorIs(t, err, sensor.ErrUnknownRule)
	require.Empty(t, p.storedAlarms(sensor.AlarmQuery{Statuses: []sensor.AlarmStatus{sensor.AlarmActive}}))
	require.Equal(t, "rule removed", p.storedAlarms(sensor.AlarmQuery{})[0].Note)

	p.restart()
	got, err := p.eng.Rules(p.ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "offline", got[0].ID)

	// A store that refuses: nothing changes.
	broken := &brokenRules{Store: store}
	p.opts.Store = broken
	p.restart()
	require.Error(t, p.eng.AddRule(p.ctx, hysteresisRule("high")))
	require.Equal(t, 1, p.eng.Stats().Rules)
	require.Error(t, p.eng.RemoveRule(p.ctx, "offline"))
	require.Equal(t, 1, p.eng.Stats().Rules)
}

type brokenRules struct{ sensor.Store }

func (brokenRules) CreateRule(context.Context, sensor.Rule) error { return errors.New("disk full") }
func (brokenRules) DeleteRule(context.Context, string) error      { return errors.New("disk full") }

// An alarm whose rule is gone from the store (RemoveRule's clearing never
// reached it) is cleared at the restart; NewEngine fails on a rule whose
// profile the registry lacks rather than dropping it.
func TestRestoreWithoutRuleOrProfile(t *testing.T) {
	store := sensor.NewMemoryStore()
	p := newPlant(t, store, sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.add(hysteresisRule("high"))
	p.read("cq-pp-000017", 0.9)
	a := p.alarms(sensor.AlarmFilter{})
	require.NoError(t, store.DeleteRule(p.ctx, "high"))
	p.restart()
	p.expect("cleared major")
	got := p.stored(a[0].ID)
	require.Equal(t, sensor.AlarmCleared, got.Status)
	require.Equal(t, "rule removed", got.Note)

	p.add(hysteresisRule("high"))
	_, err := sensor.NewEngine(sensor.NewRegistry(), p.clk, nil, p.opts)
	require.ErrorIs(t, err, sensor.ErrUnknownProfile)
}

// A backtest on an engine with a store writes nothing to it.
func TestBacktestDoesNotWrite(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	h, err := p.reg.Lookup("cq-pp-000017")
	require.NoError(t, err)
	readings := func(yield func(sensor.Reading) bool) {
		for i, v := range []float64{0.5, 0.9, 0.5} {
			if !yield(sensor.Reading{Device: h, Value: v, Observed: ruleT0.Add(time.Duration(i) * time.Minute)}) {
				return
			}
		}
	}
	rep, err := p.eng.Backtest(p.ctx, hysteresisRule("high"), iter.Seq[sensor.Reading](readings), sensor.BacktestOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Raised)
	require.Empty(t, p.storedAlarms(sensor.AlarmQuery{}))
	rules, err := p.store.Rules(p.ctx)
	require.NoError(t, err)
	require.Empty(t, rules)
}

// Acknowledging across a jurisdiction boundary is denied for stored
// alarms as for held ones.
func TestAckOfStoredAlarmAtBoundary(t *testing.T) {
	policy, err := access.NewPolicy(map[string][]access.Grant{"duty": {
		{Action: sensor.ActionAck, Resource: sensor.ResourceAlarm}, {Action: sensor.ActionRead, Resource: sensor.ResourceAlarm},
		{Action: sensor.ActionManageRules, Resource: sensor.ResourceRule},
	}})
	require.NoError(t, err)
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{Authorizer: policy, History: -1})
	p.device("jlp-1", sensor.Device{Grid: "500107001002003"})
	p.device("yz-1", sensor.Device{Grid: "500103001001001"})
	city := access.WithActor(p.ctx, access.Actor{ID: "city", Kind: access.CityStaff, Scope: "500000", Roles: []string{"duty"}})
	jlp := access.WithActor(p.ctx, access.Actor{ID: "jlp", Kind: access.DistrictStaff, Scope: "500107", Roles: []string{"duty"}})
	r := hysteresisRule("high")
	r.Scope.Grid = "500000"
	require.NoError(t, p.eng.AddRule(city, r))
	p.read("jlp-1", 0.9)
	p.read("yz-1", 0.9)
	p.read("jlp-1", 0.5)
	p.read("yz-1", 0.5)
	all := p.storedAlarms(sensor.AlarmQuery{})
	require.Len(t, all, 2)
	byDevice := map[string]string{all[0].Device: all[0].ID, all[1].Device: all[1].ID}
	_, err = p.eng.Ack(jlp, byDevice["yz-1"])
	require.ErrorIs(t, err, access.ErrDenied)
	require.Empty(t, p.stored(byDevice["yz-1"]).AckedBy, "a denied ack changed nothing")
	_, err = p.eng.Alarm(jlp, byDevice["yz-1"])
	require.ErrorIs(t, err, access.ErrDenied)
	a, err := p.eng.Ack(jlp, byDevice["jlp-1"])
	require.NoError(t, err)
	require.Equal(t, "jlp", a.AckedBy)
}

// Vital signs are written through and restored.
func TestVitalSignsArePersisted(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	opts := sensor.VitalsOptions{Authorizer: access.AllowAll(), Store: p.store}
	v, err := sensor.NewVitals(p.reg, p.clk, opts)
	require.NoError(t, err)
	sign := sensor.VitalSign{Name: "jlp-pressure", Profile: "pipe-pressure", Resource: "pressure", Area: "500107",
		Aggregate: sensor.AggregateAvg, Window: 15 * time.Minute,
		Bands: []sensor.Band{{From: -1e308, Colour: "red"}, {From: 0.2, Colour: "green"}}}
	require.NoError(t, v.Add(p.ctx, sign))
	require.NoError(t, v.Add(p.ctx, sensor.VitalSign{Name: "gone", Profile: "pipe-pressure", Resource: "pressure",
		Aggregate: sensor.AggregateCount, Window: time.Hour}))
	require.NoError(t, v.Remove(p.ctx, "gone"))
	v.Stop()
	signs, err := p.store.VitalSigns(p.ctx)
	require.NoError(t, err)
	require.Equal(t, []sensor.VitalSign{sign}, signs)

	p.restart()
	v2, err := sensor.NewVitals(p.reg, p.clk, opts)
	require.NoError(t, err)
	defer v2.Stop()
	h, err := p.reg.Lookup("cq-pp-000017")
	require.NoError(t, err)
	v2.Observe([]sensor.Reading{{Device: h, Value: 0.3, Observed: p.clk.Now()}})
	val, err := v2.Evaluate("jlp-pressure")
	require.NoError(t, err)
	require.Equal(t, 0.3, val.Value)
	require.Equal(t, "green", val.Colour)
	_, err = v2.Evaluate("gone")
	require.ErrorIs(t, err, sensor.ErrUnknownVitalSign)
}

// A pending alarm whose "for" deadline passed while the process was down
// is raised at the restarted engine's first timer step.
func TestRestartPendingDeadlinePassedMeanwhile(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	r := hysteresisRule("high")
	r.For = 10 * time.Minute
	p.add(r)
	p.read("cq-pp-000017", 0.9)
	pending := p.alarms(sensor.AlarmFilter{})
	require.Len(t, pending, 1)
	p.eng.Close()
	p.clk.Advance(time.Hour) // down for an hour
	p.start()
	p.expect()
	p.clk.Advance(0)
	p.expect("raised major")
	got := p.alarms(sensor.AlarmFilter{})
	require.Len(t, got, 1)
	require.Equal(t, pending[0].ID, got[0].ID)
	require.Equal(t, ruleT0.Add(time.Hour), got[0].Raised)
}

// Readings from several goroutines at once flip alarms up and down; the
// single-flusher writes keep the store in step with the engine: after
// Sync it holds every alarm as the engine does, with no write refused.
func TestStoreKeepsUpWithConcurrentReadings(t *testing.T) {
	p := newPlant(t, sensor.NewMemoryStore(), sensor.EngineOptions{PublishPending: true})
	const devices, workers, rounds = 8, 4, 200
	for i := range devices {
		p.device(fmt.Sprintf("cq-pp-%06d", i), sensor.Device{})
	}
	p.add(hysteresisRule("high"))
	hs := make([]sensor.Handle, devices)
	for i := range hs {
		h, err := p.reg.Lookup(fmt.Sprintf("cq-pp-%06d", i))
		require.NoError(t, err)
		hs[i] = h
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				v := []float64{0.9, 1.3, 0.7, 0.5}[(r+w)%4]
				batch := make([]sensor.Reading, 0, devices)
				for i := w; i < devices; i += workers {
					batch = append(batch, sensor.Reading{Device: hs[i], Value: v, Observed: ruleT0.Add(time.Duration(r) * time.Second)})
				}
				p.eng.Observe(batch)
			}
		})
	}
	wg.Wait()
	require.NoError(t, p.eng.Sync(p.ctx))
	st := p.eng.Stats()
	require.Zero(t, st.StoreErrors)
	require.Zero(t, st.Unstored)
	held := p.alarms(sensor.AlarmFilter{})
	require.NotEmpty(t, held)
	for _, a := range held {
		require.Equal(t, a, p.stored(a.ID))
	}
	var stored []sensor.Alarm
	q := sensor.AlarmQuery{Limit: sensor.MaxQueryLimit}
	for {
		page, err := p.store.Alarms(p.ctx, q)
		require.NoError(t, err)
		stored = append(stored, page.Alarms...)
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	require.Len(t, stored, len(held), "every alarm the engine holds, and no other")
}

// With a store, an alarm's events go into its outbox in the same write
// and are marked published once the bus took them.
func TestAlarmEventsGoThroughTheOutbox(t *testing.T) {
	store := sensor.NewMemoryStore()
	p := newPlant(t, store, sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.add(hysteresisRule("high"))
	p.read("cq-pp-000017", 0.9)
	p.expect("raised major")
	pending, err := store.Pending(p.ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending, "published and marked")

	// The bus refuses: the event waits in the outbox, with its alarm.
	p.pub.setFail(true)
	p.read("cq-pp-000017", 1.3)
	pending, err = store.Pending(p.ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, sensor.AlarmActive, p.stored(p.alarms(sensor.AlarmFilter{})[0].ID).Status)
	require.EqualValues(t, 1, p.eng.Stats().PublishErrors)

	p.pub.setFail(false)
	p.clk.Advance(time.Second) // the retry timer
	p.expect("updated critical")
	pending, err = store.Pending(p.ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}

// A process that dies with events in the outbox loses none: the next one
// publishes them when it starts.
func TestAlarmEventsSurviveARestart(t *testing.T) {
	store := sensor.NewMemoryStore()
	p := newPlant(t, store, sensor.EngineOptions{})
	p.device("cq-pp-000017", sensor.Device{})
	p.add(hysteresisRule("high"))
	p.pub.setFail(true)
	p.read("cq-pp-000017", 0.9)
	p.expect()

	p.restart() // a new publisher that works
	p.expect("raised major")
	pending, err := store.Pending(p.ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}
