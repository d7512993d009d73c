package bus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"
)

// Middleware wraps a Handler with behaviour such as retries or dead-lettering.
type Middleware func(Handler) Handler

// Chain returns h wrapped by mw, the first middleware outermost.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// Retry calls the handler up to attempts times in place, waiting backoff
// (doubling each time) between calls, before giving the error back to the
// transport for redelivery. It suits brief failures such as a lock timeout,
// where a quick retry is cheaper than a redelivery round trip.
func Retry(attempts int, backoff time.Duration) Middleware {
	if attempts < 1 {
		attempts = 1
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, m Message) error {
			var err error
			wait := backoff
			for i := 0; i < attempts; i++ {
				if err = next(ctx, m); err == nil {
					return nil
				}
				if i == attempts-1 {
					break
				}
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return errors.Join(err, ctx.Err())
				}
				wait *= 2
			}
			return err
		}
	}
}

// Headers that DeadLetter adds to a dead-lettered message.
const (
	HeaderDeadLetterSubject  = "govkit-dead-letter-subject"
	HeaderDeadLetterError    = "govkit-dead-letter-error"
	HeaderDeadLetterAttempts = "govkit-dead-letter-attempts"
)

// DeadLetter moves a message that has failed on its maxAttempts-th delivery
// to subject, with headers saying where it came from and why it failed, and
// acknowledges it so that it stops blocking its key. If publishing to the
// dead-letter subject fails, the original error stands and the message is
// redelivered: nothing is dropped.
func DeadLetter(p Publisher, subject string, maxAttempts int) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m Message) error {
			err := next(ctx, m)
			if err == nil || m.Attempt < maxAttempts {
				return err
			}
			dead := m
			dead.Subject = subject
			dead.Headers = maps.Clone(m.Headers)
			if dead.Headers == nil {
				dead.Headers = map[string]string{}
			}
			dead.Headers[HeaderDeadLetterSubject] = m.Subject
			dead.Headers[HeaderDeadLetterError] = err.Error()
			dead.Headers[HeaderDeadLetterAttempts] = strconv.Itoa(m.Attempt)
			if perr := p.Publish(ctx, dead); perr != nil {
				return fmt.Errorf("%w (dead-lettering failed: %v)", err, perr)
			}
			return nil
		}
	}
}
