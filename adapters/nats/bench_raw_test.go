package nats_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/govkit/govkit/adapters/nats/natstest"
)

// BenchmarkRawJetStream is the ceiling for BenchmarkBusThroughput on the
// same machine in the same run: nats.go alone, with none of the bus's
// work — a file stream, two goroutines publishing asynchronously with a
// Nats-Msg-Id each, one pull consumer acknowledging every message
// explicitly from its callback. "limits" keeps messages until the
// stream's limits (JetStream's default); "bus-stream" configures the
// server as the bus does: interest retention, so that a message is
// deleted once acknowledged, and the eight idle consumers of a group's
// key lanes beside the one that receives.
func BenchmarkRawJetStream(b *testing.B) {
	b.Run("limits", func(b *testing.B) { rawJetStream(b, jetstream.LimitsPolicy, 0) })
	b.Run("bus-stream", func(b *testing.B) { rawJetStream(b, jetstream.InterestPolicy, 8) })
}

func rawJetStream(b *testing.B, retention jetstream.RetentionPolicy, idle int) {
	url := natstest.URL(b)
	nc, err := natsgo.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	name := natstest.StreamName()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: jetstream.FileStorage, Retention: retention})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := natstest.DeleteStream(url, name); err != nil {
			b.Error(err)
		}
	}()
	for i := range idle {
		lane := "k" + strconv.Itoa(i)
		c, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: lane, FilterSubject: name + "." + lane + ".>",
			AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1})
		if err != nil {
			b.Fatal(err)
		}
		cc, err := c.Consume(func(m jetstream.Msg) { _ = m.Ack() }, jetstream.PullMaxMessages(4))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Stop()
	}
	consumer, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "raw", FilterSubject: name + ".u.>",
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 8192})
	if err != nil {
		b.Fatal(err)
	}
	var acked atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	cc, err := consumer.Consume(func(m jetstream.Msg) {
		if err := m.Ack(); err != nil {
			b.Error(err)
		}
		if acked.Add(1) == target {
			close(done)
		}
	}, jetstream.PullMaxMessages(512))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	subject := name + ".u.gov.500000.500107.500107001.sensor.reading"

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Go(func() {
			for i := p; i < b.N; i += 2 {
				m := &natsgo.Msg{Subject: subject, Data: payload, Header: natsgo.Header{}}
				m.Header.Set(jetstream.MsgIDHeader, strconv.Itoa(i))
				if _, err := js.PublishMsgAsync(m); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("acknowledged %d of %d", acked.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
