# govkit is several Go modules tied by go.work; plain `go test ./...` stops at
# module boundaries, so these targets visit every module the workspace lists.
MODULES := $(shell go list -m -f '{{.Dir}}')

.PHONY: demo test vet fmt-check bench

# The main demo, on embedded defaults: no server needed.
demo:
	go run ./examples/district

# Every test of every module, with the race detector. Tests that need a
# server read GOVKIT_TEST_POSTGRES / _NATS / _MQTT and skip when unset
# (they fail instead when CI=true).
test:
	@set -e; for m in $(MODULES); do \
		echo "== go test $$m"; \
		(cd $$m && go test -race -count=1 -timeout 15m ./...); \
	done
	@# Allocation tests skip under -race (sync.Pool drops items at random),
	@# so run them once without it.
	go test -count=1 -run 'DoesNotAllocate' ./...

vet:
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Benchmarks recorded in BENCHMARKS.md.
bench:
	@set -e; for m in $(MODULES); do \
		(cd $$m && go test -run '^$$' -bench . -benchtime 2s ./...); \
	done
