package geo

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewPointRejectsBadCoordinates(t *testing.T) {
	cases := []struct {
		name     string
		lat, lon float64
		reason   string
	}{
		{"NaN latitude", math.NaN(), 106.5, "NaN"},
		{"NaN longitude", 29.5, math.NaN(), "NaN"},
		{"infinite", math.Inf(1), 106.5, "infinite"},
		{"latitude too large", 90.0001, 0, "latitude"},
		{"latitude too small", -91, 0, "latitude"},
		{"longitude too large", 0, 180.5, "longitude"},
		{"longitude too small", 0, -181, "longitude"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPoint(c.lat, c.lon)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidCoordinate))
			var ce *CoordinateError
			require.True(t, errors.As(err, &ce))
			assert.Contains(t, ce.Reason, c.reason)
			assert.Equal(t, Point{}, p)
		})
	}
}

func TestNewPointAcceptsEdges(t *testing.T) {
	for _, p := range []Point{{90, 180}, {-90, -180}, {0, 0}, {29.56, 106.55}} {
		got, err := NewPoint(p.Lat, p.Lon)
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
}

func TestDistance(t *testing.T) {
	// Jiefangbei (Chongqing) to Chaotianmen: about 1.5 km.
	jiefangbei := Point{29.5573, 106.5773}
	chaotianmen := Point{29.5647, 106.5890}
	d := Distance(jiefangbei, chaotianmen)
	assert.InDelta(t, 1400, d, 100)

	// One degree of latitude on the mean sphere.
	assert.InDelta(t, EarthRadius*math.Pi/180, Distance(Point{0, 0}, Point{1, 0}), 1e-6)
	// Antipodes: half the circumference, no NaN from rounding.
	assert.InDelta(t, EarthRadius*math.Pi, Distance(Point{0, 0}, Point{0, 180}), 1e-3)
	assert.Zero(t, Distance(jiefangbei, jiefangbei))
	assert.InDelta(t, d, Distance(chaotianmen, jiefangbei), 1e-9, "symmetric")
}

func TestPointString(t *testing.T) {
	assert.Equal(t, "29.557300,106.577300", Point{29.5573, 106.5773}.String())
}
