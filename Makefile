# l2tap: build, demo, tests and benchmarks. Targets that touch namespaces,
# TAPs or apt need root.

GO ?= go
BIN ?= l2tap

.PHONY: all build deps demo test unit cross soak fuzz bench bench-go bench-scale kernelpeer clean \
	install uninstall man deb

all: build

# The version stamped into l2tap (-version) with -ldflags -X: from git
# describe in a clone, from the file VERSION in a tarball made by git
# archive (scripts/version.sh says how, and how the Debian version is
# derived). Each may be given on the command line instead.
VERSION_VARS := $(shell ./scripts/version.sh)
version_var = $(patsubst $(1)=%,%,$(filter $(1)=%,$(VERSION_VARS)))
VERSION ?= $(call version_var,version)
COMMIT ?= $(call version_var,commit)
COMMIT_DATE ?= $(call version_var,date)
COMMIT_EPOCH ?= $(call version_var,epoch)
DEB_VERSION ?= $(call version_var,debversion)
GO_LDFLAGS = -X main.stampedVersion=$(VERSION) -X main.stampedCommit=$(COMMIT) \
	-X main.stampedDate=$(COMMIT_DATE) $(GO_LDFLAGS_EXTRA)

build:
	@[ -n "$(VERSION)" ] || { echo "build: no version to stamp (see scripts/version.sh above)" >&2; exit 1; }
	CGO_ENABLED=0 $(GO) build -ldflags '$(GO_LDFLAGS)' -o $(BIN) .

# deps installs the Debian packages the demo, tests and benchmarks use.
deps:
	./scripts/deps.sh

# demo builds l2tap and runs a real pseudowire between two namespaces.
demo: deps
	./scripts/demo.sh

# test runs everything: unit and fuzz seeds, the end-to-end tests
# (test/e2e: the binary in namespaces, interop with QEMU's l2tpv3), and the
# Linux kernel's l2tp_eth in a VM (test/kernelpeer) beside them: it starts
# first and runs through vet, the unit tests and the end-to-end tests. Its
# emulated guest mostly computes while the end-to-end tests mostly wait,
# so it runs at a lower priority (nice): the end-to-end tests that bound
# times get the CPU when they need it, and the guest's own bounds are
# minutes. Its output follows the end-to-end tests'.
TEST_FLAGS = -count=1 -timeout 40m -v
test: deps cross
	kp=$$(mktemp); trap 'rm -f "$$kp"' EXIT; \
	nice -n 10 $(GO) test $(TEST_FLAGS) ./test/kernelpeer >"$$kp" 2>&1 & kpid=$$!; \
	$(GO) vet ./... && \
	$(GO) test -p 1 $(TEST_FLAGS) $(filter-out %/test/kernelpeer,$(UNIT_PKGS)) && \
	$(GO) test $(TEST_FLAGS) ./test/e2e; others=$$?; \
	wait $$kpid; kernelpeer=$$?; cat "$$kp"; \
	echo "test: vet, unit and test/e2e exit $$others, test/kernelpeer exit $$kernelpeer"; \
	[ $$others -eq 0 ] && [ $$kernelpeer -eq 0 ]

# soak runs one pseudowire for SOAK (10 minutes by default) under mixed
# traffic with peer restarts and link flaps, and fails if the l2tap that stays
# up grows in memory, descriptors or goroutines after the first minute.
SOAK ?= 10m
soak:
	L2TAP_SOAK=$(SOAK) $(GO) test -count=1 -timeout 0 -v -run '^TestSoak$$' ./test/e2e

# unit runs the unit tests, fuzz seeds included: every package but
# test/e2e (whose tests run the binary, most as root in namespaces), under
# -short, which skips the few tests elsewhere that need root.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v '/test/e2e$$')
unit:
	$(GO) test -short -count=1 $(UNIT_PKGS)

# cross builds and vets everything, tests included, for CROSS_ARCHS and
# CROSS_SYSTEMS, and runs
# the tests that need no root as CROSS_RUN_ARCHS binaries under qemu-user:
# 386 and arm64 for 32-bit and another 64-bit ABI, s390x for big-endian.
# qemu-user passes UDP_SEGMENT and UDP_GRO control messages through without
# byte-swapping them, so on a big-endian guest over a little-endian kernel
# the two tests that send them cannot pass and are skipped there. Go's
# asynchronous preemption signals crash 386 binaries under qemu-i386 7.2,
# so they run without it. Under CI=true a missing qemu-user fails.
CROSS_ARCHS ?= amd64 arm64 386 s390x
# CROSS_SYSTEMS are the other systems l2tap builds and vets for (the
# portable data path: water's TAP and a UDP socket; see "Platforms" in the
# README). Their binaries are not run here.
CROSS_SYSTEMS ?= freebsd/amd64 darwin/arm64 windows/amd64
CROSS_RUN_ARCHS ?= s390x 386 arm64
CROSS_PKGS = ./internal/config ./internal/l2tpv3 ./internal/offload ./internal/underlay ./internal/engine ./internal/tap ./internal/tune ./internal/vmsocket ./internal/control \
	./internal/vhostuser
CROSS_BE_SKIP = SenderFallbacks|SocketLoopAllocs|IntactNeedsChecksums
# The emulated test binaries run with L2TAP_TEST_EMULATED naming the
# emulator, for the few checks of what qemu-user does otherwise than the
# kernel (internal/vhostuser: descriptors beyond a control buffer, faults in
# a mapping).
# CROSS_EXEC_SKIP are tests that run a host program (tshark): the host's
# binary, which the emulated run does not test, and qemu-user's fork of an
# emulated Go process is fragile (qemu-i386: "morestack on g0").
CROSS_EXEC_SKIP = TsharkDecodesControl
# internal/vmsocket's tests crash qemu-i386 itself (Go's signal stack,
# "morestack on g0", then qemu's SIGSEGV) while qemu-arm runs them: its
# 32-bit run is on arm.
cross:
	@set -e; for a in $(CROSS_ARCHS); do \
		echo "cross: build and vet linux/$$a"; \
		GOOS=linux GOARCH=$$a $(GO) build ./...; \
		GOOS=linux GOARCH=$$a $(GO) vet ./...; \
	done
	@set -e; for s in $(CROSS_SYSTEMS); do \
		echo "cross: build and vet $$s"; \
		GOOS=$${s%/*} GOARCH=$${s#*/} $(GO) build -o /dev/null . ; \
		GOOS=$${s%/*} GOARCH=$${s#*/} $(GO) build ./...; \
		GOOS=$${s%/*} GOARCH=$${s#*/} $(GO) vet ./...; \
	done
	@set -e; dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	for a in $(CROSS_RUN_ARCHS); do \
		case $$a in 386) q=qemu-i386 env=GODEBUG=asyncpreemptoff=1;; arm64) q=qemu-aarch64 env=;; *) q=qemu-$$a env=;; esac; \
		case $$a in s390x|mips|mips64|ppc64) skip='$(CROSS_BE_SKIP)|$(CROSS_EXEC_SKIP)';; *) skip='$(CROSS_EXEC_SKIP)';; esac; \
		if ! command -v $$q >/dev/null; then \
			if [ "$$CI" = true ]; then echo "cross: $$q missing: apt-get install qemu-user (make deps)" >&2; exit 1; fi; \
			echo "cross: $$q missing, linux/$$a tests not run (apt-get install qemu-user)"; continue; \
		fi; \
		echo "cross: unit tests as linux/$$a under $$q"; \
		for p in $(CROSS_PKGS); do \
			case $$a/$$p in 386/./internal/vmsocket) continue;; esac; \
			GOOS=linux GOARCH=$$a $(GO) test -c -o "$$dir/pkg.$$a.test" $$p; \
			env L2TAP_TEST_EMULATED=$$q $$env $$q "$$dir/pkg.$$a.test" -test.count=1 -test.short -test.skip "$$skip"; \
		done; \
	done; \
	if ! command -v qemu-arm >/dev/null; then \
		if [ "$$CI" = true ]; then echo "cross: qemu-arm missing: apt-get install qemu-user (make deps)" >&2; exit 1; fi; \
		echo "cross: qemu-arm missing, ./internal/vmsocket not run as linux/arm"; exit 0; \
	fi; \
	echo "cross: ./internal/vmsocket as linux/arm (32-bit) under qemu-arm"; \
	GOOS=linux GOARCH=arm $(GO) test -c -o "$$dir/vmsocket.arm.test" ./internal/vmsocket; \
	qemu-arm "$$dir/vmsocket.arm.test" -test.count=1 -test.short

# fuzz explores every parser beyond the committed seeds, FUZZTIME each.
FUZZTIME ?= 60s
FUZZ_TARGETS = ./internal/l2tpv3:FuzzDecode ./internal/l2tpv3:FuzzRoundTrip ./internal/config:FuzzConfigFile ./internal/l2tpv3:FuzzSequence \
	./internal/underlay:FuzzGROSegmentSize \
	./internal/offload:FuzzGSOSplit ./internal/offload:FuzzGRO ./internal/offload:FuzzFlowQueue \
	./internal/offload:FuzzParse ./internal/offload:FuzzClampMSS ./internal/l2tpv3:FuzzControl ./internal/control:FuzzInput \
	./internal/control:FuzzDynamic \
	./internal/tap:FuzzParseMAC ./internal/tap:FuzzParseMachineID \
	./internal/sandbox:FuzzRequest ./internal/sandbox:FuzzReply \
	./internal/vhostuser:FuzzParseMessage ./internal/vhostuser:FuzzRing
fuzz:
	for t in $(FUZZ_TARGETS); do pkg=$${t%%:*} f=$${t#*:}; \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done

# bench compares l2tap with QEMU's l2tpv3 and bare veth (see scripts/bench.sh).
bench: deps bench-go
	./scripts/bench.sh

# bench-scale runs one tunnel with 1, 10, 100 and 1000 sessions (SCALE_NS) in
# one l2tap per side: setup time, RSS per idle session, descriptors,
# goroutines, and TCP over 4 busy sessions against one alone (see
# scripts/bench-scale.sh). Not part of make test.
bench-scale: deps
	./scripts/bench-scale.sh

# bench-go runs the Go hot-path benchmarks with allocation counts.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# kernelpeer runs only the interop matrix against the Linux kernel.
kernelpeer: deps
	$(GO) test -count=1 -v ./test/kernelpeer/

# install puts l2tap and its companions under DESTDIR$(PREFIX): the binary,
# the manual page, bash and zsh completions, the systemd template unit (in
# $(PREFIX)/lib/systemd/system, which systemd searches for PREFIX=/usr/local;
# its ExecStart names $(BINDIR)/l2tap) and the QEMU ifup script (in
# $(LIBEXECDIR)/l2tap). uninstall removes exactly those files.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install

INSTALLED = $(BINDIR)/l2tap $(MANDIR)/man8/l2tap.8 $(BASHCOMPDIR)/l2tap \
	$(ZSHCOMPDIR)/_l2tap $(UNITDIR)/l2tap@.service $(LIBEXECDIR)/l2tap/qemu-ifup

install: build
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man8" "$(DESTDIR)$(BASHCOMPDIR)" \
		"$(DESTDIR)$(ZSHCOMPDIR)" "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(LIBEXECDIR)/l2tap"
	$(INSTALL) -m 755 $(BIN) "$(DESTDIR)$(BINDIR)/l2tap"
	$(INSTALL) -m 644 docs/l2tap.8 "$(DESTDIR)$(MANDIR)/man8/l2tap.8"
	$(INSTALL) -m 644 scripts/completions/l2tap.bash "$(DESTDIR)$(BASHCOMPDIR)/l2tap"
	$(INSTALL) -m 644 scripts/completions/_l2tap "$(DESTDIR)$(ZSHCOMPDIR)/_l2tap"
	$(INSTALL) -m 755 scripts/qemu-ifup "$(DESTDIR)$(LIBEXECDIR)/l2tap/qemu-ifup"
	sed 's|^ExecStart=/usr/local/bin/l2tap |ExecStart=$(BINDIR)/l2tap |' scripts/l2tap@.service \
		> "$(DESTDIR)$(UNITDIR)/l2tap@.service.tmp"
	chmod 644 "$(DESTDIR)$(UNITDIR)/l2tap@.service.tmp"
	mv "$(DESTDIR)$(UNITDIR)/l2tap@.service.tmp" "$(DESTDIR)$(UNITDIR)/l2tap@.service"

uninstall:
	rm -f $(foreach f,$(INSTALLED),"$(DESTDIR)$(f)")
	-rmdir "$(DESTDIR)$(LIBEXECDIR)/l2tap"

# deb builds the Debian package l2tap_$(DEB_VERSION)_$(ARCH).deb into
# DEBDIR with dpkg-buildpackage and debian/ (see debian/rules): ARCH is the
# machine's unless given (make deb ARCH=arm64 cross-builds). It downloads the
# Go modules first, if the module cache lacks them; the package build then
# runs offline, in a copy of the tree (the files git tracks, and new ones it
# does not ignore) with a VERSION file, as from a tarball, and a changelog
# entry dated at the commit: SOURCE_DATE_EPOCH, the time of every file in
# the copy and in the package, so that two builds of one commit are the same
# bytes wherever and whenever the tree was checked out.
ARCH ?= $(shell dpkg --print-architecture)
DEBDIR ?= .
DEB_MAINTAINER = $(shell sed -n 's/^Maintainer: //p' debian/control)
deb:
	@[ -n "$(DEB_VERSION)" ] || { echo "deb: no version (see scripts/version.sh above)" >&2; exit 1; }
	$(GO) mod download
	@set -e; build=$$(mktemp -d); trap 'rm -rf "$$build"' EXIT; \
	src=$$build/l2tap-$(DEB_VERSION); mkdir "$$src"; \
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && [ -z "$$(git rev-parse --show-prefix)" ]; then \
		git ls-files -z --cached --others --exclude-standard >"$$build/files"; \
		tar -c --null --no-recursion --ignore-failed-read -f "$$build/src.tar" -T "$$build/files"; \
	else \
		tar -c --exclude-vcs --exclude='./l2tap_*.deb' -f "$$build/src.tar" .; \
	fi; \
	tar -x -C "$$src" -f "$$build/src.tar"; \
	find "$$src" -exec touch -h -d @$(COMMIT_EPOCH) {} +; \
	echo "$(call version_var,short) $(patsubst %+dirty,%,$(COMMIT)) $(COMMIT_EPOCH) $(VERSION)" > "$$src/VERSION"; \
	{ echo "l2tap ($(DEB_VERSION)) unstable; urgency=medium"; echo; \
	  echo "  * Built from commit $(COMMIT)."; echo; \
	  echo " -- $(DEB_MAINTAINER)  $$(date -u -R -d @$(COMMIT_EPOCH))"; } > "$$src/debian/changelog"; \
	echo "deb: dpkg-buildpackage -a $(ARCH) in $$src"; \
	(cd "$$src" && GO="$$(command -v $(GO))" GOMODCACHE="$$($(GO) env GOMODCACHE)" GOCACHE="$$($(GO) env GOCACHE)" \
		SOURCE_DATE_EPOCH=$(COMMIT_EPOCH) dpkg-buildpackage -b --no-sign -a $(ARCH)) >"$$build/log" 2>&1 || \
		{ cat "$$build/log" >&2; echo "deb: dpkg-buildpackage failed (its output above)" >&2; exit 1; }; \
	mkdir -p "$(DEBDIR)"; cp "$$build/l2tap_$(DEB_VERSION)_$(ARCH).deb" "$(DEBDIR)/"; \
	echo "deb: $(DEBDIR)/l2tap_$(DEB_VERSION)_$(ARCH).deb"

# man regenerates what the flag table (internal/config/flagtable.go) gives:
# the manual page, the bash and zsh completions and docs/options.md (tests
# fail when a committed one drifts from the table).
man:
	$(GO) run . man > docs/l2tap.8.tmp && mv docs/l2tap.8.tmp docs/l2tap.8
	$(GO) test -count=1 -run '^TestGeneratedFiles$$' ./internal/config -update

clean:
	rm -f $(BIN) l2tap_*.deb
	rm -rf bench-out
