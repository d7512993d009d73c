package postgres_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/govkit/govkit/adapters/postgres"
	"github.com/govkit/govkit/adapters/postgres/pgtest"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/incident"
)

// BenchmarkIncidentApply measures intake: each operation creates one case
// (with a sealed reporter and an idempotency key), its first timeline entry
// and its "reported" event, in one transaction, from several goroutines
// sharing the pool.
func BenchmarkIncidentApply(b *testing.B) {
	ctx := testCtx(b)
	db := pgtest.New(b)
	s, err := postgres.NewIncidentStore(ctx, db, incidentSealer(b, "bench"))
	require.NoError(b, err)
	template := hotlineReport(b)
	var n atomic.Int64

	b.SetParallelism(4) // 4×GOMAXPROCS writers, more than the pool has connections
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			inc := template.Clone()
			inc.ID = uuid.Must(uuid.NewV7())
			inc.Keys = []string{fmt.Sprintf("hotline:CQ12345-20240305-%06d", n.Add(1))}
			c := incident.Change{
				Create: []incident.Incident{inc},
				Timeline: []incident.Entry{{Incident: inc.ID, Seq: 1, Time: time.Now(), ActorID: "citizen-7f3a9c",
					Action: "report", To: incident.Registered, Note: "市民来电", Hash: make([]byte, 32), PrevHash: make([]byte, 32)}},
				Events: []bus.Message{{ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500107.500107001.incident.reported",
					Key: inc.ID.String(), Time: time.Now(), Data: []byte(`{"event":"reported"}`)}},
			}
			if err := s.Apply(ctx, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
}

// BenchmarkIncidentUpdate measures a command on a case: each operation
// moves one of 1,000 cases (each holding its idempotency key) to its next
// version with a timeline entry and an event, in one transaction, from
// several goroutines; each goroutine owns its cases, so none conflict.
func BenchmarkIncidentUpdate(b *testing.B) {
	ctx := testCtx(b)
	db := pgtest.New(b)
	s, err := postgres.NewIncidentStore(ctx, db, incidentSealer(b, "bench"))
	require.NoError(b, err)
	template := hotlineReport(b)
	const cases = 1000
	incs := make([]incident.Incident, cases)
	for i := range incs {
		inc := template.Clone()
		inc.ID = uuid.Must(uuid.NewV7())
		inc.Keys = []string{fmt.Sprintf("hotline:CQ12345-20240306-%06d", i)}
		require.NoError(b, s.Apply(ctx, incident.Change{Create: []incident.Incident{inc}}))
		incs[i] = inc
	}
	var next atomic.Int64
	const parallelism = 4
	goroutines := parallelism * runtime.GOMAXPROCS(0)
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(next.Add(1) - 1)
		mine := incs[g*cases/goroutines : (g+1)*cases/goroutines]
		for i := 0; pb.Next(); i++ {
			inc := &mine[i%len(mine)]
			inc.Version++
			c := incident.Change{
				Update: []incident.Incident{*inc},
				Timeline: []incident.Entry{{Incident: inc.ID, Seq: int(inc.Version), Time: time.Now(), ActorID: "handler-3",
					Action: "note", To: incident.Registered, Note: "在办", Hash: make([]byte, 32), PrevHash: make([]byte, 32)}},
				Events: []bus.Message{{ID: uuid.Must(uuid.NewV7()).String(), Subject: "gov.500000.500107.500107001.incident.noted",
					Key: inc.ID.String(), Time: time.Now(), Data: []byte(`{"event":"noted"}`)}},
			}
			if err := s.Apply(ctx, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
