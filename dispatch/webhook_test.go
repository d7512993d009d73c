package dispatch_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govkit/govkit/clock"
	"github.com/govkit/govkit/dispatch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	whSecret = []byte("jiulongpo-webhook-secret-2025")
	whStart  = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
)

func whOffer() dispatch.Notification {
	return dispatch.Notification{
		ID:        "0195a1b2-offer-1",
		Kind:      dispatch.NotifyOffer,
		To:        "sqp-enforce",
		WorkOrder: "wo-42",
		Case:      "case-7",
		Subject:   "Muck truck spilling on Shiqiaopu Road",
		Deadline:  whStart.Add(2 * time.Hour),
		Data:      map[string]string{"category": "0203"},
		Time:      whStart,
	}
}

func whNew(t *testing.T, url string, clk clock.Clock, mod func(*dispatch.WebhookConfig)) *dispatch.Webhook {
	t.Helper()
	cfg := dispatch.WebhookConfig{URL: url, Secret: whSecret, Clock: clk}
	if mod != nil {
		mod(&cfg)
	}
	w, err := dispatch.NewWebhook(cfg)
	require.NoError(t, err)
	return w
}

// whAsync runs Notify in the background, for tests that step a manual clock
// through the waits.
func whAsync(ctx context.Context, w *dispatch.Webhook, n dispatch.Notification) <-chan error {
	done := make(chan error, 1)
	go func() { done <- w.Notify(ctx, n) }()
	return done
}

// whExpectWait asserts that the webhook is waiting on clk for exactly d:
// its timer is armed and has not fired a nanosecond early, and at d it
// fires and the next attempt reaches the server (hits grows), if hits is
// given. Pending alone cannot show the firing: the next attempt may arm a
// new timer at once.
func whExpectWait(t *testing.T, clk *clock.Manual, d time.Duration, hits *atomic.Int32) {
	t.Helper()
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond,
		"webhook never started waiting %s", d)
	var before int32
	if hits != nil {
		before = hits.Load()
	}
	clk.Advance(d - time.Nanosecond)
	require.Equal(t, 1, clk.Pending(), "wait ended before %s", d)
	if hits != nil {
		require.Equal(t, before, hits.Load(), "attempt made before %s", d)
	}
	clk.Advance(time.Nanosecond)
	if hits != nil {
		require.Eventually(t, func() bool { return hits.Load() == before+1 }, 5*time.Second, time.Millisecond,
			"no attempt after waiting %s", d)
	}
}

func whResult(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Notify did not return")
		return nil
	}
}

// whFlaky answers with the given statuses in turn, then hands over to next.
type whFlaky struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header
	body     string
	next     http.Handler
	hits     atomic.Int32
}

func (f *whFlaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	var status int
	if len(f.statuses) > 0 {
		status, f.statuses = f.statuses[0], f.statuses[1:]
	}
	f.mu.Unlock()
	if status == 0 {
		f.next.ServeHTTP(w, r)
		return
	}
	for k, v := range f.header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, f.body)
}

func TestWebhookDeliversSignedNotificationToHandler(t *testing.T) {
	clk := clock.NewManual(whStart)
	var got dispatch.MemoryNotifier
	receiver := dispatch.WebhookHandler(whSecret, time.Minute, clk, got.Notify)
	var seen http.Header
	var seenBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		seenBody, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(seenBody))
		receiver.ServeHTTP(w, r)
	}))
	defer srv.Close()

	n := whOffer()
	require.NoError(t, whNew(t, srv.URL, clk, nil).Notify(context.Background(), n))
	assert.Equal(t, []dispatch.Notification{n}, got.Sent())

	assert.Equal(t, "application/json", seen.Get("Content-Type"))
	assert.Equal(t, n.ID, seen.Get(dispatch.HeaderWebhookID))
	ts := seen.Get(dispatch.HeaderWebhookTimestamp)
	assert.Equal(t, strconv.FormatInt(whStart.Unix(), 10), ts)
	// Recompute the documented scheme independently of the package.
	h := hmac.New(sha256.New, whSecret)
	h.Write([]byte(ts + "." + string(seenBody)))
	assert.Equal(t, "v1="+hex.EncodeToString(h.Sum(nil)), seen.Get(dispatch.HeaderWebhookSignature))
	assert.NotContains(t, string(seenBody), string(whSecret))
}

func TestWebhookBadSignatureIsRejectedWithoutRetry(t *testing.T) {
	for name, tc := range map[string]struct {
		secret []byte
		tamper bool
	}{
		"tampered body": {secret: whSecret, tamper: true},
		"wrong secret":  {secret: []byte("some-other-secret-of-the-street")},
	} {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewManual(whStart)
			var got dispatch.MemoryNotifier
			receiver := dispatch.WebhookHandler(tc.secret, time.Minute, clk, got.Notify)
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if tc.tamper {
					b, _ := io.ReadAll(r.Body)
					b = bytes.Replace(b, []byte("sqp-enforce"), []byte("yjp-enforce"), 1)
					r.Body = io.NopCloser(bytes.NewReader(b))
					r.ContentLength = int64(len(b))
				}
				receiver.ServeHTTP(w, r)
			}))
			defer srv.Close()

			err := whNew(t, srv.URL, clk, nil).Notify(context.Background(), whOffer())
			require.ErrorIs(t, err, dispatch.ErrWebhookRejected)
			assert.NotErrorIs(t, err, dispatch.ErrWebhookUnavailable)
			var we *dispatch.WebhookError
			require.ErrorAs(t, err, &we)
			assert.Equal(t, http.StatusUnauthorized, we.Status)
			assert.Equal(t, 1, we.Attempts)
			assert.Contains(t, we.Body, "signature does not match")
			assert.EqualValues(t, 1, hits.Load(), "a 401 must not be retried")
			assert.Zero(t, clk.Pending())
			assert.Empty(t, got.Sent())
			assert.NotContains(t, err.Error(), string(whSecret))
		})
	}
}

func TestWebhookRetriesUnavailableWithBackoff(t *testing.T) {
	clk := clock.NewManual(whStart)
	var got dispatch.MemoryNotifier
	flaky := &whFlaky{
		statuses: []int{http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		next:     dispatch.WebhookHandler(whSecret, time.Minute, clk, got.Notify),
	}
	srv := httptest.NewServer(flaky)
	defer srv.Close()

	done := whAsync(context.Background(), whNew(t, srv.URL, clk, nil), whOffer())
	whExpectWait(t, clk, 200*time.Millisecond, &flaky.hits)
	whExpectWait(t, clk, 400*time.Millisecond, &flaky.hits)
	require.NoError(t, whResult(t, done))
	assert.EqualValues(t, 3, flaky.hits.Load())
	assert.Len(t, got.Sent(), 1)
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	for name, tc := range map[string]struct {
		retryAfter string
		want       time.Duration
	}{
		"seconds":          {"2", 2 * time.Second},
		"capped":           {"3600", 10 * time.Second},
		"http date":        {whStart.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
		"garbage: backoff": {"soon", 200 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewManual(whStart)
			flaky := &whFlaky{
				statuses: []int{http.StatusTooManyRequests},
				header:   http.Header{"Retry-After": {tc.retryAfter}},
				next:     dispatch.WebhookHandler(whSecret, time.Minute, clk, func(context.Context, dispatch.Notification) error { return nil }),
			}
			srv := httptest.NewServer(flaky)
			defer srv.Close()

			done := whAsync(context.Background(), whNew(t, srv.URL, clk, nil), whOffer())
			whExpectWait(t, clk, tc.want, &flaky.hits)
			require.NoError(t, whResult(t, done))
			assert.EqualValues(t, 2, flaky.hits.Load())
		})
	}
}

func TestWebhookGivesUpAfterAttempts(t *testing.T) {
	clk := clock.NewManual(whStart)
	flaky := &whFlaky{
		statuses: []int{500, 500, 500, 500, 500},
		body:     strings.Repeat("x", 600),
	}
	srv := httptest.NewServer(flaky)
	defer srv.Close()
	w := whNew(t, srv.URL, clk, func(c *dispatch.WebhookConfig) {
		c.Attempts = 4
		c.MaxBackoff = 300 * time.Millisecond
	})

	done := whAsync(context.Background(), w, whOffer())
	whExpectWait(t, clk, 200*time.Millisecond, &flaky.hits)
	whExpectWait(t, clk, 300*time.Millisecond, &flaky.hits) // 400 ms capped
	whExpectWait(t, clk, 300*time.Millisecond, &flaky.hits)
	err := whResult(t, done)
	require.ErrorIs(t, err, dispatch.ErrWebhookUnavailable)
	assert.NotErrorIs(t, err, dispatch.ErrWebhookRejected)
	var we *dispatch.WebhookError
	require.ErrorAs(t, err, &we)
	assert.Equal(t, 500, we.Status)
	assert.Equal(t, 4, we.Attempts)
	assert.Len(t, we.Body, dispatch.MaxWebhookErrorBody)
	assert.EqualValues(t, 4, flaky.hits.Load())
	assert.Zero(t, clk.Pending())
}

func TestWebhookDefaultsFiveAttemptsDoubling(t *testing.T) {
	clk := clock.NewManual(whStart)
	flaky := &whFlaky{statuses: []int{502, 502, 502, 502, 502, 502}}
	srv := httptest.NewServer(flaky)
	defer srv.Close()

	done := whAsync(context.Background(), whNew(t, srv.URL, clk, nil), whOffer())
	for _, d := range []time.Duration{200, 400, 800, 1600} {
		whExpectWait(t, clk, d*time.Millisecond, &flaky.hits)
	}
	err := whResult(t, done)
	require.ErrorIs(t, err, dispatch.ErrWebhookUnavailable)
	assert.EqualValues(t, 5, flaky.hits.Load())
}

func TestWebhookNetworkErrorsAreRetriedAndKeepTheURLOut(t *testing.T) {
	clk := clock.NewManual(whStart)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?token=gateway-token-123"
	srv.Close() // nothing listens any more

	done := whAsync(context.Background(), whNew(t, url, clk, func(c *dispatch.WebhookConfig) { c.Attempts = 2 }), whOffer())
	whExpectWait(t, clk, 200*time.Millisecond, nil)
	err := whResult(t, done)
	require.ErrorIs(t, err, dispatch.ErrWebhookUnavailable)
	var we *dispatch.WebhookError
	require.ErrorAs(t, err, &we)
	assert.Zero(t, we.Status)
	assert.Error(t, we.Cause)
	assert.Equal(t, 2, we.Attempts)
	assert.NotContains(t, err.Error(), "gateway-token-123")
	assert.NotContains(t, err.Error(), string(whSecret))
}

func TestWebhookDoesNotRetryOther4xx(t *testing.T) {
	flaky := &whFlaky{statuses: []int{http.StatusNotFound, 204}, body: "no such hook"}
	srv := httptest.NewServer(flaky)
	defer srv.Close()

	err := whNew(t, srv.URL, clock.NewManual(whStart), nil).Notify(context.Background(), whOffer())
	require.ErrorIs(t, err, dispatch.ErrWebhookRejected)
	var we *dispatch.WebhookError
	require.ErrorAs(t, err, &we)
	assert.Equal(t, dispatch.WebhookError{ID: whOffer().ID, Status: 404, Body: "no such hook", Attempts: 1}, *we)
	assert.EqualValues(t, 1, flaky.hits.Load())
}

func TestWebhookCancelDuringBackoff(t *testing.T) {
	clk := clock.NewManual(whStart)
	flaky := &whFlaky{statuses: []int{503, 503, 503, 503, 503}}
	srv := httptest.NewServer(flaky)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := whAsync(ctx, whNew(t, srv.URL, clk, nil), whOffer())
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	err := whResult(t, done)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, dispatch.ErrWebhookUnavailable)
	assert.Zero(t, clk.Pending(), "the backoff timer should be stopped")
	assert.EqualValues(t, 1, flaky.hits.Load())
}

func TestWebhookCancelDuringAttempt(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		close(arrived)
		select { // hang until the sender goes away or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release) // runs first, so Close never waits on the handler

	ctx, cancel := context.WithCancel(context.Background())
	done := whAsync(ctx, whNew(t, srv.URL, clock.NewManual(whStart), nil), whOffer())
	<-arrived
	cancel()
	require.ErrorIs(t, whResult(t, done), context.Canceled)
}

func TestWebhookValidatesBeforeSending(t *testing.T) {
	flaky := &whFlaky{}
	srv := httptest.NewServer(flaky)
	defer srv.Close()
	n := whOffer()
	n.To = ""
	err := whNew(t, srv.URL, clock.NewManual(whStart), nil).Notify(context.Background(), n)
	require.ErrorIs(t, err, dispatch.ErrInvalidNotification)
	assert.Zero(t, flaky.hits.Load())
}

func TestNewWebhookRejectsBadConfig(t *testing.T) {
	ok := dispatch.WebhookConfig{URL: "https://push.example.gov.cn/hook", Secret: whSecret}
	for name, mod := range map[string]func(*dispatch.WebhookConfig){
		"ftp scheme":         func(c *dispatch.WebhookConfig) { c.URL = "ftp://push.example.gov.cn/hook" },
		"no scheme":          func(c *dispatch.WebhookConfig) { c.URL = "push.example.gov.cn/hook" },
		"no host":            func(c *dispatch.WebhookConfig) { c.URL = "https:///hook" },
		"unparseable":        func(c *dispatch.WebhookConfig) { c.URL = "http://[::1" },
		"short secret":       func(c *dispatch.WebhookConfig) { c.Secret = []byte("fifteen-bytes!!") },
		"no secret":          func(c *dispatch.WebhookConfig) { c.Secret = nil },
		"negative attempts":  func(c *dispatch.WebhookConfig) { c.Attempts = -1 },
		"negative backoff":   func(c *dispatch.WebhookConfig) { c.Backoff = -time.Second },
		"negative max delay": func(c *dispatch.WebhookConfig) { c.MaxBackoff = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			mod(&cfg)
			w, err := dispatch.NewWebhook(cfg)
			require.ErrorIs(t, err, dispatch.ErrInvalidWebhookConfig)
			assert.Nil(t, w)
			assert.NotContains(t, err.Error(), string(whSecret))
		})
	}
	_, err := dispatch.NewWebhook(ok)
	require.NoError(t, err)
	ok.Secret = []byte("exactly-16-bytes")
	_, err = dispatch.NewWebhook(ok)
	require.NoError(t, err)
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"id":"n-1"}`)
	ts := strconv.FormatInt(whStart.Unix(), 10)
	good := dispatch.WebhookSignature(whSecret, ts, body)
	tol := 5 * time.Minute
	for name, tc := range map[string]struct {
		secret    []byte
		ts        string
		body      []byte
		header    string
		now       time.Time
		tolerance time.Duration
		stale     bool
		invalid   bool
	}{
		"valid":                   {header: good},
		"at the tolerance":        {header: good, now: whStart.Add(tol)},
		"just past tolerance":     {header: good, now: whStart.Add(tol + time.Second), stale: true},
		"from the future":         {header: good, now: whStart.Add(-tol - time.Second), stale: true},
		"replayed next day":       {header: good, now: whStart.Add(24 * time.Hour), stale: true},
		"zero tolerance: default": {header: good, now: whStart.Add(4 * time.Minute), tolerance: -1},
		"one of several":          {header: "v0=abc, v1=" + strings.Repeat("00", 32) + ", " + good},
		"tampered body":           {header: good, body: []byte(`{"id":"n-2"}`), invalid: true},
		"wrong secret":            {header: good, secret: []byte("another-secret-16b"), invalid: true},
		"timestamp changed":       {header: good, ts: strconv.FormatInt(whStart.Unix()+1, 10), now: whStart, invalid: true},
		"timestamp not a number":  {header: good, ts: "yesterday", invalid: true},
		"empty header":            {header: "", invalid: true},
		"other scheme only":       {header: "v0=" + strings.TrimPrefix(good, "v1="), invalid: true},
		"not hex":                 {header: "v1=zz", invalid: true},
	} {
		t.Run(name, func(t *testing.T) {
			secret, tsv, b, now, tolerance := whSecret, ts, body, whStart, tol
			if tc.secret != nil {
				secret = tc.secret
			}
			if tc.ts != "" {
				tsv = tc.ts
			}
			if tc.body != nil {
				b = tc.body
			}
			if !tc.now.IsZero() {
				now = tc.now
			}
			if tc.tolerance != 0 {
				tolerance = tc.tolerance
			}
			err := dispatch.VerifySignature(secret, tsv, b, tc.header, now, tolerance)
			if !tc.stale && !tc.invalid {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, dispatch.ErrInvalidSignature)
			var se *dispatch.SignatureError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.stale, se.Stale)
			assert.Equal(t, tc.stale, errors.Is(err, dispatch.ErrStaleSignature))
		})
	}

	err := dispatch.VerifySignature([]byte("short"), ts, body, good, whStart, tol)
	require.ErrorIs(t, err, dispatch.ErrInvalidWebhookConfig)
	assert.NotErrorIs(t, err, dispatch.ErrInvalidSignature)
}

// whSigned builds a request to the handler, signed at the clock's time.
func whSigned(t *testing.T, clk clock.Clock, id string, body []byte) *http.Request {
	t.Helper()
	ts := strconv.FormatInt(clk.Now().Unix(), 10)
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header.Set(dispatch.HeaderWebhookID, id)
	r.Header.Set(dispatch.HeaderWebhookTimestamp, ts)
	r.Header.Set(dispatch.HeaderWebhookSignature, dispatch.WebhookSignature(whSecret, ts, body))
	return r
}

func TestWebhookHandlerAnswers(t *testing.T) {
	valid := `{"id":"n-1","kind":"offer","to":"sqp-enforce"}`
	for name, tc := range map[string]struct {
		req  func(clk clock.Clock) *http.Request
		want int
	}{
		"valid": {func(clk clock.Clock) *http.Request { return whSigned(t, clk, "n-1", []byte(valid)) }, 204},
		"GET": {func(clock.Clock) *http.Request { return httptest.NewRequest(http.MethodGet, "/hook", nil) },
			http.StatusMethodNotAllowed},
		"unsigned": {func(clk clock.Clock) *http.Request {
			r := whSigned(t, clk, "n-1", []byte(valid))
			r.Header.Del(dispatch.HeaderWebhookSignature)
			return r
		}, 401},
		"malformed JSON": {func(clk clock.Clock) *http.Request { return whSigned(t, clk, "n-1", []byte(`{"id":`)) }, 400},
		"trailing data":  {func(clk clock.Clock) *http.Request { return whSigned(t, clk, "n-1", []byte(valid+valid)) }, 400},
		"unknown kind": {func(clk clock.Clock) *http.Request {
			return whSigned(t, clk, "n-1", []byte(`{"id":"n-1","kind":"gossip","to":"sqp-enforce"}`))
		}, 400},
		"invalid notification": {func(clk clock.Clock) *http.Request {
			return whSigned(t, clk, "n-1", []byte(`{"id":"n-1","kind":"offer"}`))
		}, 400},
		"ID header mismatch": {func(clk clock.Clock) *http.Request { return whSigned(t, clk, "n-2", []byte(valid)) }, 400},
		"too large": {func(clk clock.Clock) *http.Request {
			big := `{"id":"n-1","kind":"offer","to":"sqp-enforce","subject":"` +
				strings.Repeat("a", dispatch.MaxWebhookBodyBytes) + `"}`
			return whSigned(t, clk, "n-1", []byte(big))
		}, 400},
	} {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewManual(whStart)
			var got dispatch.MemoryNotifier
			rec := httptest.NewRecorder()
			dispatch.WebhookHandler(whSecret, time.Minute, clk, got.Notify).ServeHTTP(rec, tc.req(clk))
			assert.Equal(t, tc.want, rec.Code, rec.Body.String())
			if tc.want == 204 {
				assert.Len(t, got.Sent(), 1)
			} else {
				assert.Empty(t, got.Sent())
			}
		})
	}
}

func TestWebhookHandlerRejectsReplayAfterTolerance(t *testing.T) {
	clk := clock.NewManual(whStart)
	var got dispatch.MemoryNotifier
	h := dispatch.WebhookHandler(whSecret, time.Minute, clk, got.Notify)
	body := []byte(`{"id":"n-1","kind":"chase-up","to":"sqp-enforce"}`)
	captured := whSigned(t, clk, "n-1", body)
	replay := func() int {
		r := captured.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	assert.Equal(t, 204, replay())
	clk.Advance(30 * time.Second)
	assert.Equal(t, 204, replay(), "a redelivery within tolerance is accepted")
	assert.Len(t, got.Sent(), 1, "and deduplicated by ID")
	clk.Advance(time.Minute)
	assert.Equal(t, 401, replay())
}

func TestWebhookHandlerFailureMakesSenderRetry(t *testing.T) {
	clk := clock.NewManual(whStart)
	var calls atomic.Int32
	got := &dispatch.MemoryNotifier{Fail: func(dispatch.Notification) error {
		if calls.Add(1) == 1 {
			return errors.New("database busy: citizen 138xxxx0000")
		}
		return nil
	}}
	var status []int
	var mu sync.Mutex
	receiver := dispatch.WebhookHandler(whSecret, time.Minute, clk, got.Notify)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, r)
		mu.Lock()
		status = append(status, rec.Code)
		mu.Unlock()
		assert.NotContains(t, rec.Body.String(), "138xxxx0000", "handle's error stays at the receiver")
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()

	done := whAsync(context.Background(), whNew(t, srv.URL, clk, nil), whOffer())
	whExpectWait(t, clk, 200*time.Millisecond, &calls)
	require.NoError(t, whResult(t, done))
	mu.Lock()
	assert.Equal(t, []int{500, 204}, status)
	mu.Unlock()
	assert.Len(t, got.Sent(), 1)
}

func TestWebhookHandlerPanicsOnMisconfiguration(t *testing.T) {
	ok := func(context.Context, dispatch.Notification) error { return nil }
	assert.Panics(t, func() { dispatch.WebhookHandler([]byte("short"), time.Minute, nil, ok) })
	assert.Panics(t, func() { dispatch.WebhookHandler(whSecret, time.Minute, nil, nil) })
	assert.NotPanics(t, func() { dispatch.WebhookHandler(whSecret, 0, nil, ok) })
}
