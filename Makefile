# scardgate — every entry point a newcomer or CI needs.
SHELL := /bin/bash
NODE ?= node
NPM ?= npm
# Debian packages the tests talk to (real parts, not mocks).
DEB_PACKAGES := mosquitto mosquitto-clients socat pcscd pcsc-tools opensc python3-pyscard \
  python3-virtualsmartcard python3-pycryptodome libpcsclite-dev chromium gcc make systemd

.PHONY: all deps npm-deps deb-deps build lint typecheck test run clean

all: build

node_modules/.package-lock.json: package.json package-lock.json
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
	$(NPM) run build --silent

typecheck: npm-deps
	npx tsc --noEmit -p .

lint: npm-deps
	npx eslint .

# The whole test suite on a fresh machine: installs what it needs, type-checks, lints, tests.
test: deps build lint
	npx tap

# The gateway on its embedded default: simulated readers, built-in broker, web UI.
run: npm-deps build
	$(NODE) dist/src/bin/scardgated.js --config config/default.yaml

clean:
	rm -rf dist .tap
