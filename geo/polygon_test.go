package geo

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// square returns an open ring around (lat, lon) with half-size h degrees.
func square(lat, lon, h float64) Ring {
	return Ring{{lat - h, lon - h}, {lat - h, lon + h}, {lat + h, lon + h}, {lat + h, lon - h}}
}

func TestNewPolygonClosesAndValidates(t *testing.T) {
	p, err := NewPolygon(square(29.5, 106.5, 0.1))
	require.NoError(t, err)
	require.Len(t, p[0], 5)
	assert.Equal(t, p[0][0], p[0][4])
	require.NoError(t, p.Validate())

	cases := []struct {
		name  string
		outer Ring
		holes []Ring
		path  string
		coord bool
	}{
		{"too few points", Ring{{0, 0}, {1, 1}}, nil, "ring[0]", false},
		{"collinear duplicates", Ring{{0, 0}, {1, 1}, {0, 0}, {1, 1}}, nil, "ring[0]", false},
		{"bad coordinate", Ring{{0, 0}, {1, 1}, {math.NaN(), 1}}, nil, "ring[0].point[2]", true},
		{"bad hole", square(0, 0, 1), []Ring{{{0, 0}, {0.1, 0.1}}}, "ring[1]", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewPolygon(c.outer, c.holes...)
			require.ErrorIs(t, err, ErrInvalidGeometry)
			assert.Equal(t, c.coord, errors.Is(err, ErrInvalidCoordinate))
			var ge *GeometryError
			require.True(t, errors.As(err, &ge))
			assert.Equal(t, c.path, ge.Path)
		})
	}
}

func TestNewPolygonDoesNotAliasInput(t *testing.T) {
	outer := square(0, 0, 1)
	p, err := NewPolygon(outer)
	require.NoError(t, err)
	outer[0] = Point{5, 5}
	assert.Equal(t, Point{-1, -1}, p[0][0])
}

func TestPolygonValidateRequiresClosedRings(t *testing.T) {
	assert.ErrorIs(t, Polygon{square(0, 0, 1)}.Validate(), ErrInvalidGeometry)
	assert.ErrorIs(t, Polygon{}.Validate(), ErrInvalidGeometry)
	assert.ErrorIs(t, MultiPolygon{}.Validate(), ErrInvalidGeometry)
	closed, _ := NewPolygon(square(0, 0, 1))
	err := MultiPolygon{closed, {square(5, 5, 1)}}.Validate()
	var ge *GeometryError
	require.True(t, errors.As(err, &ge))
	assert.Equal(t, "polygon[1].ring[0]", ge.Path)
}

func TestLineStringValidate(t *testing.T) {
	assert.NoError(t, LineString{{0, 0}, {1, 1}}.Validate())
	assert.ErrorIs(t, LineString{{0, 0}}.Validate(), ErrInvalidGeometry)
	assert.ErrorIs(t, LineString{{0, 0}, {0, 200}}.Validate(), ErrInvalidCoordinate)
	assert.Equal(t, BBox{0, 0, 1, 2}, LineString{{0, 2}, {1, 0}}.BBox())
}

func TestContainsWithHolesAndMultipolygons(t *testing.T) {
	withHole, err := NewPolygon(square(0, 0, 2), square(0, 0, 1))
	require.NoError(t, err)
	other, err := NewPolygon(square(10, 10, 1))
	require.NoError(t, err)
	m := MultiPolygon{withHole, other}

	assert.True(t, withHole.Contains(Point{1.5, 1.5}), "between outer ring and hole")
	assert.False(t, withHole.Contains(Point{0, 0}), "inside the hole")
	assert.False(t, withHole.Contains(Point{3, 3}), "outside")
	assert.True(t, m.Contains(Point{10.5, 9.5}), "second polygon")
	assert.True(t, m.Contains(Point{-1.5, 0}))
	assert.False(t, m.Contains(Point{5, 5}))
	assert.False(t, Polygon(nil).Contains(Point{0, 0}))
	assert.Equal(t, BBox{-2, -2, 11, 11}, m.BBox())
}

func TestContainsConcave(t *testing.T) {
	// An L-shaped street boundary: the notch is outside.
	l, err := NewPolygon(Ring{{0, 0}, {0, 2}, {1, 2}, {1, 1}, {2, 1}, {2, 0}})
	require.NoError(t, err)
	assert.True(t, l.Contains(Point{0.5, 1.5}))
	assert.True(t, l.Contains(Point{1.5, 0.5}))
	assert.False(t, l.Contains(Point{1.5, 1.5}))
}

func TestRect(t *testing.T) {
	r := BBox{1, 2, 3, 4}.Rect()
	require.NoError(t, r.Validate())
	assert.True(t, r.Contains(Point{2, 3}))
	assert.Equal(t, BBox{1, 2, 3, 4}, r.BBox())
}
