package mqtt

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/govkit/govkit/bus"
)

// Topic returns the MQTT topic for a bus subject: "a.b.c" becomes "a/b/c".
// The subject must be valid (bus.ValidateSubject).
func Topic(subject string) string {
	return strings.ReplaceAll(subject, ".", "/")
}

// Filter returns the MQTT topic filter for a bus pattern: tokens map as in
// Topic, "*" becomes "+" and a final ">" becomes "#". MQTT's "#" also
// matches the parent level ("a/#" matches "a"), which ">" does not; the
// adapter drops such deliveries so that bus semantics hold. The pattern
// must be valid (bus.ValidatePattern).
func Filter(pattern string) string {
	tokens := strings.Split(pattern, ".")
	for i, t := range tokens {
		switch {
		case t == "*":
			tokens[i] = "+"
		case t == ">" && i == len(tokens)-1:
			tokens[i] = "#"
		}
	}
	return strings.Join(tokens, "/")
}

// Subject returns the bus subject for an MQTT topic, or an error wrapping
// bus.ErrInvalidSubject if the topic is not one (an empty level, a '.', or
// a character outside [A-Za-z0-9_-], as a foreign publisher might send).
func Subject(topic string) (string, error) {
	if strings.IndexByte(topic, '.') >= 0 {
		return "", &bus.SubjectError{Subject: topic, Reason: "topic level contains '.'", Err: bus.ErrInvalidSubject}
	}
	s := strings.ReplaceAll(topic, "/", ".")
	if err := bus.ValidateSubject(s); err != nil {
		return "", err
	}
	return s, nil
}

// SharedFilter returns the shared-subscription filter through which the
// members of a group receive a pattern: "$share/<group>/<filter>".
func SharedFilter(group, pattern string) string {
	return "$share/" + group + "/" + Filter(pattern)
}

// retryRoot is the first topic level of the topics on which a subscription
// hands failing messages back to its group. It is a valid subject token,
// so a group subscribed to ">" at the root also sees these topics; the
// adapter acknowledges and skips them there.
const retryRoot = "_govkit"

// retryPrefix begins every retry topic.
const retryPrefix = retryRoot + "/retry/"

// RetryTopic returns the topic on which the members of a group (the
// subscriptions with this group and pattern) hand back messages whose
// handler kept failing: "_govkit/retry/<group>/<hash of pattern>". Every
// member also subscribes to it, in the same shared group.
func RetryTopic(group, pattern string) string {
	return retryPrefix + group + "/" + patternHash(pattern)
}

// patternHash is a short stable digest of a pattern for topic and client
// ID use.
func patternHash(pattern string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(pattern))
	s := strconv.FormatUint(h.Sum64(), 36)
	for len(s) < 13 {
		s = "0" + s
	}
	return s
}
