# Weir. `make demo` runs the clickstream example; `make test` runs every test.
GO      ?= go
BIN     := bin/weir
FUZZTIME ?=
export CGO_ENABLED = 1

.PHONY: build demo test unit fuzz e2e vet fmt-check bench bench-query bench-nexmark stress deps ui npm browser pydeps pgclient pgserver mosquitto minio javadeps clean

build: deps ui
	$(GO) build -o $(BIN) ./cmd/weir

demo: build
	./$(BIN) demo

# deps checks the toolchain the build needs (Go, and a C/C++ compiler for
# DuckDB) and installs the compilers with apt when they are missing.
deps:
	@command -v $(GO) >/dev/null || { echo "Go is required: https://go.dev/dl/"; exit 1; }
	@command -v gcc >/dev/null && command -v g++ >/dev/null || { \
		echo "installing gcc/g++ (DuckDB is a C++ library linked with cgo)"; \
		apt-get update -qq && apt-get install -y -qq gcc g++ >/dev/null; }

test: build fmt-check vet javadeps pgserver mosquitto minio unit fuzz e2e

# The dashboard's front-end packages (uPlot) come from npm, pinned in
# internal/ui/package-lock.json; their built files are copied into
# internal/ui/assets/vendor/, which the binary embeds (not committed).
UI_VENDOR := internal/ui/assets/vendor/uPlot.iife.min.js internal/ui/assets/vendor/uPlot.min.css
ui: $(UI_VENDOR)
$(UI_VENDOR): internal/ui/package-lock.json | npm
	cd internal/ui && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p internal/ui/assets/vendor
	cp internal/ui/node_modules/uplot/dist/uPlot.iife.min.js internal/ui/node_modules/uplot/dist/uPlot.min.css internal/ui/assets/vendor/

npm:
	@command -v npm >/dev/null || { \
		echo "installing Node.js and npm (the dashboard's chart library comes from npm)"; \
		apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }

# The dashboard test drives Debian's Chromium with Playwright (playwright-core
# from npm, pinned in test/browser/package-lock.json; it never downloads a browser).
browser: npm
	@[ -x /usr/bin/chromium ] || { \
		echo "installing Chromium (Debian package chromium; the dashboard test drives it)"; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@[ -d test/browser/node_modules/playwright-core ] || { cd test/browser && npm ci --no-audit --no-fund --loglevel=error; }

# The Kafka tests run a real broker on the JDK; its jars come from Maven
# Central (cached in ~/.cache/weir by internal/connect/kafka/kafkatest).
javadeps:
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
		echo "installing a JDK and Maven (the Kafka tests run a real broker)"; \
		apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null; }

# The Postgres sink (and CDC) tests run a real PostgreSQL server
# (internal/connect/postgres/pgtest: initdb + postgres in a temp dir).
pgserver:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
		echo "installing PostgreSQL (Debian package postgresql; the Postgres sink tests run a real server)"; \
		apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }

# The object-store tests run a real S3-compatible server: MinIO, built from
# the Go module proxy (about 3 minutes on 2 cores) into ~/.cache/weir/bin
# once, and run as its own process by internal/s3test.
MINIO_VERSION ?= v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_BIN := $(HOME)/.cache/weir/bin/minio
minio:
	@[ -x $(MINIO_BIN) ] || { \
		echo "building MinIO $(MINIO_VERSION) (the object-store tests run a real S3 server)"; \
		mkdir -p $(dir $(MINIO_BIN)) && GOBIN=$(dir $(MINIO_BIN)) $(GO) install github.com/minio/minio@$(MINIO_VERSION); }

# The MQTT source tests run a real broker (internal/connect/mqtt/mqtttest).
mosquitto:
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { \
		echo "installing Mosquitto (Debian package mosquitto; the MQTT tests run a real broker)"; \
		apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null; }

fmt-check:
	@out=$$(gofmt -l cmd internal examples test bench 2>/dev/null); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./internal/... ./cmd/... ./bench/nexmark/

# Brief runs of every fuzz target (corpora live in testdata/fuzz). They run
# for a count of executions, not a duration: with a duration, Go 1.26's fuzz
# coordinator can race its own deadline on a loaded machine and fail with a
# bare "context deadline exceeded" (golang/go#75804, fixed in Go 1.27).
# `make fuzz FUZZTIME=60s` runs each target longer.
fz = $(if $(FUZZTIME),$(FUZZTIME),$(1))
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(call fz,100000x) ./internal/schema/
	$(GO) test -run='^$$' -fuzz='^FuzzParseRFC3339Micros$$' -fuzztime=$(call fz,100000x) ./internal/schema/
	$(GO) test -run='^$$' -fuzz='^FuzzValidJSON$$' -fuzztime=$(call fz,100000x) ./internal/schema/
	$(GO) test -run='^$$' -fuzz='^FuzzUnquote$$' -fuzztime=$(call fz,50000x) ./internal/schema/
	$(GO) test -run='^$$' -fuzz='^FuzzIngest$$' -fuzztime=$(call fz,10000x) ./internal/gate/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(call fz,100000x) ./internal/sql/parse/
	$(GO) test -run='^$$' -fuzz='^FuzzSplit$$' -fuzztime=$(call fz,50000x) ./internal/pgwire/
	$(GO) test -run='^$$' -fuzz='^FuzzCSVFile$$' -fuzztime=$(call fz,10000x) ./internal/connect/inbox/

# pyiceberg reads our tables in the e2e test: proof the lake is open to other engines.
pydeps:
	@python3 -c 'import pyiceberg, pyarrow' 2>/dev/null || { \
		echo "installing pyiceberg and pyarrow from PyPI (the e2e test reads the lake with them)"; \
		python3 -m pip install -q pyiceberg pyarrow; }

# psql drives the node's Postgres protocol in the e2e test.
pgclient:
	@command -v psql >/dev/null || { \
		echo "installing psql (Debian package postgresql-client; the e2e test talks to the node with it)"; \
		apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null; }

e2e: build pydeps pgclient browser
	WEIR_BIN=$(abspath $(BIN)) $(GO) test -count=1 -v ./test/...

# Long versions of the reliability tests (results go into issue notes).
stress: build
	WEIR_T2_SEEDS=2000 $(GO) test -count=1 -run TestPowerLoss ./internal/gate/
	WEIR_T3_RUNS=0 $(GO) test -count=1 -run TestErrorSweep ./internal/gate/
	for i in 1 2 3 4 5 6 7 8 9 10; do WEIR_BIN=$(abspath $(BIN)) $(GO) test -count=1 -run TestCrashRecoveryExactlyOnce ./test/e2e/ || exit 1; done
	WEIR_MQTT_BURST=60s $(GO) test -count=1 -v -run TestFleetBurst ./internal/connect/mqtt/

bench: build
	$(GO) test -run='^$$' -bench=. -benchmem ./internal/schema/ ./internal/gate/ ./internal/lake/
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=3x -cpu=1 ./internal/stream/
	$(GO) run ./bench/ingest -bin $(abspath $(BIN))
	$(GO) run ./bench/views -bin $(abspath $(BIN))

# Ten dashboard queries over a QUERY_ROWS-row clickstream lake: weir
# (compacted, time-sorted, pruned) against plain DuckDB over the same rows
# in small unsorted files; results in bench/results/query.jsonl.
QUERY_ROWS ?= 50000000
bench-query:
	$(GO) run ./bench/query -rows $(QUERY_ROWS)

# Every Nexmark query there is SQL for, over NEXMARK_EVENTS events, into
# bench/nexmark/RESULTS.md (NEXMARK_PARALLELISM=2: RESULTS-p2.md).
NEXMARK_EVENTS ?= 10000000
NEXMARK_PARALLELISM ?= 1
NEXMARK_RESULTS = bench/nexmark/RESULTS$(if $(filter-out 1,$(NEXMARK_PARALLELISM)),-p$(NEXMARK_PARALLELISM)).md
bench-nexmark: build
	./$(BIN) bench nexmark run --query all --events $(NEXMARK_EVENTS) --parallelism $(NEXMARK_PARALLELISM) --results $(NEXMARK_RESULTS)

clean:
	rm -rf bin weir-data weir-demo-data internal/ui/assets/vendor
