package postgres_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/geo"
	"github.com/govkit/govkit/incident"
	"github.com/govkit/govkit/incident/incidenttest"
	"github.com/govkit/govkit/pii"
	"github.com/govkit/govkit/region"
)

// incidentSealer returns a sealer with fixed keys derived from seed: test
// keys only, never a deployment's.
func incidentSealer(t testing.TB, seed string) *pii.Sealer {
	t.Helper()
	enc := sha256.Sum256([]byte("govkit test encryption key " + seed))
	idx := sha256.Sum256([]byte("govkit test index key " + seed))
	s, err := pii.NewSealer(enc[:], idx[:])
	require.NoError(t, err)
	return s
}

func newIncidentStore(t testing.TB) (*postgres.IncidentStore, *postgres.DB) {
	t.Helper()
	db := pgtest.New(t)
	s, err := postgres.NewIncidentStore(testCtx(t), db, incidentSealer(t, "a"))
	require.NoError(t, err)
	return s, db
}

func TestIncidentStoreConformance(t *testing.T) {
	incidenttest.Run(t, func(t *testing.T) incident.Store {
		s, _ := newIncidentStore(t)
		return s
	})
}

// A hotline report of an overloaded muck truck in Jiulongpo, from a caller
// who left name and phone number.
func hotlineReport(t testing.TB) incident.Incident {
	t.Helper()
	name, err := pii.NewName("张三丰")
	require.NoError(t, err)
	phone, err := pii.NewPhone("138 1234 5678")
	require.NoError(t, err)
	at := time.Date(2024, time.March, 5, 0, 35, 12, 345678000, time.UTC)
	id := uuid.Must(uuid.NewV7())
	return incident.Incident{
		ID: id, Channel: incident.Hotline,
		Reporters: []incident.Reporter{{ActorID: "citizen-7f3a9c", Channel: incident.Hotline, Name: name, Phone: phone, ReportedAt: at}},
		Category:  "muck-truck-overload",
		Location: incident.Location{
			Point: geo.Point{Lat: 29.5050, Lon: 106.5120}, Address: "九龙坡区杨家坪步行街 12 号",
			Path: []region.Code{"500000", "500107", "500107001", "500107001002", "500107001002003"},
		},
		Priority: incident.High, Status: incident.Registered,
		Times: incident.Times{Reported: at}, Keys: []string{"hotline:CQ12345-20240305-000123"}, Version: 1,
	}
}

func TestIncidentStoreNeedsDBAndSealer(t *testing.T) {
	ctx := context.Background()
	_, err := postgres.NewIncidentStore(ctx, nil, incidentSealer(t, "a"))
	require.ErrorIs(t, err, postgres.ErrInvalidArgument)

	db := pgtest.New(t)
	_, err = postgres.NewIncidentStore(testCtx(t), db, nil)
	require.ErrorIs(t, err, postgres.ErrInvalidArgument)
	require.False(t, tableExists(t, db, "govkit_incident"), "nothing is created without a sealer")
}

func TestIncidentStoreMigrations(t *testing.T) {
	ctx := testCtx(t)
	_, db := newIncidentStore(t)
	_, err := postgres.NewIncidentStore(ctx, db, incidentSealer(t, "a"))
	require.NoError(t, err, "a second store on the same database")
	applied, err := db.AppliedMigrations(ctx, postgres.IncidentComponent)
	require.NoError(t, err)
	require.Len(t, applied, 3)
	require.Equal(t, "create_incident", applied[0].Name)
	require.Equal(t, "mark_incident_events", applied[1].Name)
	require.Equal(t, "index_open_incidents_nearby", applied[2].Name)
	for _, table := range []string{"govkit_incident", "govkit_incident_key", "govkit_incident_timeline", "govkit_outbox", "govkit_incident_event"} {
		require.True(t, tableExists(t, db, table), table)
	}
	for _, index := range []string{"govkit_incident_grid_idx", "govkit_incident_status_idx", "govkit_incident_category_idx",
		"govkit_incident_reported_at_idx", "govkit_incident_open_nearby_idx"} {
		require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1", index), index)
	}
	require.Zero(t, queryInt(t, db, "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'govkit_incident_nearby_idx'"),
		"the index of every case, replaced by the open-case index")
}

// penaltyOn returns the 2,000 yuan fine of the truck's operator.
func penaltyOn(t testing.TB) incident.Penalty {
	t.Helper()
	payer, err := pii.NewName("重庆某渣土运输有限公司")
	require.NoError(t, err)
	return incident.Penalty{
		Decision: "九交执罚〔2024〕0412号", Payer: payer, Amount: *apd.New(200000, -2),
		DecidedBy: "jlp-te-chen", DecidedAt: time.Date(2024, time.March, 7, 8, 0, 0, 123456000, time.UTC),
	}
}

// The caller's name and phone number, and the payer of a fine, reach the
// database only sealed; the fine is kept as its exact text.
func TestIncidentPersonalDataIsSealed(t *testing.T) {
	ctx := testCtx(t)
	s, db := newIncidentStore(t)
	inc := hotlineReport(t)
	inc.Penalties = []incident.Penalty{penaltyOn(t)}
	msg := bus.Message{ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500107.500107001.incident.reported",
		Key: inc.ID.String(), Time: inc.Times.Reported, Data: []byte(`{"event":"reported"}`)}
	require.NoError(t, s.Apply(ctx, incident.Change{
		Create: []incident.Incident{inc},
		Timeline: []incident.Entry{{Incident: inc.ID, Seq: 1, Time: inc.Times.Reported, ActorID: "citizen-7f3a9c",
			Action: "report", To: incident.Registered, Note: "市民来电"}},
		Events: []bus.Message{msg},
	}))

	got, err := s.Get(ctx, inc.ID)
	require.NoError(t, err)
	incidenttest.AssertIncidentEqual(t, inc, got)

	var dump strings.Builder
	for _, q := range []string{
		"SELECT doc::text FROM govkit_incident",
		"SELECT t::text FROM govkit_incident t",
		"SELECT t::text FROM govkit_incident_key t",
		"SELECT t::text FROM govkit_incident_timeline t",
		"SELECT t::text || convert_from(data, 'UTF8') FROM govkit_outbox t",
	} {
		rows, err := db.Pool().Query(ctx, q)
		require.NoError(t, err)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		for _, s := range texts {
			dump.WriteString(s)
		}
	}
	require.NotEmpty(t, dump.String())
	for _, secret := range []string{"13812345678", "12345678", "张三丰", "三丰", "重庆某渣土运输有限公司", "渣土运输"} {
		require.NotContains(t, dump.String(), secret)
	}
	require.Contains(t, dump.String(), "phone_sealed", "the sealed phone is stored")
	require.Contains(t, dump.String(), "payer_sealed", "the sealed payer is stored")
	require.Contains(t, dump.String(), `"amount": "2000.00"`, "the fine as its exact text")

	// Without the key the data does not open.
	other, err := postgres.NewIncidentStore(ctx, db, incidentSealer(t, "b"))
	require.NoError(t, err)
	_, err = other.Get(ctx, inc.ID)
	require.ErrorIs(t, err, pii.ErrSealed)

	// Nor does a payer, on a case whose reporter left no personal data.
	anon := hotlineReport(t)
	anon.Reporters[0].Name, anon.Reporters[0].Phone = pii.Data{}, pii.Data{}
	anon.Keys = nil
	anon.Penalties = []incident.Penalty{penaltyOn(t)}
	require.NoError(t, s.Apply(ctx, incident.Change{Create: []incident.Incident{anon}}))
	got, err = s.Get(ctx, anon.ID)
	require.NoError(t, err)
	incidenttest.AssertIncidentEqual(t, anon, got)
	_, err = other.Get(ctx, anon.ID)
	require.ErrorIs(t, err, pii.ErrSealed)
}

// A stored fine that is not a decimal (which the store never writes) is
// an error, not a zero fine.
func TestIncidentCorruptFine(t *testing.T) {
	ctx := testCtx(t)
	s, db := newIncidentStore(t)
	inc := hotlineReport(t)
	inc.Penalties = []incident.Penalty{penaltyOn(t)}
	require.NoError(t, s.Apply(ctx, incident.Change{Create: []incident.Incident{inc}}))
	_, err := db.Pool().Exec(ctx, `UPDATE govkit_incident
		SET doc = jsonb_set(doc, '{penalties,0,amount}', '"two thousand"') WHERE id = $1`, inc.ID)
	require.NoError(t, err)
	_, err = s.Get(ctx, inc.ID)
	require.ErrorContains(t, err, "amount of penalty 0")
}

// The stored layout names every field of Incident and of the records in
// it: a field added to one of them must be added to the store's document
// (or the timeline's columns) too, or it would be dropped silently.
func TestIncidentDocumentCoversEveryField(t *testing.T) {
	for typ, fields := range map[reflect.Type]string{
		reflect.TypeFor[incident.Incident](): "ID ExternalIDs Channel Reporters Category Attributes Description Location Priority " +
			"Confidence Evidence Status Resolution Times SLA Handlers Reworks Reopens Rating MergedInto MergedFrom SplitFrom Keys " +
			"Penalties Version",
		reflect.TypeFor[incident.Reporter](): "ActorID Channel Name Phone ReportedAt ExternalID",
		reflect.TypeFor[incident.Location](): "Point Address Accuracy Path",
		reflect.TypeFor[incident.Evidence](): "URI SHA256 MediaType",
		reflect.TypeFor[incident.Times]():    "Reported Registered Dispatched Started Disposed Verified Closed Evaluated",
		reflect.TypeFor[incident.Clock]():    "Phase Deadline PausedAt Reason Overdue",
		reflect.TypeFor[incident.Penalty]():  "Decision Basis Payer Amount DecidedBy DecidedAt",
		reflect.TypeFor[incident.Entry]():    "Incident Seq Time ActorID Action From To Note Evidence Late PrevHash Hash",
		reflect.TypeFor[geo.Point]():         "Lat Lon",
	} {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		require.Equal(t, strings.Fields(fields), got, "%v gained or lost a field: update incident.go's document", typ)
	}
}

func TestIncidentEventIDs(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newIncidentStore(t)
	id := uuid.Must(uuid.NewV7())
	for _, bad := range []string{"evt-0001", "", strings.ToUpper(id.String()), "urn:uuid:" + id.String(), uuid.Nil.String()} {
		inc := hotlineReport(t)
		err := s.Apply(ctx, incident.Change{
			Create: []incident.Incident{inc},
			Events: []bus.Message{{ID: bad, Subject: "gov.500000.incident.reported"}},
		})
		require.ErrorIs(t, err, postgres.ErrInvalidOutboxMessage, "id %q", bad)
		var ee *postgres.IncidentEventError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, bad, ee.ID)
		_, err = s.Get(ctx, inc.ID)
		require.ErrorIs(t, err, incident.ErrNotFound, "nothing of the change is written")
	}

	// The same event twice is a conflict, as in the memory store.
	msg := bus.Message{ID: id.String(), Subject: "gov.500000.incident.reported", Time: time.Now()}
	require.NoError(t, s.Apply(ctx, incident.Change{Events: []bus.Message{msg}}))
	inc := hotlineReport(t)
	err := s.Apply(ctx, incident.Change{Create: []incident.Incident{inc}, Events: []bus.Message{msg}})
	require.ErrorIs(t, err, incident.ErrConflict)
	_, err = s.Get(ctx, inc.ID)
	require.ErrorIs(t, err, incident.ErrNotFound)
}

// Query values travel as parameters, never as SQL.
func TestIncidentFindIsParameterised(t *testing.T) {
	ctx := testCtx(t)
	s, db := newIncidentStore(t)
	require.NoError(t, s.Apply(ctx, incident.Change{Create: []incident.Incident{hotlineReport(t)}}))
	for _, evil := range []string{"x'; DROP TABLE govkit_incident; --", `muck-truck-overload' OR '1'='1`, "%"} {
		page, err := s.Find(ctx, incident.Query{Categories: []string{evil}})
		require.NoError(t, err)
		require.Empty(t, page.Incidents, evil)
		near, err := s.Nearby(ctx, incident.NearbyQuery{Category: evil, Center: geo.Point{Lat: 29.5050, Lon: 106.5120}, Meters: 100})
		require.NoError(t, err)
		require.Empty(t, near, evil)
		_, err = s.ByKey(ctx, evil)
		require.ErrorIs(t, err, incident.ErrNotFound)
	}
	require.Equal(t, 1, queryInt(t, db, "SELECT count(*) FROM govkit_incident"))
}

// Unlike the memory store, which keeps them, entries of an incident that
// does not exist are refused by the foreign key.
func TestIncidentTimelineOfUnknownIncident(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newIncidentStore(t)
	err := s.Apply(ctx, incident.Change{Timeline: []incident.Entry{{Incident: uuid.Must(uuid.NewV7()), Seq: 1, Action: "report"}}})
	require.ErrorIs(t, err, incident.ErrNotFound)
}

// The outbox is shared: Pending shows what other stores wrote too, as the
// relay publishes it.
// The outbox is shared, but the store's Pending holds only its own events,
// so the incident service never publishes another component's.
func TestIncidentPendingSeesOnlyItsOwnEvents(t *testing.T) {
	ctx := testCtx(t)
	s, db := newIncidentStore(t)
	other := postgres.OutboxMessage{ID: uuid.Must(uuid.NewV7()), Subject: "gov.500000.audit.recorded", Data: []byte("{}")}
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return postgres.WriteOutbox(ctx, tx, other)
	}))
	msgs, err := s.Pending(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, msgs)
	require.NoError(t, s.MarkPublished(ctx, other.ID.String()))
	var published bool
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT published_at IS NOT NULL FROM govkit_outbox WHERE id = $1`, other.ID).Scan(&published))
	require.False(t, published, "another component's event is not the store's to mark")
}

// A district's program opens the store once at start-up and hands it to
// the incident service.
func ExampleNewIncidentStore() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, "postgres://govkit@db.example:5432/city?sslmode=verify-full")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	// Both keys come from a secret store, never from source code.
	var encKey, indexKey []byte
	sealer, err := pii.NewSealer(encKey, indexKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := postgres.NewIncidentStore(ctx, db, sealer)
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ incident.Store = store
}

// genericPlanDB is a database whose planner must use indexes and plans
// every statement generically, as it will once a statement has run a few
// times: a test on it shows a query reads its index whatever the values.
func genericPlanDB(t *testing.T) *postgres.DB {
	t.Helper()
	return pgtest.New(t, postgres.WithPoolConfig(func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["enable_seqscan"] = "off"
		c.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}))
}

// Duplicate search reads open cases through the partial index of open
// cases, even in a generic plan (a parameter for the statuses would not
// match the index's predicate there).
func TestIncidentNearbyUsesTheOpenIndex(t *testing.T) {
	ctx := testCtx(t)
	db := genericPlanDB(t)
	s, err := postgres.NewIncidentStore(ctx, db, incidentSealer(t, "a"))
	require.NoError(t, err)
	open := hotlineReport(t)
	require.NoError(t, s.Apply(ctx, incident.Change{Create: []incident.Incident{open}}))

	scans := func(index string) int {
		return queryInt(t, db, "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE schemaname = current_schema() AND indexrelname = $1", index)
	}
	q := incident.NearbyQuery{Category: open.Category, Center: open.Location.Point, Meters: 100}
	for range 8 { // past the prepared statement's first custom plans
		near, err := s.Nearby(ctx, q)
		require.NoError(t, err)
		require.Len(t, near, 1)
	}
	require.Eventually(t, func() bool { return scans("govkit_incident_open_nearby_idx") >= 8 }, 5*time.Second, 50*time.Millisecond,
		"the open-case index was not used")
	// A search that could not use it falls back on the category index and
	// filters every case of the category.
	require.Zero(t, scans("govkit_incident_category_idx"), "the search read every case of the category")

	// Open cases of the category elsewhere in the city are not read: the
	// cells bound the index scan, even before the table's statistics
	// know it holds more than a handful of rows.
	var far []incident.Incident
	for i := range 300 {
		inc := hotlineReport(t)
		inc.ID, inc.Keys = uuid.Must(uuid.NewV7()), nil
		inc.Location.Point.Lat += 0.02 + float64(i%30)*0.01
		inc.Location.Point.Lon += float64(i/30) * 0.01
		far = append(far, inc)
	}
	require.NoError(t, s.Apply(ctx, incident.Change{Create: far}))
	read := func() int {
		return queryInt(t, db, "SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE schemaname = current_schema() AND indexrelname = 'govkit_incident_open_nearby_idx'")
	}
	settled := func() int { // the counters reach the view a moment after the query
		n := read()
		for range 50 {
			time.Sleep(50 * time.Millisecond)
			if m := read(); m == n {
				return n
			}
			n = read()
		}
		return n
	}
	// Each search reads about one entry; the bound leaves room for the
	// first searches' counts, which a backend may report late. Reading
	// the category would cost 301 a search.
	before, calls := settled(), 8
	for range calls {
		near, err := s.Nearby(ctx, q)
		require.NoError(t, err)
		require.Len(t, near, 1)
	}
	require.Eventually(t, func() bool { return read() > before }, 5*time.Second, 50*time.Millisecond)
	require.LessOrEqual(t, settled()-before, calls*5, "index entries read for %d searches among %d open cases of the category", calls, len(far)+1)
}
