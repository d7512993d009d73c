module github.com/govkit/govkit

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/hashicorp/go-memdb v1.3.5
	github.com/stretchr/testify v1.12.1
	github.com/tidwall/rtree v1.10.0
)

require (
	github.com/cockroachdb/apd/v3 v3.2.3 // indirect
	github.com/hashicorp/go-immutable-radix v1.3.1 // indirect
	github.com/hashicorp/golang-lru v0.5.4 // indirect
	github.com/tidwall/geoindex v1.7.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
