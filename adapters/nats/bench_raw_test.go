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
// work, on the same server path — a file stream, two goroutines
// publishing asynchronously with a Nats-Msg-Id each, one pull consumer
// acknowledging every message explicitly from its callback.
func BenchmarkRawJetStream(b *testing.B) {
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
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := natstest.DeleteStream(url, name); err != nil {
			b.Error(err)
		}
	}()
	consumer, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 8192})
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
	subject := name + ".gov.500000.500107.500107001.sensor.reading"

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
