package mqtt

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"time"
)

// ErrInvalidOptions reports Options that New cannot work with.
var ErrInvalidOptions = errors.New("mqtt: invalid options")

// Options configures a Bus. Servers and ClientID are required; every other
// field has a default.
type Options struct {
	// Servers are the broker URLs, tried in turn: "tcp://host:1883"
	// (also "mqtt://"), or "tls://host:8883" (also "ssl://", "mqtts://").
	Servers []string
	// ClientID names this bus instance to the broker. It must be stable
	// across restarts of the process, so that the broker hands the
	// process's persistent sessions back to it, and unique among the
	// instances connected at one time: the broker disconnects an older
	// connection when a newer one uses its client ID. The publisher
	// connects as ClientID+"-pub" and each subscription as
	// ClientID+"-"+group+"-"+hash(pattern)+"-"+slot.
	ClientID string
	// Username and Password authenticate every connection.
	Username string
	Password string
	// TLS configures "tls://" connections.
	TLS *tls.Config

	// SessionExpiry is how long the broker keeps a subscription's session
	// (its subscriptions, its unacknowledged messages and the messages
	// queued for it) after it disconnects: a member that comes back
	// within it loses nothing. Default 24 h; at least 1 s.
	SessionExpiry time.Duration
	// KeepAlive is the MQTT keep-alive interval (default 30 s).
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt, New's first connection
	// and Subscribe's first SUBACK (default 10 s).
	ConnectTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the delay between reconnection
	// attempts, which doubles from ReconnectMin (default 100 ms) up to
	// ReconnectMax (default 10 s).
	ReconnectMin, ReconnectMax time.Duration

	// ReceiveMaximum is how many unacknowledged messages the broker may
	// send to one subscription before it waits for acknowledgements
	// (MQTT's Receive Maximum, default 1024, at most 65535). It bounds the
	// memory a subscription holds and the redeliveries after a crash.
	ReceiveMaximum int
	// Concurrency is the number of handler goroutines per subscription
	// (default 8). Messages with the same Key always go to the same
	// goroutine, so one member handles a key's messages in order.
	Concurrency int

	// MaxAttempts is how many times a subscription calls its handler for
	// one delivery, retrying in place after an error, before it hands the
	// message back to its group (default 3). See the package
	// documentation, "Acknowledgement".
	MaxAttempts int
	// Backoff is the wait before the first in-place retry (default
	// 100 ms); it doubles per attempt, with ±20% jitter, up to MaxBackoff
	// (default 5 s).
	Backoff, MaxBackoff time.Duration

	// RequireSubscribers makes Publish fail with ErrNoSubscribers when
	// the broker reports that no subscription matched the message, instead
	// of succeeding with nobody receiving it. Set it where every message
	// has a consumer group waiting: Mosquitto 2.0 does not persist shared
	// subscriptions, so after a broker restart it drops a group's messages
	// until a member has reconnected, and this lets the publisher (or the
	// outbox relay) hold on to them and try again.
	RequireSubscribers bool

	// PackSize, above 1, lets PublishBatch send each run of up to PackSize
	// consecutive messages with one subject as one MQTT PUBLISH, a pack
	// of at most 256 KiB (a bigger message travels alone): the broker's
	// cost is per PUBLISH, so batching publishers (gateways, outbox
	// relays) can gain tenfold.
	// Default 0: every message travels alone, as it always does with
	// Publish. At most MaxPackSize. Members unpack packs whatever their
	// own PackSize. See the package documentation, "Packs".
	PackSize int

	// DisableLossDetection turns off sequence-gap tracking on the
	// subscriber side. Publishers always number their messages.
	DisableLossDetection bool
	// OnGap, if set, is called when a subscription's group sees a
	// sequence gap: messages that the broker dropped (or that are late).
	// It runs on the receiving goroutine and must not block.
	OnGap func(Gap)
	// MaxStreams bounds the sequence streams tracked per group and
	// numbered per publisher (default 1<<20, about 150 bytes each). When
	// a group exceeds it the group's tracker starts afresh; when a
	// publisher exceeds it the publisher starts a new source.
	MaxStreams int

	// Logger receives connection changes, handler panics and messages
	// that cannot be decoded; nil logs nothing.
	Logger *slog.Logger
}

// withDefaults validates o and fills in its defaults.
func (o Options) withDefaults() (Options, []*url.URL, error) {
	bad := func(format string, args ...any) (Options, []*url.URL, error) {
		return o, nil, fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
	}
	if len(o.Servers) == 0 {
		return bad("no Servers")
	}
	var urls []*url.URL
	for _, s := range o.Servers {
		u, err := url.Parse(s)
		if err != nil {
			return bad("server %q: %v", s, err)
		}
		switch strings.ToLower(u.Scheme) {
		case "tcp", "mqtt", "tls", "ssl", "mqtts":
		default:
			return bad("server %q: scheme must be tcp, mqtt, tls, ssl or mqtts", s)
		}
		if u.Host == "" {
			return bad("server %q: no host", s)
		}
		urls = append(urls, u)
	}
	if o.ClientID == "" {
		return bad("empty ClientID: a stable ClientID is what lets a restarted process resume its sessions")
	}
	if strings.ContainsAny(o.ClientID, "/+#") {
		return bad("ClientID %q contains '/', '+' or '#'", o.ClientID)
	}
	if o.SessionExpiry < 0 || o.KeepAlive < 0 || o.ConnectTimeout < 0 || o.ReconnectMin < 0 || o.ReconnectMax < 0 ||
		o.ReceiveMaximum < 0 || o.Concurrency < 0 || o.MaxAttempts < 0 || o.Backoff < 0 || o.MaxBackoff < 0 || o.MaxStreams < 0 ||
		o.PackSize < 0 {
		return bad("negative value")
	}
	if o.PackSize > MaxPackSize {
		return bad("PackSize %d over %d", o.PackSize, MaxPackSize)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.SessionExpiry, 24*time.Hour)
	def(&o.KeepAlive, 30*time.Second)
	def(&o.ConnectTimeout, 10*time.Second)
	def(&o.ReconnectMin, 100*time.Millisecond)
	def(&o.ReconnectMax, 10*time.Second)
	def(&o.Backoff, 100*time.Millisecond)
	def(&o.MaxBackoff, 5*time.Second)
	o.ReconnectMax = max(o.ReconnectMax, o.ReconnectMin)
	o.MaxBackoff = max(o.MaxBackoff, o.Backoff)
	if o.SessionExpiry < time.Second || o.SessionExpiry/time.Second > math.MaxUint32-1 {
		return bad("SessionExpiry %v outside 1 s … 136 years", o.SessionExpiry)
	}
	if o.KeepAlive/time.Second > math.MaxUint16 {
		return bad("KeepAlive %v over 65535 s", o.KeepAlive)
	}
	if o.ReceiveMaximum == 0 {
		o.ReceiveMaximum = 1024
	}
	if o.ReceiveMaximum > math.MaxUint16 {
		return bad("ReceiveMaximum %d over 65535", o.ReceiveMaximum)
	}
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 3
	}
	if o.MaxStreams == 0 {
		o.MaxStreams = 1 << 20
	}
	return o, urls, nil
}
