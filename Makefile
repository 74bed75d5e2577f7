# encmon: the two set-up commands are `make demo` and `make test`; both install what is missing.
PREFIX ?= /usr/local
SWIFT ?= swift
# Debian packages the build and the tests need: ncursesw headers; tmux drives the terminal tests;
# the tracing libraries (live source, trace.dat); trace-cmd writes test trace.dat files; QEMU runs the
# QMP migration test; prometheus scrapes the daemon in its test; gcc builds the uprobe and KVM test
# helpers; pkg-config finds the libraries.
DEB_PACKAGES := libncurses-dev tmux pkg-config gcc libtracefs-dev libtraceevent-dev libtracecmd-dev \
                trace-cmd qemu-system-x86 prometheus

.PHONY: all build release demo test bench fuzz install deps clean

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

build: deps
	$(SWIFT) build

# The Swift runtime and Foundation linked in: the binary runs on a host without a Swift toolchain
# (a hypervisor host rarely has one) and starts in about 9 ms instead of 15. The link prints one
# warning from the toolchain's own libFoundationEssentials.a (its mktemp use), not from encmon.
RELEASE_FLAGS := -c release --static-swift-stdlib

release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product encmon

demo: release
	.build/release/encmon demo $(ARGS)

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

# Then issue 14's replay against `wc -l` (REPLAY_ROUNDS, 0 skips it) and the hostile-guest load on
# the live path (root; HOSTILE_SECONDS a phase, 0 skips it).
bench: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark $(ARGS)
	[ "$(or $(REPLAY_ROUNDS),21)" = 0 ] || Benchmarks/scripts/replay-vs-wc.sh $(or $(REPLAY_ROUNDS),21)
	Benchmarks/scripts/hostile-guest.sh $(or $(HOSTILE_SECONDS),120)

# libFuzzer + ASan targets of Fuzz/, FUZZ_SECONDS each (default 60); crashes in Fuzz/crashes/.
fuzz: deps
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) SWIFT=$(SWIFT) scripts/fuzz.sh

install: release
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 .build/release/encmon $(DESTDIR)$(PREFIX)/bin/encmon

clean:
	rm -rf .build Benchmarks/.build Fuzz/.build
