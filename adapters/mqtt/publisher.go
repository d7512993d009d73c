package mqtt

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session"

	"github.com/govkit/govkit/bus"
)

// publisher is a bus's one publishing connection. It uses paho directly
// rather than autopaho because it needs paho.Client.PublishWithOptions
// with PublishMethod_AsyncSend: a publish is numbered and written under
// one lock, so that each stream's sequence numbers reach the broker in
// order, and its PUBACK is awaited outside the lock, so that many publishes
// are in flight at once.
type publisher struct {
	opts     *Options
	urls     []*url.URL
	clientID string
	sess     *sessionState
	log      func(msg string, args ...any)

	mu     sync.Mutex // orders numbering with writing
	seqs   map[seqKey]uint64
	src    string
	srcGen int
	start  string

	cmu sync.Mutex
	cli *paho.Client
	up  chan struct{} // closed while cli != nil

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

type seqKey struct{ subject, key string }

func newPublisher(opts *Options, urls []*url.URL, log func(string, ...any)) *publisher {
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{
		opts: opts, urls: urls, clientID: opts.ClientID + "-pub", sess: newSessionState(), log: log,
		seqs: map[seqKey]uint64{}, start: strconv.FormatInt(time.Now().UnixNano(), 36),
		up: make(chan struct{}), ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	p.src = p.opts.ClientID + "@" + p.start
	go p.run()
	return p
}

// client returns the live client, or nil and a channel closed when one
// is up.
func (p *publisher) client() (*paho.Client, <-chan struct{}) {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	return p.cli, p.up
}

func (p *publisher) setClient(cli *paho.Client) {
	p.cmu.Lock()
	defer p.cmu.Unlock()
	if cli != nil {
		p.cli = cli
		close(p.up)
	} else if p.cli != nil {
		p.cli = nil
		p.up = make(chan struct{})
	}
}

// run keeps the connection up until close.
func (p *publisher) run() {
	defer close(p.done)
	clean := true // the first connection starts afresh; later ones resume
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(reconnectDelay(p.opts, attempt))
			select {
			case <-t.C:
			case <-p.ctx.Done():
				t.Stop()
				return
			}
		}
		for _, u := range p.urls {
			cli, err := p.connect(u, clean)
			if err != nil {
				if p.ctx.Err() != nil {
					return
				}
				p.log("mqtt: publisher cannot connect", "server", u.Redacted(), "error", err)
				continue
			}
			clean, attempt = false, 0
			p.setClient(cli)
			select {
			case <-cli.Done():
				p.setClient(nil)
				p.log("mqtt: publisher connection lost", "server", u.Redacted())
			case <-p.ctx.Done():
				_ = cli.Disconnect(&paho.Disconnect{ReasonCode: 0})
				p.setClient(nil)
				return
			}
			break
		}
	}
}

func (p *publisher) connect(u *url.URL, clean bool) (*paho.Client, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.ConnectTimeout)
	defer cancel()
	c, err := dial(ctx, u, p.opts.TLS, p.opts.PackSize > 1)
	if err != nil {
		return nil, err
	}
	cli := paho.NewClient(paho.ClientConfig{
		ClientID: p.clientID, Conn: c, Session: p.sess, PacketTimeout: p.opts.ConnectTimeout,
		OnClientError:      func(error) {},
		OnServerDisconnect: func(*paho.Disconnect) {},
	})
	if _, err := cli.Connect(ctx, connectPacket(p.opts, p.clientID, clean, 0)); err != nil {
		return nil, err
	}
	return cli, nil
}

// connectPacket builds a CONNECT for clientID; receiveMax 0 leaves it out.
func connectPacket(o *Options, clientID string, clean bool, receiveMax uint16) *paho.Connect {
	expiry := uint32(o.SessionExpiry / time.Second)
	cp := &paho.Connect{
		ClientID: clientID, CleanStart: clean, KeepAlive: uint16(o.KeepAlive / time.Second),
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry},
	}
	if receiveMax > 0 {
		cp.Properties.ReceiveMaximum = &receiveMax
	}
	if o.Username != "" {
		cp.UsernameFlag, cp.Username = true, o.Username
	}
	if o.Password != "" {
		cp.PasswordFlag, cp.Password = true, []byte(o.Password)
	}
	return cp
}

// reconnectDelay is the wait before reconnection attempt n ≥ 1.
func reconnectDelay(o *Options, n int) time.Duration {
	d := o.ReconnectMin
	for i := 1; i < n && d < o.ReconnectMax; i++ {
		d *= 2
	}
	d = min(d, o.ReconnectMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// flight is one PUBLISH on its way to the broker: a message, or a pack.
type flight struct {
	topic    string
	m        bus.Message
	numbered bool
	x        meta          // attempt and subject, for a hand-back
	pack     *packFlight   // non-nil for a pack (m is then unused)
	pub      *paho.Publish // built (and numbered) on first send
	pd       *pending
}

// packFlight is a planned pack and its messages, numbered on first send.
type packFlight struct {
	u  unit
	ms []bus.Message // the pack's messages (for their subject and key)
}

// nextSeq numbers a message of stream (subject, key); p.mu is held.
func (p *publisher) nextSeq(subject, key string) uint64 {
	k := seqKey{subject, key}
	n, ok := p.seqs[k]
	if !ok && len(p.seqs) >= p.opts.MaxStreams {
		p.newSource()
	}
	n++
	p.seqs[k] = n
	return n
}

// newSource forgets every stream and starts numbering afresh under a new
// source; p.mu is held.
func (p *publisher) newSource() {
	clear(p.seqs)
	p.srcGen++
	p.src = p.opts.ClientID + "@" + p.start + "." + strconv.Itoa(p.srcGen)
}

// packPublish numbers a pack's messages and builds its PUBLISH; p.mu is
// held. A pack has one source, so if numbering it would take the
// publisher past MaxStreams it starts the new source first (and a pack
// with more new streams than MaxStreams exceeds it, by less than
// MaxPackSize, until the next message).
func (p *publisher) packPublish(f *flight) *paho.Publish {
	pf := f.pack
	if len(p.seqs)+len(pf.ms) > p.opts.MaxStreams {
		fresh := map[seqKey]struct{}{}
		for _, m := range pf.ms {
			if k := (seqKey{m.Subject, m.Key}); p.seqs[k] == 0 {
				fresh[k] = struct{}{}
			}
		}
		if len(fresh) > 0 && len(p.seqs)+len(fresh) > p.opts.MaxStreams {
			p.newSource()
		}
	}
	payload := packPayload(&pf.u, p.src, func(i int) uint64 {
		k := seqKey{pf.ms[i].Subject, pf.ms[i].Key}
		n := p.seqs[k] + 1
		p.seqs[k] = n
		return n
	})
	return &paho.Publish{Topic: f.topic, QoS: 1, Payload: payload,
		Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: PropPack, Value: strconv.Itoa(pf.u.n)}}}}
}

// send writes f to the broker, numbering it the first time; it returns
// once the PUBLISH is in paho's session (and will be retransmitted after a
// reconnection), or with ctx's error, bus.ErrClosed or a permanent error.
func (p *publisher) send(ctx context.Context, f *flight) error {
	if f.pd == nil {
		f.pd = &pending{ch: make(chan packets.ControlPacket, 1)}
	}
	pctx := context.WithValue(ctx, pendingKey{}, f.pd)
	for {
		cli, up := p.client()
		if cli == nil {
			select {
			case <-up:
				continue
			case <-ctx.Done():
				return ctx.Err()
			case <-p.ctx.Done():
				return bus.ErrClosed
			}
		}
		p.mu.Lock()
		if f.pub == nil && f.pack != nil {
			f.pub = p.packPublish(f)
		} else if f.pub == nil {
			x := f.x
			if f.numbered {
				x.src, x.seq = p.src, p.nextSeq(f.m.Subject, f.m.Key)
			}
			f.pub = &paho.Publish{Topic: f.topic, QoS: 1, Payload: f.m.Data,
				Properties: &paho.PublishProperties{User: encode(f.m, x)}}
		}
		_, err := cli.PublishWithOptions(pctx, f.pub, paho.PublishOptions{Method: paho.PublishMethod_AsyncSend})
		p.mu.Unlock()
		switch {
		case err == nil, errors.Is(err, paho.ErrNetworkErrorAfterStored):
			return nil // in the session: sent now or after the reconnection
		case ctx.Err() != nil:
			return ctx.Err()
		case p.ctx.Err() != nil:
			return bus.ErrClosed
		case errors.Is(err, paho.ErrInvalidArguments):
			return fmt.Errorf("%w: %v", bus.ErrInvalidMessage, err)
		case errors.Is(err, session.ErrNoConnection):
			// the connection dropped; wait for the next one
			t := time.NewTimer(p.opts.ReconnectMin)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		default:
			return fmt.Errorf("mqtt: publish %q: %w", f.topic, err)
		}
	}
}

// wait waits for f's PUBACK, sending f again if the session lost it. It
// returns the PUBACK's reason code.
func (p *publisher) wait(ctx context.Context, f *flight) (byte, error) {
	for {
		select {
		case cp := <-f.pd.ch:
			p.sess.forget(f.pd)
			if cp.Type == 0 { // the session forgot the packet, or is closing
				if p.ctx.Err() != nil {
					return 0, bus.ErrClosed
				}
				if err := p.send(ctx, f); err != nil {
					return 0, err
				}
				continue
			}
			ack, ok := cp.Content.(*packets.Puback)
			if !ok {
				return 0, fmt.Errorf("mqtt: publish %q: unexpected %s", f.topic, cp.PacketType())
			}
			if ack.ReasonCode >= 0x80 {
				var reason string
				if ack.Properties != nil {
					reason = ack.Properties.ReasonString
				}
				return ack.ReasonCode, &BrokerError{Op: "publish", Topic: f.topic, Code: ack.ReasonCode, Reason: reason}
			}
			return ack.ReasonCode, nil
		case <-ctx.Done():
			p.sess.forget(f.pd)
			return 0, ctx.Err()
		case <-p.ctx.Done():
			p.sess.forget(f.pd)
			return 0, bus.ErrClosed
		}
	}
}

// publish sends one message and waits for its PUBACK.
func (p *publisher) publish(ctx context.Context, f *flight) (byte, error) {
	if err := p.send(ctx, f); err != nil {
		return 0, err
	}
	return p.wait(ctx, f)
}

// close disconnects; publishes in flight fail with bus.ErrClosed.
func (p *publisher) close() {
	p.cancel()
	<-p.done
	_ = p.sess.Close()
}
