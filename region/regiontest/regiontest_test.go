package regiontest

import (
	"testing"

	"github.com/govkit/govkit/geo"
)

func TestSplitTilesTheBox(t *testing.T) {
	b := geo.BBox{MinLat: 0, MinLon: 0, MaxLat: 1, MaxLon: 1}
	cells := split(b, 5) // 3 columns, 2 rows, one cell empty
	if len(cells) != 5 {
		t.Fatalf("got %d cells", len(cells))
	}
	if cells[0].MinLat != 0 || cells[0].MinLon != 0 || cells[4].MaxLat != 1 {
		t.Fatalf("cells do not start at the south-west and reach the top: %+v", cells)
	}
	for i := range cells {
		for j := i + 1; j < len(cells); j++ {
			a, c := cells[i], cells[j]
			if a.MinLat < c.MaxLat && c.MinLat < a.MaxLat && a.MinLon < c.MaxLon && c.MinLon < a.MaxLon {
				t.Fatalf("cells %d and %d overlap", i, j)
			}
		}
	}
}

func TestChongqingSize(t *testing.T) {
	units, err := Units(Chongqing())
	if err != nil {
		t.Fatal(err)
	}
	// 1 city + 41 districts + 1,025 streets + 8,200 communities + 65,600 grids.
	if want := 1 + 41 + 41*25 + 41*25*8 + 41*25*8*8; len(units) != want {
		t.Fatalf("got %d units, want %d", len(units), want)
	}
}
