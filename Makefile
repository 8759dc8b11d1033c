# scardgate — every entry point a newcomer or CI needs.
SHELL := /bin/bash
NODE ?= node
NPM ?= npm
# Debian packages the tests talk to (real parts, not mocks).
DEB_PACKAGES := mosquitto mosquitto-clients python3-jinja2 socat pcscd pcsc-tools opensc python3-pyscard \
  python3-virtualsmartcard python3-pycryptodome vsmartcard-vpicc vsmartcard-vpcd libpcsclite-dev chromium gcc make systemd \
  dpkg-dev faketime

.PHONY: all deps npm-deps deb-deps check-node build lint typecheck test run clean docs-config

all: build

# Node.js itself is the one prerequisite (Debian 12's nodejs is 18; use Debian 13, backports or NodeSource).
check-node:
	@command -v $(NODE) >/dev/null || { echo 'Node.js >= 20 is required (with npm)' >&2; exit 1; }
	@$(NODE) -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { echo "Node.js >= 20 is required, found $$($(NODE) --version)" >&2; exit 1; }

node_modules/.package-lock.json: package.json package-lock.json | check-node
	$(NPM) ci --no-audit --no-fund
	@touch $@

npm-deps: node_modules/.package-lock.json

deb-deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps: npm-deps deb-deps

build: npm-deps
	@npx tsx src/config/compile-cli.ts
	$(NPM) run build --silent
	@$(MAKE) --no-print-directory native bundle

# dist/bundle/: the two executables bundled by esbuild (lazy frontends kept as chunks; native-addon packages
# stay external). One file per part instead of hundreds of modules: faster start and a smaller RSS
# (bench/startup, bench/footprint measure both forms).
# Whitespace and syntax minified (names kept, so stack traces still name functions; the linked .map, which
# node reads only with --enable-source-maps, maps them back): V8 keeps every module's source text in its
# heap, so 40 % less text is about 3 MB less RSS and less to parse at start. Emptied first: the chunk
# names carry content hashes, and stale chunks would be installed.
BUNDLE_EXTERNAL := serialport @serialport/* usb i2c-bus onoff epoll
.PHONY: bundle
bundle:
	rm -rf dist/bundle
	npx esbuild src/bin/scardgated.ts src/bin/scardctl.ts --bundle --platform=node --format=esm --splitting \
	  --minify-whitespace --minify-syntax --sourcemap=linked \
	  --target=node20 --outdir=dist/bundle --log-level=warning $(addprefix --external:,$(BUNDLE_EXTERNAL)) \
	  --banner:js="import { createRequire as __scardgateRequire } from 'node:module'; const require = __scardgateRequire(import.meta.url);"

# The sd_notify addon (src/daemon/native/sd_notify.c): Node has no Unix datagram sockets, and systemd with
# NotifyAccess=main only takes READY=1/WATCHDOG=1 from the daemon's own pid. Built when a C compiler and
# Node's headers are there (npm install needs the same compiler for serialport, i2c-bus and epoll);
# without it the daemon falls back to systemd-notify (src/daemon/sd-notify.ts).
NODE_INCLUDE ?= $(shell d=$$(dirname $$(dirname $$(readlink -f $$(command -v $(NODE))))); [ -f $$d/include/node/node_api.h ] && echo $$d/include/node)
CC ?= cc
.PHONY: native
native: dist/native/sd_notify.node
dist/native/sd_notify.node: src/daemon/native/sd_notify.c
	@if [ -z "$(NODE_INCLUDE)" ] || ! command -v $(CC) >/dev/null; then \
	  echo "note: not building $@ (needs a C compiler and Node's headers, node_api.h)"; \
	else mkdir -p $(@D) && $(CC) -shared -fPIC -O2 -Wall -Wextra -I$(NODE_INCLUDE) -o $@ $<; fi

typecheck: npm-deps
	npx tsc --noEmit -p .

lint: npm-deps lint-imports
	npx eslint .

# Import boundaries (.dependency-cruiser.cjs): frontends never import drivers, drivers never import
# frontends, test never imports bench, production code never imports test/ or bench/.
.PHONY: lint-imports
lint-imports: npm-deps
	npx depcruise --config .dependency-cruiser.cjs --output-type err src drivers emulators test bench

# The whole test suite on a fresh machine: installs what it needs, type-checks, lints, tests. The output is kept in
# .tap/test-output.log and, when a test fails, the failures are printed again at the end (CI shows the tail).
test: deps build lint
	@mkdir -p .tap; set -o pipefail; npx tap 2>&1 | tee .tap/test-output.log || { \
	  echo '# FAILED: the failing tests, with context (whole output in .tap/test-output.log):'; \
	  grep -n -B4 -A30 '^ *not ok' .tap/test-output.log | tail -n 400; exit 1; }

# The gateway on its embedded default: simulated readers, built-in broker, web UI.
# Runs the esbuild bundle (same code as dist/src, about twice as fast to start: bench/startup).
run: npm-deps build
	$(DAEMON_ENV) $(NODE) $(DAEMON_NODE_FLAGS) dist/bundle/scardgated.js --config config/default.yaml

# Node flags of the daemon wherever it runs (make run, the installed wrapper the systemd unit starts, bench/startup
# and bench/footprint). One V8 worker thread instead of four: about 1.5 MB less idle RSS, start-up and
# bench-core unchanged (README, Benchmarks). Young-generation caps (--max-semi-space-size) were measured too:
# no lower RSS once idle (V8 shrinks the heap by itself) and up to half again as long to start.
# The rest keep V8's optimizing compiler (TurboFan) out of start-up, where nothing is hot enough to need it but a
# few functions got compiled anyway and paged about 3.5 MB of node's own code in for good (README, "Idle memory"):
# small functions are not optimized on sight (--max-bytecode-size-for-early-opt=0), the module loader does not
# realpath every chunk it loads (--preserve-symlinks*: the bundle has no symlinks), and its URL-to-path loop is
# never optimized (--turbo-filter=-getPathFromURLPosix; it runs only while modules load). Without the baseline
# compiler (--no-sparkplug) warm code stays in the interpreter until TurboFan takes it: another 0.6-1.4 MB.
# bench-pcsc with these flags against the old ones, interleaved: every call type within 0.96-1.08.
DAEMON_NODE_FLAGS := --v8-pool-size=1 --no-sparkplug --max-bytecode-size-for-early-opt=0 --preserve-symlinks --preserve-symlinks-main --turbo-filter=-getPathFromURLPosix
# Environment of the daemon, wherever it runs as DAEMON_NODE_FLAGS does (the wrapper execs node through env(1)).
# glibc gives each thread that allocates (V8's worker, libuv's pool) its own malloc arena, which keeps freed
# pages after a load even after malloc_trim: two arenas left the whole gateway about 2-3 MB lower after the
# MQTT and HTTP loads of bench-pcsc-memory and changed nothing at idle (README, "Idle memory").
DAEMON_ENV := MALLOC_ARENA_MAX=2

clean:
	rm -rf dist .tap

# Regenerate README.md's config key table and config/default.yaml from the schema.
docs-config: npm-deps
	$(NPM) run docs:config --silent

# Process start to "ready", compiled daemon, 4 simulated readers (goal <= 300 ms).
.PHONY: bench-startup bench-footprint
bench-startup: build
	DAEMON_NODE_FLAGS='$(DAEMON_NODE_FLAGS)' DAEMON_ENV='$(DAEMON_ENV)' npx tsx bench/startup/run.ts

# Idle daemon with 4 simulated readers: RSS (goal <= 50 MB), CPU over 30 s (goal < 0.5 %).
bench-footprint: build
	DAEMON_NODE_FLAGS='$(DAEMON_NODE_FLAGS)' DAEMON_ENV='$(DAEMON_ENV)' npx tsx bench/footprint/run.ts

# --- Installation (issue 7): `make install DESTDIR=... PREFIX=...` --------------------------
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
LIBDIR ?= $(PREFIX)/lib
SYSTEMDUNITDIR ?= $(LIBDIR)/systemd/system
UDEVRULESDIR ?= $(LIBDIR)/udev/rules.d
APPDIR := $(LIBDIR)/scardgate
SYSTEMD_VERSION := $(shell systemctl --version 2>/dev/null | awk 'NR==1{print $$2}')
APPLIANCE_CONFIG := $(firstword $(wildcard config/appliance.yaml) config/default.yaml)

.PHONY: install install-files uninstall
install: build
	$(MAKE) --no-print-directory install-files

# The copy step alone (dist/ must be built); the tests call it on a temporary DESTDIR.
install-files:
	@test -f dist/src/bin/scardgated.js -a -f dist/bundle/scardgated.js || { echo 'dist/ is not built: run make build first' >&2; exit 1; }
	install -d -m 0755 $(DESTDIR)$(APPDIR) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMDUNITDIR) \
	  $(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(LIBDIR)/tmpfiles.d $(DESTDIR)$(LIBDIR)/sysusers.d \
	  $(DESTDIR)$(PREFIX)/share/doc/scardgate
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/scardgate
	rm -rf $(DESTDIR)$(APPDIR)/dist $(DESTDIR)$(APPDIR)/node_modules
	cp -a dist package.json package-lock.json $(DESTDIR)$(APPDIR)/
	# Only the production packages (a quarter of node_modules, four times faster to copy), with their built native parts.
	$(NPM) ls --omit=dev --all --parseable > $(DESTDIR)$(APPDIR)/.prod-packages
	sed -n 's#^$(CURDIR)/\(node_modules/.*\)#\1#p' $(DESTDIR)$(APPDIR)/.prod-packages | grep -v '^node_modules/.*/node_modules/' \
	  | tar -cf - -T - | tar -C $(DESTDIR)$(APPDIR) -xf -
	rm -f $(DESTDIR)$(APPDIR)/.prod-packages
	cd $(DESTDIR)$(APPDIR) && $(NPM) prune --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null
	rm -rf $(DESTDIR)$(APPDIR)/dist/test $(DESTDIR)$(APPDIR)/dist/bench
	# The wrappers find the application relative to where they lie, so a DESTDIR tree (package staging, the tests) runs as the installed one does.
	# They run the bundle (as make run does: half the start-up time of dist/src, less RSS); the daemon with its node flags.
	rel=$$(realpath -m --relative-to=$(PREFIX)/bin $(APPDIR)); \
	for b in scardgated scardctl; do \
	  flags=$$([ $$b = scardgated ] && echo '$(DAEMON_NODE_FLAGS) '); \
	  envs=$$([ $$b = scardgated ] && echo 'env $(DAEMON_ENV) '); \
	  printf '#!/bin/sh\nexec %snode %s"$$(dirname "$$(readlink -f "$$0")")/%s/dist/bundle/%s.js" "$$@"\n' "$$envs" "$$flags" "$$rel" "$$b" > $(DESTDIR)$(PREFIX)/bin/$$b; \
	  chmod 0755 $(DESTDIR)$(PREFIX)/bin/$$b; done
	[ -e $(DESTDIR)$(SYSCONFDIR)/scardgate/scardgate.yaml ] || install -m 0640 $(APPLIANCE_CONFIG) $(DESTDIR)$(SYSCONFDIR)/scardgate/scardgate.yaml
	sed -e 's#@PREFIX@#$(PREFIX)#g; s#@SYSCONFDIR@#$(SYSCONFDIR)#g' systemd/scardgate.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/scardgate.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/scardgate.service
	if [ -n "$(SYSTEMD_VERSION)" ] && [ "$(SYSTEMD_VERSION)" -ge 254 ]; then \
	  install -D -m 0644 systemd/restart-steps.conf $(DESTDIR)$(SYSTEMDUNITDIR)/scardgate.service.d/restart-steps.conf; fi
	install -m 0644 systemd/60-scardgate.rules $(DESTDIR)$(UDEVRULESDIR)/60-scardgate.rules
	install -m 0644 systemd/scardgate.tmpfiles $(DESTDIR)$(LIBDIR)/tmpfiles.d/scardgate.conf
	install -m 0644 systemd/scardgate.sysusers $(DESTDIR)$(LIBDIR)/sysusers.d/scardgate.conf
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/scardgate/README.md

# Removes what install put in place. The configuration goes too unless the technician changed it
# (then it stays, as dpkg keeps a modified conffile); state under /var/lib is never touched.
uninstall:
	@cfg=$(DESTDIR)$(SYSCONFDIR)/scardgate/scardgate.yaml; \
	if [ -e $$cfg ] && ! cmp -s $$cfg $(APPLIANCE_CONFIG); then echo "keeping modified $$cfg"; \
	else rm -f $$cfg; rmdir $(DESTDIR)$(SYSCONFDIR)/scardgate 2>/dev/null || true; fi
	rm -rf $(DESTDIR)$(APPDIR) $(DESTDIR)$(PREFIX)/share/doc/scardgate
	rm -f $(DESTDIR)$(PREFIX)/bin/scardgated $(DESTDIR)$(PREFIX)/bin/scardctl
	rm -rf $(DESTDIR)$(SYSTEMDUNITDIR)/scardgate.service $(DESTDIR)$(SYSTEMDUNITDIR)/scardgate.service.d
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-scardgate.rules $(DESTDIR)$(LIBDIR)/tmpfiles.d/scardgate.conf \
	  $(DESTDIR)$(LIBDIR)/sysusers.d/scardgate.conf

# Core transmit throughput/latency through the ResourceManager (in process).
.PHONY: bench-core
bench-core: npm-deps
	npx tsx bench/core/transmit.ts

# MQTT against a local Mosquitto: card event latency, one-shot transmit req/s, durable outbox events/s and bytes/event.
.PHONY: bench-mqtt
bench-mqtt: npm-deps
	npx tsx bench/mqtt/run.ts

# PN532 over a socat pty paced at 115200 baud: APDU round trip vs wire time, tap-to-event with IRQ and polling.
.PHONY: bench-pn532
bench-pn532: npm-deps
	npx tsx bench/pn532/run.ts

# Web UI: first-load bytes (compressed) and card-event-to-UI latency in Chromium.
.PHONY: bench-http
bench-http: npm-deps
	npx tsx bench/http/run.ts

.PHONY: bench-pcsc
bench-pcsc: build
	DAEMON_NODE_FLAGS='$(DAEMON_NODE_FLAGS)' DAEMON_ENV='$(DAEMON_ENV)' npx tsx bench/pcsc/run.ts

# The floor under per-call speed: one request/reply exchange with no work, a C server as pcscd serves against a
# Node server on the pcsc socket's own I/O path (src/net/socket-io.ts), interleaved, unpinned and pinned.
.PHONY: bench-pcsc-floor
bench-pcsc-floor:
	DAEMON_NODE_FLAGS='$(DAEMON_NODE_FLAGS)' DAEMON_ENV='$(DAEMON_ENV)' npx tsx bench/pcsc/floor.ts

# Fuzzing (issue 16): every parser of outside bytes (test/fuzz/targets.ts) with fast-check, each in its own process
# (hang watchdog). FUZZ_RUNS (default 1,000,000 per parser), FUZZ_SECONDS (default 900 per parser, whichever comes first), FUZZ_TARGETS.
# Ends with one JSON line per parser and a summary line. Short runs are part of make test (test/fuzz/).
.PHONY: fuzz
fuzz: npm-deps
	npx tsx bench/fuzz/run.ts

# USB CCID (drivers/ccid, emulators/ccid): every descriptor of libccid's readers/ folder through our parser
# (Debian's ccid source package fetched at run time, or LIBCCID_READERS=<dir>), and the CCID benchmark.
.PHONY: test-ccid-libccid bench-ccid
test-ccid-libccid:
	npx tsx test/ccid/libccid-corpus.ts

bench-ccid:
	npx tsx bench/ccid/run.ts

# make run with an emulated ACR1252U (contactless card on the PICC interface, contact card in the SAM slot)
# hosted by the daemon behind the emulated USB binding (emulators/ccid, README "USB CCID readers").
.PHONY: run-ccid
run-ccid:
	SCARDGATE_DRIVERS_CCID_EMULATE='[{"profile":"acr1252u","cards":[{"interface":0,"slot":0,"card":"iso14443-4"},{"interface":1,"slot":0,"card":"iso7816"}]}]' $(MAKE) --no-print-directory run

# A fleet of gateways on a bridged Mosquitto pair (site -> central), both brokers restarted (issue 16):
# FLEET_N (default 200), FLEET_TAP_MS, FLEET_OUTAGE_S. Ends with one JSON line.
.PHONY: bench-fleet
bench-fleet: npm-deps
	npx tsx bench/fleet/run.ts

# Hostile clients (issue 16): an MQTT request flood against a well-behaved client's latency and the gateway's memory.
# N requests x ROUNDS, IDLE_MS idle afterwards. Ends with one JSON line.
.PHONY: bench-hostile
bench-hostile: npm-deps
	npx tsx bench/hostile/mqtt-flood.ts

# Power cuts on the event outbox, long version (issue 16): 100 SIGKILLs during write bursts, each followed by the
# loss of the unsynced tail of the last segment. The short version (6) is part of make test.
.PHONY: powercut
powercut: npm-deps
	POWERCUT_ROUNDS=100 npx tap --timeout=1200 test/events/power-cut.test.ts

# Soak (issue 16; benchmark-style, not part of make test): the daemon under mixed load on every frontend with faults on
# a schedule. SOAK_MINUTES (default 10), SOAK_FAULT_S (default 45). Ends with one JSON line.
.PHONY: soak
soak: npm-deps deb-deps
	npx tsx bench/soak/run.ts

# OSDP: card tap -> osdp_RAW latency at 9600/115200 against the wire-time bound; secure polls/s per PD.
.PHONY: bench-osdp
bench-osdp: npm-deps
	npx tsx bench/osdp/run.ts

# The daemon's memory idle / after load / after idle, per frontend (pcsc, MQTT, HTTP), lean and whole gateway.
.PHONY: bench-pcsc-memory
bench-pcsc-memory: build
	DAEMON_NODE_FLAGS='$(DAEMON_NODE_FLAGS)' DAEMON_ENV='$(DAEMON_ENV)' npx tsx bench/pcsc/memory.ts

# The memory-trim addon (src/daemon/native/memory_trim.cc): once idle after a load the daemon asks V8 for its
# memory-reducing collection and hands glibc's freed pages back (src/daemon/heap-trim.ts). C++ for V8's API,
# built like sd_notify.node; without it only a plain full collection runs.
CXX ?= c++
native: dist/native/memory_trim.node
dist/native/memory_trim.node: src/daemon/native/memory_trim.cc
	@if [ -z "$(NODE_INCLUDE)" ] || ! command -v $(CXX) >/dev/null; then \
	  echo "note: not building $@ (needs a C++ compiler and Node's headers, node_api.h and v8.h)"; \
	else mkdir -p $(@D) && $(CXX) -shared -fPIC -O2 -Wall -Wextra -Wno-unused-parameter -std=c++17 -I$(NODE_INCLUDE) -o $@ $<; fi
