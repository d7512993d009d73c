package geo

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewBBox(t *testing.T) {
	b, err := NewBBox(Point{29, 106}, Point{30, 107})
	require.NoError(t, err)
	assert.True(t, b.Contains(Point{29.5, 106.5}))
	assert.True(t, b.Contains(Point{29, 106}), "edges are inside")
	assert.False(t, b.Contains(Point{30.1, 106.5}))
	assert.Equal(t, Point{29.5, 106.5}, b.Center())

	_, err = NewBBox(Point{30, 106}, Point{29, 107})
	assert.ErrorIs(t, err, ErrInvalidGeometry)
	_, err = NewBBox(Point{95, 106}, Point{29, 107})
	assert.ErrorIs(t, err, ErrInvalidCoordinate)
	assert.ErrorIs(t, err, ErrInvalidGeometry)
}

func TestBBoxExtendUnionIntersects(t *testing.T) {
	b := EmptyBBox()
	assert.True(t, b.IsEmpty())
	assert.False(t, b.Contains(Point{0, 0}))
	b = b.Extend(Point{1, 2}).Extend(Point{-1, 5})
	assert.Equal(t, BBox{-1, 2, 1, 5}, b)
	assert.Equal(t, b, b.Union(EmptyBBox()))
	u := b.Union(BBox{0, 0, 3, 3})
	assert.Equal(t, BBox{-1, 0, 3, 5}, u)
	assert.True(t, b.Intersects(BBox{0, 4, 9, 9}))
	assert.False(t, b.Intersects(BBox{2, 2, 3, 3}))
}

// Every point within the radius must fall inside BBoxAround, at any latitude.
func TestBBoxAroundContainsCircle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		c := Point{Lat: r.Float64()*170 - 85, Lon: r.Float64()*340 - 170}
		meters := r.Float64() * 200_000
		b := BBoxAround(c, meters)
		for range 20 {
			p := Point{Lat: c.Lat + (r.Float64()*2-1)*5, Lon: c.Lon + (r.Float64()*2-1)*5}
			if p.Validate() != nil {
				continue
			}
			if Distance(c, p) <= meters && !b.Contains(p) {
				t.Fatalf("point %v at %.1f m from %v is outside %+v (radius %.1f)", p, Distance(c, p), c, b, meters)
			}
		}
	}
	polar := BBoxAround(Point{89.9, 10}, 50_000)
	assert.Equal(t, -180.0, polar.MinLon)
	assert.Equal(t, 90.0, polar.MaxLat)
}

func TestBBoxAroundIsTight(t *testing.T) {
	// At Chongqing's latitude a 5 km box should be about 10 km across, not a
	// whole-degree slab, or radius queries would scan far too much.
	b := BBoxAround(Point{29.56, 106.55}, 5000)
	assert.InDelta(t, 10_000, Distance(Point{b.MinLat, 106.55}, Point{b.MaxLat, 106.55}), 10)
	assert.InDelta(t, 10_000, Distance(Point{29.56, b.MinLon}, Point{29.56, b.MaxLon}), 50)
}

func TestBBoxErrorsAreTyped(t *testing.T) {
	_, err := NewBBox(Point{30, 106}, Point{29, 107})
	var ge *GeometryError
	require.True(t, errors.As(err, &ge))
	assert.Contains(t, ge.Error(), "south-west")
}
