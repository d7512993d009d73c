package dispatch

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/govkit/govkit/clock"
)

// Headers of a webhook request. The signature header holds
//
//	v1=<hex of HMAC-SHA256(secret, timestamp + "." + body)>
//
// where timestamp is the X-Govkit-Timestamp value (unix seconds, as sent)
// and body is the raw request body, as Stripe and GitHub sign their
// webhooks. A receiver recomputes the HMAC over the bytes it received,
// compares in constant time and rejects timestamps far from its own clock,
// so that a captured request cannot be replayed later. Several
// comma-separated signatures may appear; one matching v1 suffices.
const (
	HeaderWebhookID        = "X-Govkit-Id"
	HeaderWebhookTimestamp = "X-Govkit-Timestamp"
	HeaderWebhookSignature = "X-Govkit-Signature"
)

// Webhook limits and defaults.
const (
	// MinWebhookSecretBytes is the shortest secret accepted by NewWebhook,
	// VerifySignature and WebhookHandler.
	MinWebhookSecretBytes = 16
	// DefaultSignatureTolerance is used when a tolerance of zero or less is
	// given to VerifySignature or WebhookHandler.
	DefaultSignatureTolerance = 5 * time.Minute
	// MaxWebhookBodyBytes is the largest body WebhookHandler reads.
	MaxWebhookBodyBytes = 64 << 10
	// MaxWebhookErrorBody is how much of a refusal's body a WebhookError keeps.
	MaxWebhookErrorBody = 512
)

// Errors of webhooks.
var (
	// ErrInvalidWebhookConfig: NewWebhook, VerifySignature or WebhookHandler
	// was given an unusable setting.
	ErrInvalidWebhookConfig = errors.New("dispatch: invalid webhook config")
	// ErrWebhookRejected: the receiver refused the notification with a
	// status that retrying will not change (4xx other than 429, or 3xx).
	ErrWebhookRejected = errors.New("dispatch: webhook rejected notification")
	// ErrWebhookUnavailable: every attempt failed with a network error, a
	// 5xx or a 429.
	ErrWebhookUnavailable = errors.New("dispatch: webhook unavailable")
	// ErrInvalidSignature is matched by every *SignatureError.
	ErrInvalidSignature = errors.New("dispatch: invalid webhook signature")
	// ErrStaleSignature is matched, besides ErrInvalidSignature, by a
	// *SignatureError whose timestamp lies outside the tolerance.
	ErrStaleSignature = errors.New("dispatch: webhook timestamp outside tolerance")
)

// WebhookConfig configures a Webhook. Zero values take the defaults.
type WebhookConfig struct {
	// URL receives the POSTs; http or https only. It may carry a gateway
	// token, so errors never quote it.
	URL string
	// Secret keys the signature; at least MinWebhookSecretBytes. It is
	// copied, and appears in no error.
	Secret []byte
	// Client sends the requests. The default has a 10 s timeout per attempt
	// and does not follow redirects, which would turn the POST into a GET.
	Client *http.Client
	// Attempts is how many times a notification is tried; default 5.
	Attempts int
	// Backoff is the wait before the second attempt, doubling for each
	// later one up to MaxBackoff; default 200 ms.
	Backoff time.Duration
	// MaxBackoff caps each wait, including one asked for by Retry-After;
	// default 10 s.
	MaxBackoff time.Duration
	// Clock stamps the requests and times the waits between attempts
	// through AfterFunc, so that a test with a clock.Manual steps through
	// the backoff schedule without sleeping; default clock.Real().
	Clock clock.Clock
}

// Webhook is a Notifier that POSTs each notification as JSON to a URL,
// signed with HMAC-SHA256 (see HeaderWebhookSignature), retrying network
// errors, 5xx and 429 with exponential backoff. The notification's ID is
// the same on every attempt, so the receiver can drop duplicates. It is
// safe for concurrent use.
type Webhook struct {
	url        string
	secret     []byte
	client     *http.Client
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	clock      clock.Clock
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook validates cfg and fills in its defaults.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidWebhookConfig}, args...)...)
	}
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil:
		return nil, bad("URL does not parse") // url's error would quote the URL
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, bad("URL scheme %q is not http or https", u.Scheme)
	case u.Host == "":
		return nil, bad("URL has no host")
	case len(cfg.Secret) < MinWebhookSecretBytes:
		return nil, bad("secret is %d bytes, fewer than %d", len(cfg.Secret), MinWebhookSecretBytes)
	case cfg.Attempts < 0:
		return nil, bad("negative attempts %d", cfg.Attempts)
	case cfg.Backoff < 0:
		return nil, bad("negative backoff %s", cfg.Backoff)
	case cfg.MaxBackoff < 0:
		return nil, bad("negative max backoff %s", cfg.MaxBackoff)
	}
	w := &Webhook{
		url:        cfg.URL,
		secret:     bytes.Clone(cfg.Secret),
		client:     cfg.Client,
		attempts:   cmp.Or(cfg.Attempts, 5),
		backoff:    cmp.Or(cfg.Backoff, 200*time.Millisecond),
		maxBackoff: cmp.Or(cfg.MaxBackoff, 10*time.Second),
		clock:      cfg.Clock,
	}
	if w.client == nil {
		w.client = &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if w.clock == nil {
		w.clock = clock.Real()
	}
	return w, nil
}

// WebhookError reports a notification the webhook did not deliver. It
// matches ErrWebhookRejected if the receiver answered with a status that
// retrying will not change, and ErrWebhookUnavailable otherwise.
type WebhookError struct {
	ID       string // the notification's ID
	Status   int    // the last HTTP status, 0 if no response came
	Body     string // the start of the last response body, at most MaxWebhookErrorBody bytes
	Attempts int    // attempts made
	Cause    error  // the last transport error, if no response came
}

// rejected reports whether the last answer was final: any status that is
// neither success, 429 nor 5xx.
func (e *WebhookError) rejected() bool {
	return e.Status != 0 && e.Status != http.StatusTooManyRequests && e.Status < 500
}

// Error describes the outcome without the URL or secret.
func (e *WebhookError) Error() string {
	var b strings.Builder
	if e.rejected() {
		fmt.Fprintf(&b, "%v %q", ErrWebhookRejected, e.ID)
	} else {
		fmt.Fprintf(&b, "%v for notification %q", ErrWebhookUnavailable, e.ID)
	}
	fmt.Fprintf(&b, " after %d attempt(s)", e.Attempts)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
		if e.Body != "" {
			fmt.Fprintf(&b, ": %q", e.Body)
		}
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	return b.String()
}

// Unwrap lets errors.Is match ErrWebhookRejected or ErrWebhookUnavailable,
// and the transport error if there is one.
func (e *WebhookError) Unwrap() []error {
	out := []error{ErrWebhookUnavailable}
	if e.rejected() {
		out[0] = ErrWebhookRejected
	}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// Notify validates n and POSTs it until the receiver answers 2xx, a final
// refusal (*WebhookError matching ErrWebhookRejected) or the attempts run
// out (*WebhookError matching ErrWebhookUnavailable). Each attempt is
// signed afresh, so a retry after a long wait is not stale. Cancelling ctx
// stops an attempt in flight or a wait, and Notify returns an error
// matching ctx.Err().
func (w *Webhook) Notify(ctx context.Context, n Notification) error {
	if err := n.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("dispatch: encode notification %q: %w", n.ID, err)
	}
	backoff := min(w.backoff, w.maxBackoff)
	var last *WebhookError
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return cancelled(n.ID, err, last)
		}
		status, snippet, retryAfter, cause := w.post(ctx, n.ID, body)
		if cause == nil && status >= 200 && status < 300 {
			return nil
		}
		last = &WebhookError{ID: n.ID, Status: status, Body: snippet, Attempts: attempt, Cause: cause}
		if err := ctx.Err(); err != nil {
			return cancelled(n.ID, err, last)
		}
		if last.rejected() || attempt >= w.attempts {
			return last
		}
		wait := backoff
		if retryAfter >= 0 {
			wait = min(retryAfter, w.maxBackoff)
		}
		backoff = min(2*backoff, w.maxBackoff)
		if err := w.wait(ctx, wait); err != nil {
			return cancelled(n.ID, err, last)
		}
	}
}

func cancelled(id string, err error, last *WebhookError) error {
	if last == nil {
		return fmt.Errorf("dispatch: webhook notification %q: %w", id, err)
	}
	return fmt.Errorf("dispatch: webhook notification %q: %w (after %d attempt(s), last: %v)", id, err, last.Attempts, last)
}

// post makes one attempt. retryAfter is negative unless the response
// asked for a wait.
func (w *Webhook) post(ctx context.Context, id string, body []byte) (status int, snippet string, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, "", -1, errors.New("cannot build request") // its error would quote the URL
	}
	ts := strconv.FormatInt(w.clock.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderWebhookID, id)
	req.Header.Set(HeaderWebhookTimestamp, ts)
	req.Header.Set(HeaderWebhookSignature, WebhookSignature(w.secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // keep the cause, drop the URL and any token in it
		}
		return 0, "", -1, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxWebhookErrorBody))
		snippet = strings.ToValidUTF8(string(b), "")
	}
	// Drain a little so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxWebhookBodyBytes))
	return resp.StatusCode, snippet, parseRetryAfter(resp.Header.Get("Retry-After"), w.clock.Now()), nil
}

// parseRetryAfter reads delay-seconds or an HTTP date; -1 if absent or
// malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		return time.Duration(min(secs, 1<<31)) * time.Second // no overflow; capped later
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// wait blocks for d on the webhook's clock, or until ctx is done.
func (w *Webhook) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	done := make(chan struct{})
	t := w.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// WebhookSignature returns the X-Govkit-Signature value for a body sent
// at timestamp (unix seconds, as in X-Govkit-Timestamp):
// "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func WebhookSignature(secret []byte, timestamp string, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// SignatureError reports why a webhook request failed verification. It
// matches ErrInvalidSignature, and ErrStaleSignature too when Stale.
type SignatureError struct {
	Reason string
	// Stale means the signature was authentic but its timestamp lay
	// outside the tolerance: a replay, or clocks too far apart.
	Stale bool
}

// Error gives the reason, which never includes the secret.
func (e *SignatureError) Error() string {
	if e.Stale {
		return fmt.Sprintf("%v: %s", ErrStaleSignature, e.Reason)
	}
	return fmt.Sprintf("%v: %s", ErrInvalidSignature, e.Reason)
}

// Unwrap lets errors.Is match ErrInvalidSignature and, if stale,
// ErrStaleSignature.
func (e *SignatureError) Unwrap() []error {
	if e.Stale {
		return []error{ErrInvalidSignature, ErrStaleSignature}
	}
	return []error{ErrInvalidSignature}
}

// VerifySignature checks a webhook request for receivers: header (the
// X-Govkit-Signature value) must hold a v1 signature of body at timestamp
// (the X-Govkit-Timestamp value) under secret, compared in constant time,
// and timestamp must lie within tolerance of now either way, so that a
// captured request cannot be replayed later. A tolerance of zero or less
// means DefaultSignatureTolerance. Failures are *SignatureError; a secret
// shorter than MinWebhookSecretBytes is an ErrInvalidWebhookConfig error.
func VerifySignature(secret []byte, timestamp string, body []byte, header string, now time.Time, tolerance time.Duration) error {
	if len(secret) < MinWebhookSecretBytes {
		return fmt.Errorf("%w: secret is %d bytes, fewer than %d", ErrInvalidWebhookConfig, len(secret), MinWebhookSecretBytes)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return &SignatureError{Reason: "timestamp is not unix seconds"}
	}
	want := mac(secret, timestamp, body)
	found, match := false, false
	for part := range strings.SplitSeq(header, ",") {
		scheme, sig, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || scheme != "v1" {
			continue // other schemes may be added later
		}
		found = true
		if got, err := hex.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			match = true
		}
	}
	switch {
	case !found:
		return &SignatureError{Reason: "no v1 signature"}
	case !match:
		return &SignatureError{Reason: "signature does not match"}
	}
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	// Compare in seconds against bounds: subtracting an absurd timestamp
	// could overflow.
	tol := int64(tolerance / time.Second)
	if ts < now.Unix()-tol || ts > now.Unix()+tol {
		return &SignatureError{Stale: true, Reason: fmt.Sprintf("timestamp %d is more than %s from %d", ts, tolerance, now.Unix())}
	}
	return nil
}

// WebhookHandler returns the receiving end of a Webhook: it verifies each
// POST's signature against secret within tolerance of clk (nil means
// clock.Real()), decodes the notification from at most
// MaxWebhookBodyBytes, checks it, and calls handle. It answers 204 on
// success; 400 for a body that is too large, malformed or invalid; 401 for
// a missing, wrong or stale signature; 405 for other methods; and 500 if
// handle fails, so that the sender retries. Deliveries are at least once:
// handle must be idempotent on Notification.ID. It panics if secret is
// shorter than MinWebhookSecretBytes or handle is nil, since such a
// receiver would accept forgeries or nothing.
func WebhookHandler(secret []byte, tolerance time.Duration, clk clock.Clock, handle func(context.Context, Notification) error) http.Handler {
	if len(secret) < MinWebhookSecretBytes {
		panic(fmt.Sprintf("dispatch: WebhookHandler: secret is %d bytes, fewer than %d", len(secret), MinWebhookSecretBytes))
	}
	if handle == nil {
		panic("dispatch: WebhookHandler: nil handle")
	}
	secret = bytes.Clone(secret)
	if clk == nil {
		clk = clock.Real()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBodyBytes))
		if err != nil {
			http.Error(w, "body unreadable or larger than 64 KiB", http.StatusBadRequest)
			return
		}
		err = VerifySignature(secret, r.Header.Get(HeaderWebhookTimestamp), body,
			r.Header.Get(HeaderWebhookSignature), clk.Now(), tolerance)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var n Notification
		if err := json.Unmarshal(body, &n); err != nil {
			http.Error(w, "malformed notification JSON", http.StatusBadRequest)
			return
		}
		if err := n.Validate(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if id := r.Header.Get(HeaderWebhookID); id != n.ID {
			http.Error(w, HeaderWebhookID+" does not match the notification's ID", http.StatusBadRequest)
			return
		}
		if err := handle(r.Context(), n); err != nil {
			// The cause stays here: it may hold details the sender need not see.
			http.Error(w, "notification not handled", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
