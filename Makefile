# l2tap: build, demo, tests and benchmarks. Targets that touch namespaces,
# TAPs or apt need root.

GO ?= go
BIN ?= l2tap

.PHONY: all build deps demo test unit soak fuzz bench bench-go kernelpeer clean

all: build

build:
	$(GO) build -o $(BIN) .

# deps installs the Debian packages the demo, tests and benchmarks use.
deps:
	./scripts/deps.sh

# demo builds l2tap and runs a real pseudowire between two namespaces.
demo: deps
	./scripts/demo.sh

# test runs everything: unit and fuzz seeds, namespace integration tests,
# interop with QEMU's l2tpv3 and with the Linux kernel's l2tp_eth in a VM.
test: deps
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout 40m -v ./...

# soak runs one pseudowire for SOAK (10 minutes by default) under mixed
# traffic with peer restarts and link flaps, and fails if the l2tap that stays
# up grows in memory, descriptors or goroutines after the first minute.
SOAK ?= 10m
soak:
	L2TAP_SOAK=$(SOAK) $(GO) test -count=1 -timeout 0 -v -run '^TestSoak$$' .

# unit runs every test that needs no root (those that do skip under -short),
# fuzz seeds included.
unit:
	$(GO) test -short -count=1 ./...

# fuzz explores every parser beyond the committed seeds, FUZZTIME each.
FUZZTIME ?= 60s
FUZZ_TARGETS = .:FuzzDecode .:FuzzRoundTrip .:FuzzGSOSplit .:FuzzGRO .:FuzzGROSegmentSize .:FuzzFlowQueue \
	./internal/l2tpv3:FuzzSequence
fuzz:
	for t in $(FUZZ_TARGETS); do pkg=$${t%%:*} f=$${t#*:}; \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done

# bench compares l2tap with QEMU's l2tpv3 and bare veth (see scripts/bench.sh).
bench: deps bench-go
	./scripts/bench.sh

# bench-go runs the Go hot-path benchmarks with allocation counts.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem .

# kernelpeer runs only the interop matrix against the Linux kernel.
kernelpeer: deps
	$(GO) test -count=1 -v ./test/kernelpeer/

clean:
	rm -f $(BIN)
	rm -rf bench-out
