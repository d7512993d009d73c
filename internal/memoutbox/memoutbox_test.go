package memoutbox

import (
	"testing"

	"github.com/govkit/govkit/bus"
)

func msg(id string) bus.Message {
	return bus.Message{ID: id, Subject: "s", Headers: map[string]string{"h": id}, Data: []byte(id)}
}

func ids(ms []bus.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestOrderAndPublishing(t *testing.T) {
	var o Outbox
	o.Add(msg("a"), msg("b"), msg("c"))
	if got := ids(o.Pending(2)); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("pending %v", got)
	}
	o.MarkPublished("b", "unknown")
	if got := ids(o.Pending(10)); len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Fatalf("pending after b %v", got)
	}
	o.MarkPublished("a")
	o.Add(msg("d"))
	if got := ids(o.Pending(10)); len(got) != 2 || got[0] != "c" || got[1] != "d" {
		t.Fatalf("pending after a %v", got)
	}
	if !o.Has("d") || o.Has("a") || o.Len() != 2 {
		t.Fatal("Has/Len")
	}
	o.MarkPublished("c", "d")
	if o.Len() != 0 || len(o.Pending(10)) != 0 || len(o.items) != 0 {
		t.Fatal("not emptied")
	}
}

func TestCopies(t *testing.T) {
	var o Outbox
	m := msg("a")
	o.Add(m)
	m.Data[0], m.Headers["h"] = 'X', "changed"
	got := o.Pending(1)[0]
	if string(got.Data) != "a" || got.Headers["h"] != "a" {
		t.Fatal("Add kept the caller's slices")
	}
	got.Data[0] = 'Y'
	if string(o.Pending(1)[0].Data) != "a" {
		t.Fatal("Pending shared its slices")
	}
}
