package nats

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/govkit/govkit/bus"
	"github.com/govkit/govkit/internal/wire"
)

// Packs: with Options.PackSize > 1, PublishBatch sends runs of messages that
// share a subject and a lane as one JetStream message, a pack, so that the
// server stores, delivers and acknowledges one message for many. The wire
// subject is the messages' own; HeaderPack marks the pack and counts its
// messages; the data is a version byte (packVersion) followed by each
// message as
//
//	uvarint-prefixed ID, Key, Time (time.MarshalBinary) ·
//	uvarint header count · uvarint-prefixed name and value per header ·
//	uvarint-prefixed data
const (
	// HeaderPack marks a pack and holds the number of messages in it.
	HeaderPack = "Govkit-Pack"
	// maxPackBytes bounds a pack's data, well under NATS's default
	// max_payload of 1 MiB.
	maxPackBytes = 512 << 10
	packVersion  = 1
	// maxPackCount bounds PackSize.
	maxPackCount = 4096
)

// errBadPack reports a pack that cannot be decoded.
var errBadPack = errors.New("nats: malformed pack")

// unit is one JetStream message to publish: a single bus message, or a pack.
type unit struct {
	msg     *natsgo.Msg
	indexes []int // positions in the batch of the messages it carries
}

// packer groups a batch into units.
type packer struct {
	stream string
	lanes  int
	size   int            // PackSize
	open   map[string]int // lane → index in units of its open pack
	units  []unit
	data   [][]byte // data of each open pack being built, by unit index
	subj   []string // bus subject of each unit
}

// add appends m (the batch's i-th message, already checked) to the open
// pack of its lane if it has the same subject and room, else starts a new
// unit. Within a lane units keep the batch's order, so keyed messages keep
// theirs.
func (p *packer) add(i int, m bus.Message) {
	lane := laneFor(m.Key, p.lanes)
	rec := appendPacked(nil, m)
	if u, ok := p.open[lane]; ok {
		if p.subj[u] == m.Subject && len(p.units[u].indexes) < p.size && len(p.data[u])+len(rec) <= maxPackBytes {
			p.units[u].indexes = append(p.units[u].indexes, i)
			p.data[u] = append(p.data[u], rec...)
			return
		}
		delete(p.open, lane)
	}
	if 1+len(rec) > maxPackBytes {
		// Too big to pack: it travels alone, as Publish would send it.
		p.units = append(p.units, unit{msg: encode(p.stream, p.lanes, m), indexes: []int{i}})
		p.data = append(p.data, nil)
		p.subj = append(p.subj, m.Subject)
		return
	}
	p.open[lane] = len(p.units)
	p.units = append(p.units, unit{indexes: []int{i}})
	p.data = append(p.data, append([]byte{packVersion}, rec...))
	p.subj = append(p.subj, m.Subject)
}

// finish builds the pack messages and returns the units in order. A pack
// of one message is sent as a plain message.
func (p *packer) finish(ms []bus.Message) []unit {
	for u := range p.units {
		if p.units[u].msg != nil {
			continue
		}
		idx := p.units[u].indexes
		first := ms[idx[0]]
		if len(idx) == 1 {
			p.units[u].msg = encode(p.stream, p.lanes, first)
			continue
		}
		sum := sha256.New()
		for _, i := range idx {
			sum.Write([]byte(ms[i].ID))
			sum.Write([]byte{0})
		}
		p.units[u].msg = &natsgo.Msg{
			Subject: wireSubject(p.stream, laneFor(first.Key, p.lanes), first.Subject),
			Header: natsgo.Header{
				// Re-publishing the same batch builds the same packs, which
				// the server then drops as duplicates.
				jetstream.MsgIDHeader: []string{dedupKey(first.Subject, "pack:"+hex.EncodeToString(sum.Sum(nil)[:16]))},
				HeaderPack:            []string{strconv.Itoa(len(idx))},
			},
			Data: p.data[u],
		}
	}
	return p.units
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendPacked encodes one message of a pack, without its subject.
func appendPacked(b []byte, m bus.Message) []byte {
	b = appendString(b, m.ID)
	b = appendString(b, m.Key)
	t, err := m.Time.MarshalBinary()
	if err != nil { // a zone offset that is not whole minutes, or an absurd year
		t, _ = m.Time.UTC().MarshalBinary()
	}
	b = appendString(b, string(t))
	b = binary.AppendUvarint(b, uint64(len(m.Headers)))
	for k, v := range m.Headers {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Data)))
	return append(b, m.Data...)
}

// decodePack decodes a pack's data into messages on subject. It checks
// every length, so malformed input yields errBadPack, never a panic or an
// outsized allocation.
func decodePack(subject string, data []byte) ([]bus.Message, error) {
	if len(data) == 0 || data[0] != packVersion {
		return nil, fmt.Errorf("%w: unknown version", errBadPack)
	}
	r := wire.Reader{Bad: errBadPack, B: data[1:]}
	var out []bus.Message
	for len(r.B) > 0 {
		if len(out) == maxPackCount {
			return nil, fmt.Errorf("%w: more than %d messages", errBadPack, maxPackCount)
		}
		m := bus.Message{Subject: subject}
		m.ID = r.Text()
		m.Key = r.Text()
		if t := r.Bytes(); r.Err == nil {
			if err := m.Time.UnmarshalBinary(t); err != nil {
				return nil, fmt.Errorf("%w: time: %v", errBadPack, err)
			}
		}
		n := r.Uvarint()
		if r.Err == nil && n > uint64(len(r.B)) { // each header takes at least two bytes
			return nil, fmt.Errorf("%w: %d headers in %d bytes", errBadPack, n, len(r.B))
		}
		if n > 0 && r.Err == nil {
			m.Headers = make(map[string]string, n)
			for range n {
				k := r.Text()
				m.Headers[k] = r.Text()
			}
		}
		if d := r.Bytes(); r.Err == nil && len(d) > 0 {
			m.Data = d
		}
		if r.Err != nil {
			return nil, r.Err
		}
		if m.ID == "" {
			return nil, fmt.Errorf("%w: message without ID", errBadPack)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty", errBadPack)
	}
	return out, nil
}

// unpack returns the messages a delivery carries: one, or a pack's.
func unpack(stream string, jm jetstream.Msg, md *jetstream.MsgMetadata) ([]bus.Message, error) {
	if jm.Headers().Get(HeaderPack) == "" {
		return []bus.Message{decode(stream, jm, md)}, nil
	}
	head := decode(stream, jm, md) // for the subject and attempt
	ms, err := decodePack(head.Subject, jm.Data())
	if err != nil {
		return nil, err
	}
	for i := range ms {
		ms[i].Attempt = head.Attempt
	}
	return ms, nil
}
