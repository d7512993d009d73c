package mqtt

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govkit/govkit/access"
	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/sensor"
)

// discard is the alarm engine's bus in the benchmark: alarm events are
// built and dropped.
type discard struct{ n atomic.Int64 }

func (d *discard) Publish(context.Context, bus.Message) error { d.n.Add(1); return nil }

// BenchmarkSensorPath is the guide's comparison with eKuiper (a threshold
// rule over a stream of JSON readings, QoS 1, lossless broker settings,
// publisher, broker and engine on the same two cores; eKuiper measured
// 51,000 msg/s at QoS 1 on these machines): 1,000 tank gauges publish one
// JSON reading per MQTT message through the publishing bus; the subscribing
// bus hands each message to the sensor ingester's SyncHandler, which
// decodes it, ingests it (registry checks, latest values, duplicates) and
// runs the alarm engine's threshold rule before the message is
// acknowledged. About one reading in a thousand, each time from another
// tank, is over the threshold. It
// reports msgs/s, end to end, and lost (sequence gaps: the figure is valid
// only when lost is 0). With PackSize 32 on the publisher
// (BenchmarkSensorPathPacked) a gateway's readings travel 32 to a PUBLISH.
func BenchmarkSensorPath(b *testing.B) { benchSensorPath(b, 0) }

// BenchmarkSensorPathPacked is BenchmarkSensorPath with PackSize 32.
func BenchmarkSensorPathPacked(b *testing.B) { benchSensorPath(b, 32) }

func benchSensorPath(b *testing.B, packSize int) {
	reg := sensor.NewRegistry()
	if err := reg.AddProfile(sensor.Profile{Name: "tank-gauge", Resources: []sensor.Resource{
		{Name: "level", Unit: "%", Min: 0, Max: 100, Interval: time.Second},
	}}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, devices)
	for i := range devices {
		ids[i] = fmt.Sprintf("tank-%04d", i)
		if _, err := reg.Register(sensor.Device{ID: ids[i], Profile: "tank-gauge", Grid: "500107001002003"}); err != nil {
			b.Fatal(err)
		}
	}
	alarms := &discard{}
	eng, err := sensor.NewEngine(reg, clock.Real(), alarms, sensor.EngineOptions{Authorizer: access.AllowAll()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	rule, err := sensor.ParseRule([]byte(`{"id": "tank-high", "scope": {"profile": "tank-gauge", "resource": "level"},
		"raise": [{"severity": "major", "op": ">", "value": 95}], "clear": {"op": "<", "value": 90}}`))
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.AddRule(context.Background(), rule); err != nil {
		b.Fatal(err)
	}
	in, err := sensor.NewIngester(reg, sensor.IngestOptions{Authorizer: access.AllowAll(), Area: "500107", Observers: []sensor.Observer{eng}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = in.Close(context.Background()) }()

	pb, sb, root, subjects, _ := benchBuses(b, packSize, ids)
	if _, err := sb.Subscribe(context.Background(), root+".>", "sensor", in.SyncHandler()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	publishAll(b, pb, packSize, func(i int64, d int) bus.Message {
		level := 40 + float64(i%50)
		if i%997 == 0 { // a different tank each time
			level = 97
		}
		m := bus.NewMessage(subjects[d], fmt.Appendf(nil, `{"device":%q,"seq":%d,"readings":{"level":%.1f}}`, ids[d], i+1, level))
		m.Key = ids[d]
		return m
	})
	deadline := time.Now().Add(30 * time.Second)
	for in.Stats().Messages < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	st, bst := in.Stats(), sb.Stats()
	b.ReportMetric(float64(st.Messages)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(bst.Lost), "lost")
	b.ReportMetric(float64(alarms.n.Load()), "alarm-events")
	if st.Messages < int64(b.N) || st.Accepted < int64(b.N) || bst.Lost > 0 || st.Malformed > 0 {
		b.Errorf("invalid figure: %d of %d messages, %d readings accepted, %d malformed, %d lost", st.Messages, b.N, st.Accepted, st.Malformed, bst.Lost)
	}
}
