package risk

import (
	"fmt"
	"strings"
)

// Colour is one of China's four risk colours (四色): red for major risk
// (重大风险), orange for large (较大), yellow for general (一般), blue for
// low (低). They are ordered: a greater Colour is a higher risk, so the
// level of a point is the maximum of what raises it. The zero value None
// means "not assessed".
type Colour int8

// The colours, lowest first.
const (
	None Colour = iota
	Blue
	Yellow
	Orange
	Red
)

var colourNames = [...]string{None: "none", Blue: "blue", Yellow: "yellow", Orange: "orange", Red: "red"}
var colourLabels = [...]string{None: "未评估", Blue: "低风险", Yellow: "一般风险", Orange: "较大风险", Red: "重大风险"}
var colourHex = [...]string{None: "#9e9e9e", Blue: "#1e88e5", Yellow: "#fdd835", Orange: "#fb8c00", Red: "#e53935"}

// Valid reports whether c is one of the four colours or None.
func (c Colour) Valid() bool { return c >= None && c <= Red }

// String returns the colour's English name, such as "orange".
func (c Colour) String() string {
	if !c.Valid() {
		return fmt.Sprintf("Colour(%d)", int8(c))
	}
	return colourNames[c]
}

// Label returns the Chinese name of the level, such as "较大风险".
func (c Colour) Label() string {
	if !c.Valid() {
		return c.String()
	}
	return colourLabels[c]
}

// Hex returns the colour as a CSS hex string for maps, such as "#fb8c00";
// None is grey.
func (c Colour) Hex() string {
	if !c.Valid() {
		return colourHex[None]
	}
	return colourHex[c]
}

// ParseColour returns the colour named s ("red", "orange", "yellow",
// "blue", "none"; also 红, 橙, 黄, 蓝), ignoring case.
func ParseColour(s string) (Colour, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "":
		return None, nil
	case "blue", "蓝", "蓝色":
		return Blue, nil
	case "yellow", "黄", "黄色":
		return Yellow, nil
	case "orange", "橙", "橙色":
		return Orange, nil
	case "red", "红", "红色":
		return Red, nil
	}
	return None, invalid("colour", "unknown colour %q", s)
}

// MarshalText encodes the colour's name.
func (c Colour) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, invalid("colour", "unknown colour %d", int8(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText decodes a colour's name.
func (c *Colour) UnmarshalText(b []byte) error {
	v, err := ParseColour(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Max returns the higher of a and b.
func Max(a, b Colour) Colour {
	if a > b {
		return a
	}
	return b
}
