package codes

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// ECLevel is a QR code's error-correction level: how much of the symbol
// may be lost (dirt, a crease, glare) and still read.
type ECLevel uint8

// Error-correction levels. ECMedium is the default: a listing code taped
// by a door survives some wear; ECHigh suits codes printed small or
// outdoors; ECLow gives the smallest symbol, for screens.
const (
	ECLow      ECLevel = iota + 1 // L: about 7% recoverable
	ECMedium                      // M: about 15%
	ECQuartile                    // Q: about 25%
	ECHigh                        // H: about 30%
)

// ECLevels returns the levels Render offers, lowest first.
func ECLevels() []ECLevel { return []ECLevel{ECLow, ECMedium, ECQuartile, ECHigh} }

// String returns "L", "M", "Q" or "H".
func (l ECLevel) String() string {
	switch l {
	case ECLow:
		return "L"
	case ECMedium:
		return "M"
	case ECQuartile:
		return "Q"
	case ECHigh:
		return "H"
	}
	return fmt.Sprintf("ECLevel(%d)", uint8(l))
}

// BandColour returns the colour of the status band for c: green, amber or
// red, and a neutral grey for 0 (kinds without a status). The band is for
// people; scanners ignore it, and a verifier takes the colour from the
// status list, never from the picture.
func BandColour(c Colour) (color.RGBA, bool) {
	rgba, ok := bandColours[c]
	return rgba, ok
}

// Palette returns the colours Render offers bands for: 0 (neutral),
// Green, Yellow and Red.
func Palette() []Colour { return []Colour{0, Green, Yellow, Red} }

func (l ECLevel) qr() qr.ErrorCorrectionLevel {
	return [...]qr.ErrorCorrectionLevel{ECLow: qr.L, ECMedium: qr.M, ECQuartile: qr.Q, ECHigh: qr.H}[l]
}

// bandColours is the palette of the status band around a rendered code.
var bandColours = map[Colour]color.RGBA{
	0:      {0x5f, 0x63, 0x68, 0xff}, // neutral grey
	Green:  {0x1e, 0x8e, 0x3e, 0xff},
	Yellow: {0xf9, 0xab, 0x00, 0xff},
	Red:    {0xd9, 0x30, 0x25, 0xff},
}

// RenderOptions says how to draw a code.
type RenderOptions struct {
	Level  ECLevel // default ECMedium
	Colour Colour  // the band's colour (0: neutral)
	// Scale is the size of a module in pixels (PNG) or user units (SVG),
	// default 4.
	Scale int
	// QuietZone is the white margin around the symbol, in modules: at
	// least 4, as ISO/IEC 18004 requires (default 4).
	QuietZone int
	// Band is the width of the colour band outside the quiet zone, in
	// modules (default 3).
	Band int
	// NoBand draws no band at all, for a code printed inside a frame that
	// carries the colour some other way.
	NoBand bool
}

func (o *RenderOptions) defaults() error {
	if o.Level == 0 {
		o.Level = ECMedium
	}
	if o.Scale == 0 {
		o.Scale = 4
	}
	if o.QuietZone == 0 {
		o.QuietZone = 4
	}
	if o.Band == 0 && !o.NoBand {
		o.Band = 3
	}
	if o.NoBand {
		o.Band = 0
	}
	switch {
	case o.Level < ECLow || o.Level > ECHigh:
		return invalid("level", "%v", o.Level)
	case o.Scale < 1 || o.Scale > 64:
		return invalid("scale", "%d, want 1–64", o.Scale)
	case o.QuietZone < 4 || o.QuietZone > 32:
		return invalid("quiet zone", "%d modules, want 4–32", o.QuietZone)
	case o.Band < 0 || o.Band > 32:
		return invalid("band", "%d modules, want 0–32", o.Band)
	}
	if _, ok := bandColours[o.Colour]; !ok {
		return invalid("colour", "%v", o.Colour)
	}
	return nil
}

// Symbol is a code laid out as a QR symbol: black modules on white, a
// white quiet zone, and the status colour in a band outside it — never in
// the modules, whose contrast scanners need.
type Symbol struct {
	Text    string
	Size    int      // modules per side, without quiet zone and band
	Modules [][]bool // [y][x]: true is dark
	Opts    RenderOptions
}

// Render lays out text (a code: QR alphanumeric characters only) as a QR
// symbol in alphanumeric mode at the options' error-correction level.
func Render(text string, opts RenderOptions) (*Symbol, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if text == "" || len(text) > MaxCodeLen {
		return nil, invalid("text", "%d characters, want 1–%d", len(text), MaxCodeLen)
	}
	if i := strings.IndexFunc(text, func(r rune) bool { return r > 0x7f || base45Index[r] < 0 }); i >= 0 {
		return nil, invalid("text", "character %d is not QR alphanumeric", i+1)
	}
	bc, err := qr.Encode(text, opts.Level.qr(), qr.AlphaNumeric)
	if err != nil {
		return nil, &InputError{Field: "text", Reason: "does not fit a QR code at level " + opts.Level.String(), Err: err}
	}
	b := bc.Bounds()
	s := &Symbol{Text: text, Size: b.Dx(), Opts: opts, Modules: make([][]bool, b.Dy())}
	for y := range s.Modules {
		s.Modules[y] = make([]bool, b.Dx())
		for x := range s.Modules[y] {
			r, _, _, _ := bc.At(b.Min.X+x, b.Min.Y+y).RGBA()
			s.Modules[y][x] = r < 0x8000
		}
	}
	return s, nil
}

// margin is the modules outside the symbol on each side.
func (s *Symbol) margin() int { return s.Opts.QuietZone + s.Opts.Band }

// Pixels is the side of the rendered image.
func (s *Symbol) Pixels() int { return (s.Size + 2*s.margin()) * s.Opts.Scale }

// Image draws the symbol: band, white quiet zone, black modules.
func (s *Symbol) Image() *image.Paletted {
	band := bandColours[s.Opts.Colour]
	n := s.Pixels()
	img := image.NewPaletted(image.Rect(0, 0, n, n), color.Palette{color.White, color.Black, band})
	scale, bandPx := s.Opts.Scale, s.Opts.Band*s.Opts.Scale
	off := s.margin() * scale
	for y := 0; y < n; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+n]
		for x := range row {
			switch {
			case x < bandPx || y < bandPx || x >= n-bandPx || y >= n-bandPx:
				row[x] = 2
			case x >= off && y >= off && x < off+s.Size*scale && y < off+s.Size*scale &&
				s.Modules[(y-off)/scale][(x-off)/scale]:
				row[x] = 1
			}
		}
	}
	return img
}

// WritePNG writes the symbol as a PNG.
func (s *Symbol) WritePNG(w io.Writer) error {
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	return enc.Encode(w, s.Image())
}

// WriteSVG writes the symbol as an SVG: the band as a filled square, the
// white field, and the dark modules as one path of unit squares merged
// along rows.
func (s *Symbol) WriteSVG(w io.Writer) error {
	bw := bufio.NewWriter(w)
	n := s.Size + 2*s.margin()
	px := n * s.Opts.Scale
	band := bandColours[s.Opts.Colour]
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`+"\n", px, px, n, n)
	fmt.Fprintf(bw, "<title>%s code, %s</title>\n", s.Opts.Colour, s.Opts.Level)
	fmt.Fprintf(bw, `<rect x="0" y="0" width="%d" height="%d" fill="#%02x%02x%02x"/>`+"\n", n, n, band.R, band.G, band.B)
	b := s.Opts.Band
	fmt.Fprintf(bw, `<rect x="%d" y="%d" width="%d" height="%d" fill="#ffffff"/>`+"\n", b, b, n-2*b, n-2*b)
	bw.WriteString(`<path fill="#000000" d="`)
	m := s.margin()
	for y, row := range s.Modules {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(bw, "M%d %dh%dv1h-%dz", x+m, y+m, run, run)
			x += run
		}
	}
	bw.WriteString("\"/>\n</svg>\n")
	return bw.Flush()
}

// RenderPNG renders text as a PNG.
func RenderPNG(text string, opts RenderOptions) ([]byte, error) {
	s, err := Render(text, opts)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := s.WritePNG(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// RenderSVG renders text as an SVG.
func RenderSVG(text string, opts RenderOptions) ([]byte, error) {
	s, err := Render(text, opts)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := s.WriteSVG(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
