# Squall — developer entry points. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Debian's Rust 1.63 is the one that targets wasm here (see TOOLCHAINS); rustup's
# cargo, rustc and rustdoc come first on PATH, so name Debian's explicitly.
RUST := RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc /usr/bin/cargo
FUZZTIME ?= 10s
BENCHTIME ?= 2s

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install what the build and tests need (Go toolchain check, modules)
	@scripts/setup.sh

.PHONY: run
run: setup ## Run squall dev with the wordcount example (data in ./.squall; Ctrl-C stops)
	@# Built, then executed, so that Ctrl-C reaches squall alone and a clean stop exits 0.
	go build -o .tmp/bin/squall ./cmd/squall
	exec .tmp/bin/squall dev examples/wordcount/go

.PHONY: test
test: setup lint test-go test-sdk-go test-sdk-rust test-sdk-python test-sdk-typescript test-examples bench-short fuzz-short ## Everything CI runs: lint, all tests, SDK tests, a short bench run, short fuzzing
	@echo "make test: all checks passed"

.PHONY: test-go
test-go: ## Run the Go test suite (race detector on the concurrent packages)
	go test -count=1 -timeout 20m ./...
	go test -count=1 -race -short -timeout 20m ./storage/... ./internal/engine/...

.PHONY: test-sdk-go
test-sdk-go: ## Lint and test the Go guest SDK (its own module, zero dependencies)
	cd guest-sdks/go && go vet ./... && GOOS=wasip1 GOARCH=wasm go vet ./... && go run $(STATICCHECK) ./... && go test -count=1 ./...

.PHONY: test-examples
test-examples: ## Lint and test the Go example modules (each its own Go module)
	cd examples/wordcount/go && go vet ./... && GOOS=wasip1 GOARCH=wasm go vet ./... && go run $(STATICCHECK) ./... && go test -count=1 ./...
	cd examples/social/go && go vet ./... && GOOS=wasip1 GOARCH=wasm go vet ./... && go run $(STATICCHECK) ./... && go test -count=1 ./...
	cd examples/bank/go && go vet ./... && GOOS=wasip1 GOARCH=wasm go vet ./... && go run $(STATICCHECK) ./... && go test -count=1 ./...
	cd internal/bench/modules/eventlog && GOOS=wasip1 GOARCH=wasm go vet ./...

.PHONY: test-sdk-rust
test-sdk-rust: ## Test the Rust guest SDK and its example crates natively (cargo test)
	cd guest-sdks/rust && $(RUST) test --locked
	cd examples/wordcount/rust && $(RUST) test --locked
	cd examples/social/rust && $(RUST) test --locked
	cd examples/bank/rust && $(RUST) test --locked
	cd internal/conformance/modules/abi11/rust && $(RUST) test --locked

.PHONY: test-sdk-typescript
test-sdk-typescript: ## Test the TypeScript SDK and its example projects under Node (npm ci, tsc, node --test)
	cd guest-sdks/typescript && npm ci --no-audit --no-fund && npm test
	cd examples/wordcount/typescript && npm ci --no-audit --no-fund && npm test
	cd examples/social/typescript && npm ci --no-audit --no-fund && npm test
	cd internal/conformance/modules/conformance/typescript && npm ci --no-audit --no-fund && npm test

.PHONY: quickjs-runtime
quickjs-runtime: ## Build (or find in the cache) the QuickJS runtime that runs TypeScript modules
	@scripts/build-quickjs-runtime.sh
.PHONY: test-sdk-python
test-sdk-python: ## Test the Python guest SDK and the Python modules natively (pytest on CPython 3.11)
	cd guest-sdks/python && python3.11 -m pytest -q -p no:cacheprovider
	cd examples/wordcount/python && python3.11 -m pytest -q -p no:cacheprovider
	cd examples/social/python && python3.11 -m pytest -q -p no:cacheprovider
	cd internal/conformance/modules/conformance/python && python3.11 -m pytest -q -p no:cacheprovider
	cd examples/bank/python && python3.11 -m pytest -q -p no:cacheprovider && cd ../../../internal/conformance/modules/abi11/python && python3.11 -m pytest -q -p no:cacheprovider

.PHONY: python-runtime
python-runtime: ## Build the CPython 3.11 WASI runtime of Python modules (cached in ~/.cache/squall/python)
	scripts/build-python-runtime.sh

.PHONY: lint
lint: ## gofmt, go vet, staticcheck, go mod tidy drift
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...
	scripts/generate.sh --check
	@cp go.mod /tmp/squall-go.mod.bak; cp go.sum /tmp/squall-go.sum.bak; go mod tidy; \
	  if ! git diff --quiet -- go.mod go.sum; then \
	    git diff -- go.mod go.sum; cp /tmp/squall-go.mod.bak go.mod; cp /tmp/squall-go.sum.bak go.sum; \
	    echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit"; exit 1; fi

.PHONY: generate
generate: ## Regenerate api/ from proto/ (pinned buf and plugins via go run)
	scripts/generate.sh

.PHONY: fuzz-short
fuzz-short: ## Run every fuzz target for FUZZTIME (default 10s) each
	@scripts/fuzz.sh $(FUZZTIME)

.PHONY: bench-api
bench-api: setup ## The API against redis-server (unary and batch appends, SelectOne vs GET)
	go test -run '^$$' -bench . -benchtime $(BENCHTIME) -count 1 ./internal/apibench | tee bench-api.out

.PHONY: bench-short
bench-short: setup ## squall bench --short: every scenario with small sizes, to prove the harness works (no timing checked)
	go build -o .tmp/bin/squall ./cmd/squall
	.tmp/bin/squall bench --short --out .tmp/bench-short

.PHONY: bench-report
bench-report: setup ## squall bench (full): the comparison report in docs/benchmarks/ (6–10 minutes)
	go build -o .tmp/bin/squall ./cmd/squall
	.tmp/bin/squall bench --out docs/benchmarks

.PHONY: bench
bench: setup ## The benchmarks behind docs/benchmarks.md, each with its baseline, into bench.out
	scripts/bench.sh