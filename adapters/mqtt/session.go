package mqtt

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho/session"
	"github.com/eclipse/paho.golang/paho/session/state"
)

// sessionState wraps paho's session state (kept in memory, so that it
// survives reconnections of one process) to give the adapter two things
// paho does not:
//
//   - Acknowledgements under the adapter's control. paho acknowledges a
//     message as soon as its callbacks return; the adapter acknowledges it
//     when the handler has succeeded, in the order received as MQTT
//     requires, and never on a newer connection than the one that
//     delivered it (a packet identifier on a new connection may belong to
//     another message).
//   - Publish confirmations without a goroutine per publish: a publish
//     whose context carries a *pending gets the broker's PUBACK on the
//     pending's channel, and a pending whose packet the session forgot (a
//     reconnection that found no session on the broker) is told so.
type sessionState struct {
	*state.State

	mu      sync.Mutex
	gen     uint64 // changes on every connection and disconnection
	up      bool
	pending map[*pending]struct{}
}

func newSessionState() *sessionState {
	return &sessionState{State: state.New(newLazyStore(), newLazyStore()), pending: map[*pending]struct{}{}}
}

// pending waits for one PUBLISH's PUBACK.
type pending struct {
	ch chan packets.ControlPacket // receives the PUBACK, or a zero packet if the session lost it
}

type pendingKey struct{}

// ConAckReceived starts a connection.
func (s *sessionState) ConAckReceived(w io.Writer, cp *packets.Connect, ca *packets.Connack) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.State.ConAckReceived(w, cp, ca)
	s.gen++
	s.up = err == nil
	if !ca.SessionPresent {
		// paho dropped the session's in-flight publishes: their PUBACKs will
		// never come, so tell their publishers to send again.
		for p := range s.pending {
			select {
			case p.ch <- packets.ControlPacket{}:
			default:
			}
			delete(s.pending, p)
		}
	}
	return err
}

// ConnectionLost ends a connection.
func (s *sessionState) ConnectionLost(dp *packets.Disconnect) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.up = false
	return s.State.ConnectionLost(dp)
}

// Ack is what paho calls when the callbacks for a message return; the
// adapter acknowledges later, with ack.
func (s *sessionState) Ack(*packets.Publish) error { return nil }

// generation returns the current connection's generation, for ack.
func (s *sessionState) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// ack sends a PUBACK for packet id if the connection that delivered it
// (generation gen) is still up; otherwise the broker will redeliver it.
func (s *sessionState) ack(gen uint64, id uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up && s.gen == gen {
		_ = s.State.Ack(&packets.Publish{PacketID: id, QoS: 1})
	}
}

// AddToSession registers a packet; a PUBLISH whose context carries a
// *pending reports its PUBACK there.
func (s *sessionState) AddToSession(ctx context.Context, p session.Packet, resp chan<- packets.ControlPacket) error {
	pd, _ := ctx.Value(pendingKey{}).(*pending)
	if pd == nil || p.Type() != packets.PUBLISH {
		return s.State.AddToSession(ctx, p, resp)
	}
	if err := s.State.AddToSession(ctx, p, pd.ch); err != nil {
		return err
	}
	s.mu.Lock()
	s.pending[pd] = struct{}{}
	s.mu.Unlock()
	return nil
}

// forget stops tracking pd (its PUBACK arrived or its publisher gave up).
func (s *sessionState) forget(pd *pending) {
	s.mu.Lock()
	delete(s.pending, pd)
	s.mu.Unlock()
}

// lazyStore is paho's session store for packets kept in memory. paho's
// own memory store serialises every outgoing PUBLISH when it is sent, to
// be able to resend it after a reconnection; this one keeps the packet and
// serialises it only if it is resent.
type lazyStore struct {
	mu   sync.Mutex
	n    uint64
	data map[uint16]lazyPacket
}

type lazyPacket struct {
	n uint64 // insertion order
	p io.WriterTo
}

func newLazyStore() *lazyStore { return &lazyStore{data: map[uint16]lazyPacket{}} }

// Put keeps the packet.
func (s *lazyStore) Put(id uint16, _ byte, w io.WriterTo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.data[id] = lazyPacket{s.n, w}
	return nil
}

// Get serialises the packet.
func (s *lazyStore) Get(id uint16) (io.ReadCloser, error) {
	s.mu.Lock()
	p, ok := s.data[id]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("mqtt: packet %d not in the session store", id)
	}
	var b bytes.Buffer
	if _, err := p.p.WriteTo(&b); err != nil {
		return nil, err
	}
	return io.NopCloser(&b), nil
}

// Delete forgets a packet.
func (s *lazyStore) Delete(id uint16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, id)
	return nil
}

// Quarantine forgets a packet that could not be read back.
func (s *lazyStore) Quarantine(id uint16) error { return s.Delete(id) }

// List returns the packet identifiers in the order they were put.
func (s *lazyStore) List() ([]uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]uint16, 0, len(s.data))
	for id := range s.data {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uint16) int { return cmp.Compare(s.data[a].n, s.data[b].n) })
	return ids, nil
}

// Reset forgets everything.
func (s *lazyStore) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.data)
	return nil
}
