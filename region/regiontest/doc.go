// Package regiontest builds synthetic hierarchies of any size for tests,
// benchmarks and demos: a city tiled into rectangular districts, streets,
// communities and grids, with valid codes and boundaries.
package regiontest
