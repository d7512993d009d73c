package geo

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCRSStringAndParse(t *testing.T) {
	for _, c := range []CRS{WGS84, GCJ02, BD09} {
		got, err := ParseCRS(c.String())
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
	for name, want := range map[string]CRS{
		"wgs84": WGS84, "WGS84": WGS84, " Wgs-84 ": WGS84,
		"gcj02": GCJ02, "GCJ-02": GCJ02,
		"bd09": BD09, "BD09": BD09, "bd09ll": BD09,
	} {
		got, err := ParseCRS(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}
	for _, name := range []string{"", "cgcs2000", "gcj", "bd09mc", "epsg:4326"} {
		_, err := ParseCRS(name)
		require.ErrorIs(t, err, ErrUnknownCRS, name)
		var ce *CRSError
		require.True(t, errors.As(err, &ce))
		assert.Equal(t, name, ce.Name)
	}
	assert.Equal(t, "CRS(0)", CRS(0).String())
	assert.Equal(t, "CRS(9)", CRS(9).String())
}

func TestCRSText(t *testing.T) {
	var cfg struct {
		Source CRS `json:"source"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"source":"gcj02"}`), &cfg))
	assert.Equal(t, GCJ02, cfg.Source)
	out, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"source":"GCJ02"}`, string(out))

	assert.ErrorIs(t, json.Unmarshal([]byte(`{"source":"mars"}`), &cfg), ErrUnknownCRS)
	cfg.Source = 0
	_, err = json.Marshal(cfg)
	assert.ErrorIs(t, err, ErrUnknownCRS, "the zero CRS is not silently WGS84")
}

// crsPair is a published conversion: in, converted, should give out to
// within tol degrees. Full-precision pairs must agree to 1e-9° (0.1 mm),
// allowing for differences in arithmetic order; pairs printed with 7
// decimals to 1e-7° (1 cm).
type crsPair struct {
	name    string
	in, out Point
	tol     float64
}

// WGS-84 → GCJ-02 pairs published by other implementations, checked to the
// precision they are printed with. (hujiulong/gcoord's china-cities.json
// also lists WGS-84 and GCJ-02 for each city, but those pairs disagree with
// every implementation of the formula by a uniform ~0.66 m, so they were
// evidently not produced by it; only its GCJ-02/BD-09 pairs are used.)
var crsWGS84ToGCJ02Pairs = []crsPair{
	// googollee/eviltransform, go/transform_test.go (the same three points
	// are in its javascript/test.js and php/tests).
	{"eviltransform shanghai", Point{31.1774276, 121.5272106}, Point{31.17530398364597, 121.531541859215}, 1e-9},
	{"eviltransform shenzhen", Point{22.543847, 113.912316}, Point{22.540796131694766, 113.9171764808363}, 1e-9},
	{"eviltransform beijing", Point{39.911954, 116.377817}, Point{39.91334545536069, 116.38404722455657}, 1e-9},
	// wandergis/coordtransform, README.md: wgs84togcj02(116.404, 39.915).
	{"wandergis tiananmen", Point{39.915, 116.404}, Point{39.91640428150164, 116.41024449916938}, 1e-9},
	// feiquan123/coordtransform-go, coordtransform_test.go: expWGS84toGCJ02.
	{"feiquan123 wuhan", Point{30.517411, 114.363089}, Point{30.515078352018758, 114.36861383019243}, 1e-9},
}

// GCJ-02 → BD-09 pairs.
var crsGCJ02ToBD09Pairs = []crsPair{
	// wandergis/coordtransform, README.md: gcj02tobd09(116.404, 39.915).
	{"wandergis tiananmen", Point{39.915, 116.404}, Point{39.92133699351021, 116.41036949371029}, 1e-9},
	// feiquan123/coordtransform-go, coordtransform_test.go: expGCJ02toBD09.
	{"feiquan123 wuhan", Point{30.517411, 114.363089}, Point{30.523754384540837, 114.36951652929112}, 1e-9},
	// hujiulong/gcoord, test/fixtures/china-cities.json (7 decimals).
	{"gcoord zhumadian", Point{33.0115324, 114.022306}, Point{33.0176697, 114.0287781}, 1e-7},
	{"gcoord shaoyang", Point{27.2388981, 111.4677938}, Point{27.2451662, 111.4742271}, 1e-7},
	{"gcoord nagqu", Point{31.4762063, 92.0512438}, Point{31.4824421, 92.0576832}, 1e-7},
	{"gcoord shenyang", Point{41.8057023, 123.4314787}, Point{41.8114013, 123.438095}, 1e-7},
}

func TestWGS84ToGCJ02ReferencePairs(t *testing.T) {
	for _, c := range crsWGS84ToGCJ02Pairs {
		t.Run(c.name, func(t *testing.T) {
			got := WGS84ToGCJ02(c.in)
			assert.InDelta(t, c.out.Lat, got.Lat, c.tol)
			assert.InDelta(t, c.out.Lon, got.Lon, c.tol)
			// The exact inverse takes the published GCJ-02 back to the
			// input, which the one-step approximations those libraries
			// test against (5 m, 0.5 m) could not promise.
			assert.Less(t, Distance(GCJ02ToWGS84(c.out), c.in), 0.001)

			conv, err := Convert(c.in, WGS84, GCJ02)
			require.NoError(t, err)
			assert.Equal(t, got, conv)
		})
	}
}

func TestGCJ02ToBD09ReferencePairs(t *testing.T) {
	for _, c := range crsGCJ02ToBD09Pairs {
		t.Run(c.name, func(t *testing.T) {
			got := GCJ02ToBD09(c.in)
			assert.InDelta(t, c.out.Lat, got.Lat, c.tol)
			assert.InDelta(t, c.out.Lon, got.Lon, c.tol)
			back := BD09ToGCJ02(c.out)
			assert.InDelta(t, c.in.Lat, back.Lat, c.tol)
			assert.InDelta(t, c.in.Lon, back.Lon, c.tol)
		})
	}
}

func TestBD09ReferencePairs(t *testing.T) {
	// feiquan123/coordtransform-go, coordtransform_test.go: expWGS84toBD09.
	got := WGS84ToBD09(Point{30.517411, 114.363089})
	assert.InDelta(t, 30.521392123098003, got.Lat, 1e-9)
	assert.InDelta(t, 114.3750500836037, got.Lon, 1e-9)

	// wandergis/coordtransform, README.md: bd09togcj02(116.404, 39.915) gives
	// [116.39762729119315, 39.90865673957631] with the closed-form inverse;
	// the exact inverse differs from that by its documented error (< 0.23 m).
	want := Point{39.90865673957631, 116.39762729119315}
	g := BD09ToGCJ02(Point{39.915, 116.404})
	assert.Less(t, Distance(g, want), 0.23)
	assert.Equal(t, want, bd09ToGCJ02Approx(Point{39.915, 116.404}), "the closed form matches the published one")
}

func TestConversionIsIdentityOutsideChina(t *testing.T) {
	for _, p := range []Point{
		{48.8566, 2.3522},     // Paris
		{40.7128, -74.0060},   // New York
		{35.6762, 139.6503},   // Tokyo: east of 137.8347°E, so outside the box
		{-33.8688, 151.2093},  // Sydney
		{56.0, 110.0},         // north of the box (Siberia)
		{0.5, 100.0},          // south of the box
		{math.NaN(), 116.404}, // the direct functions pass NaN through
	} {
		assert.Equal(t, p.String(), WGS84ToGCJ02(p).String())
		assert.Equal(t, p.String(), GCJ02ToWGS84(p).String())
	}
	paris := Point{48.8566, 2.3522}
	got, err := Convert(paris, GCJ02, WGS84)
	require.NoError(t, err)
	assert.Equal(t, paris, got)
	// Inside the box the offset is hundreds of metres.
	assert.Greater(t, Distance(Point{39.915, 116.404}, WGS84ToGCJ02(Point{39.915, 116.404})), 100.0)
}

// The inverse must be exact, not the one-step approximation that is off by
// metres: WGS84 → GCJ02 → WGS84 must come back within 1 cm everywhere in
// China.
func TestGCJ02RoundTripWithinOneCentimetre(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 2))
	worst, worstOneStep := 0.0, 0.0
	for range 20_000 {
		// The whole box, keeping a 0.1° margin from its edge (see
		// GCJ02ToWGS84 on round trips near the edge).
		p := Point{Lat: 0.93 + r.Float64()*54.8, Lon: 72.1 + r.Float64()*65.6}
		g := WGS84ToGCJ02(p)
		worst = max(worst, Distance(GCJ02ToWGS84(g), p))

		dLat, dLon := gcjOffset(g.Lat, g.Lon)
		worstOneStep = max(worstOneStep, Distance(Point{g.Lat - dLat, g.Lon - dLon}, p))
	}
	assert.Less(t, worst, 0.01, "metres")
	t.Logf("worst round-trip error %.2g m; the one-step inverse would be off by %.2g m", worst, worstOneStep)
	assert.Greater(t, worstOneStep, 1.0, "the sample must be able to tell the one-step inverse apart")
}

func TestBD09RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for range 10_000 {
		p := Point{Lat: 18 + r.Float64()*35, Lon: 73 + r.Float64()*62}
		b := WGS84ToBD09(p)
		assert.Less(t, Distance(BD09ToWGS84(b), p), 0.01)
		g := WGS84ToGCJ02(p)
		back := GCJ02ToBD09(BD09ToGCJ02(GCJ02ToBD09(g)))
		require.InDelta(t, GCJ02ToBD09(g).Lat, back.Lat, 1e-11)
		require.InDelta(t, GCJ02ToBD09(g).Lon, back.Lon, 1e-11)
	}
}

func TestConvertAllPairsAgreeWithDirectFunctions(t *testing.T) {
	p := Point{29.5630, 106.5516} // Chongqing, Jiefangbei
	direct := map[[2]CRS]func(Point) Point{
		{WGS84, GCJ02}: WGS84ToGCJ02, {GCJ02, WGS84}: GCJ02ToWGS84,
		{GCJ02, BD09}: GCJ02ToBD09, {BD09, GCJ02}: BD09ToGCJ02,
		{WGS84, BD09}: WGS84ToBD09, {BD09, WGS84}: BD09ToWGS84,
		{WGS84, WGS84}: func(p Point) Point { return p },
	}
	for k, fn := range direct {
		got, err := Convert(p, k[0], k[1])
		require.NoError(t, err)
		assert.Equal(t, fn(p), got, "%v to %v", k[0], k[1])
	}
}

func TestConvertRejectsBadInput(t *testing.T) {
	_, err := Convert(Point{91, 116}, WGS84, GCJ02)
	assert.ErrorIs(t, err, ErrInvalidCoordinate)
	_, err = Convert(Point{math.NaN(), 116}, WGS84, GCJ02)
	assert.ErrorIs(t, err, ErrInvalidCoordinate)

	for _, c := range [][2]CRS{{0, WGS84}, {WGS84, 0}, {CRS(4), GCJ02}, {BD09, CRS(-1)}} {
		_, err := Convert(Point{30, 110}, c[0], c[1])
		require.ErrorIs(t, err, ErrUnknownCRS, "%v", c)
		var ce *CRSError
		require.True(t, errors.As(err, &ce))
	}

	// BD-09's shift can carry a valid point out of range; Convert refuses
	// rather than return an invalid point.
	_, err = Convert(Point{90, 0}, GCJ02, BD09)
	assert.ErrorIs(t, err, ErrInvalidCoordinate)
	var ce *CoordinateError
	require.True(t, errors.As(err, &ce))
	assert.Contains(t, ce.Reason, "GCJ02 to BD09")
}

func BenchmarkWGS84ToGCJ02(b *testing.B) {
	p := Point{29.5630, 106.5516}
	var sink Point
	for b.Loop() {
		sink = WGS84ToGCJ02(p)
	}
	_ = sink
}

func BenchmarkGCJ02ToWGS84(b *testing.B) {
	p := WGS84ToGCJ02(Point{29.5630, 106.5516})
	var sink Point
	for b.Loop() {
		sink = GCJ02ToWGS84(p)
	}
	_ = sink
}
