module github.com/govkit/govkit/adapters/mqtt

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/govkit/govkit v0.0.0
)

require (
	github.com/eclipse/paho.golang v0.23.0
	github.com/gorilla/websocket v1.5.3 // indirect
	golang.org/x/net v0.58.0 // indirect
)

replace github.com/govkit/govkit => ../..
