// Package sensortest is the conformance suite every sensor.Store runs, so
// that the in-memory store and the PostgreSQL store in adapters/postgres
// behave alike for the registry, the rule engine and the vital signs
// built on them: the same results, the same errors (matching
// sensor.ErrDuplicate, ErrConflict, ErrUnknownProfile, ErrUnknownDevice,
// ErrUnknownRule, ErrUnknownAlarm, ErrUnknownVitalSign, ErrInvalidRecord
// and ErrInvalidQuery), the same all-or-nothing alarm writes.
//
// A store's test calls Run with a constructor that returns a fresh, empty
// store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		sensortest.Run(t, func(t *testing.T) sensor.Store {
//			return newMyStore(t)
//		})
//	}
//
// The suite covers the whole Store contract: round trips of profiles,
// device records, rules, alarms and vital signs with every field (a
// subtest fails when a field added to one of them is not yet set by the
// suite's fixtures, so no new field escapes the round trip), NaN and
// infinite ranges included; copies in and out; device versions (Version 1
// creates, any other updates the version before it); alarm writes over
// the version they name, in sequence within a call, atomic across it, and
// removing cancelled alarms; every filter of DeviceQuery and AlarmQuery
// alone and combined (grid subtrees from a grid up to a province), and
// paging through Limit, After and Next; racing read-modify-write writers
// and racing creates; and a cancelled context.
//
// The fixtures are Chongqing's: pressure sensors on a DN300 water main
// under Yangjiaping (Jiulongpo) behind a gateway, elderly people's
// wristbands in Yuzhong and Nan'an, and one device in Chengdu to show that
// a city-level query stays inside its city. Times are in UTC to the
// nanosecond, as the engine writes them. Comparisons are exact: a nil
// slice or map must come back nil, an empty one empty.
package sensortest
