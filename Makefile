# cove — build, check and test. `make ci` is what .ci/run (CI) runs.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
BIN ?= bin/cove
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.Version=$(VERSION)
# Packages that start goroutines: run under the race detector.
RACE_PKGS := . ./internal/stage ./internal/sigcatch ./cmd/cove ./dive/...
# A count, not a duration: Go 1.26's fuzz coordinator can fail a target with
# a spurious "context deadline exceeded" when a duration runs out while a
# worker is mid-input (golang/go#75804, fixed in Go 1.27); a count has no
# deadline to race. 300000 inputs take 6-15 s per target here.
FUZZTIME ?= 300000x
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build deps check test race fuzz ci bench clean demo

all: build

# The linker writes its output through a shared mapping, which leaves the
# binary in the page cache in 4 KB folios; a copy written with write(2), as
# an installed binary is, sits in large folios, which every exec maps, and
# every exit unmaps, in a sixteenth of the work (docs/bench.md, "The
# binary's page cache"). So the binary is copied into place.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN).link ./cmd/cove
	cat $(BIN).link > $(BIN).new && rm -f $(BIN).link
	chmod 755 $(BIN).new && mv -f $(BIN).new $(BIN)

# The built-in default sandbox, on this machine.
demo: build
	$(BIN) run -- sh -c 'id; hostname; ls /'

# Install what the tests need: peer tools for differential tests and
# benchmarks, and debootstrap (or busybox-static when the mirror is out of
# reach) for the container tests' root filesystem, cached in
# /var/cache/cove-test. Needs root and apt; on other systems install them by
# hand.
deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends \
			bubblewrap uidmap daemontools runit s6 iproute2 procps hyperfine \
			debootstrap debian-archive-keyring busybox-static ca-certificates >/dev/null; \
	else echo "make deps: not root or no apt-get; install bubblewrap uidmap daemontools runit s6 debootstrap busybox-static yourself"; fi

check:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build ./...
	$(GO) run $(STATICCHECK) ./...

# The end-to-end packages run one after another: each checks that a run
# leaves no mount on the host, and some (the escape suite's propagation
# attacks) make host mounts of their own on purpose.
test:
	CGO_ENABLED=0 $(GO) test -count=1 $$($(GO) list ./... | grep -v '/e2e')
	CGO_ENABLED=0 $(GO) test -count=1 -p 1 ./e2e/...

race:
	CGO_ENABLED=1 $(GO) test -race -count=1 $(RACE_PKGS)

fuzz:
	@for t in $$($(GO) test -list 'Fuzz.*' ./dive/proto1100 | grep ^Fuzz); do \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./dive/proto1100 || exit 1; done
	@for p in ./dive/wire; do [ -d $$p ] || continue; \
		for t in $$($(GO) test -list 'Fuzz.*' $$p | grep ^Fuzz); do \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; done; done

ci: deps check test race fuzz

bench: build
	$(GO) run ./bench -cove $(BIN)
	$(GO) run ./bench/dive -cove $(BIN) $(if $(DIVE),-dive $(DIVE)) $(if $(DIVED),-dived $(DIVED))

clean:
	rm -rf bin
