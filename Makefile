# pgfanout developer tasks. `make` (or `make help`) lists them.
#
# Tests and benchmarks need PostgreSQL and RabbitMQ: scripts/test-services.sh
# uses PGFANOUT_TEST_PG_URL/PGFANOUT_TEST_AMQP_URL when both are set, otherwise
# starts private throwaway servers from the locally installed binaries.

.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

GO ?= go
SERVICES := scripts/test-services.sh
# v0.8.2 = staticcheck 2026.2.2, built for Go 1.26 (its go.mod says go 1.26.0);
# older releases fail to load packages of a newer Go version.
STATICCHECK_VERSION ?= v0.8.2
TEST_FLAGS ?= -race -count=1 -timeout 20m
BENCH_ARGS ?=
COMPOSE ?= docker compose

.PHONY: help build test test-stress chaos lint bench bench-capture bench-publisher bench-replicator bench-e2e bench-bootstrap up down demo clean

help: ## List targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build static bin/publisher and bin/replicator
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./publisher ./replicator

test: ## Run all tests with -race (starts private PostgreSQL/RabbitMQ if needed)
	$(SERVICES) $(GO) test $(TEST_FLAGS) ./...

test-stress: ## make test 5 times beside two CPU burners, then the lock/notify/lease tests 50 times
	scripts/test-stress.sh

# chaos starts its own private servers too. CHAOS_SEED replays a run; CHAOS_DURATION (default
# 8m here, 2m inside make test) is how long faults are injected.
chaos: ## Fault-injection suite: kills, restarts, network cuts under 4 writers, then verify (CHAOS_SEED, CHAOS_DURATION)
	CHAOS_DURATION=$${CHAOS_DURATION:-8m} $(GO) test -race -count=1 -timeout 30m -v -run TestChaos ./e2e/chaos/

lint: ## go vet, staticcheck and a gofmt check
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi

bench: bench-capture bench-publisher bench-replicator bench-e2e ## Run all benchmarks

bench-capture: ## Benchmark trigger capture on the source (BENCH_ARGS=... passes flags)
	$(SERVICES) $(GO) run ./bench/capture $(BENCH_ARGS)

bench-publisher: ## Benchmark publisher throughput
	$(SERVICES) $(GO) run ./bench/publisher $(BENCH_ARGS)

bench-replicator: ## Benchmark replicator apply throughput
	$(SERVICES) $(GO) run ./bench/replicator $(BENCH_ARGS)

# bench-e2e starts its own private servers (four PostgreSQL clusters, a RabbitMQ node): no
# SERVICES. BENCH_SCALE=0.1 scales its row counts and durations (about 15 min at 1).
bench-e2e: ## pgfanout end to end beside native logical replication (BENCH_SCALE, BENCH_ARGS=-phases ...)
	$(GO) run ./bench/e2e $(BENCH_ARGS)

# bench-bootstrap starts its own private servers too (two PostgreSQL clusters, a RabbitMQ node).
# BENCH_SCALE=0.1 copies a 100k-row table instead of 1M (about 10 min at 1).
bench-bootstrap: ## pgfanout's copy of a 1M-row table beside pg_dump | psql and native's initial copy (BENCH_SCALE, BENCH_ARGS)
	$(GO) run ./bench/bootstrap $(BENCH_ARGS)

up: ## Start the docker compose stack (source, rabbitmq, publisher, replica, replicator)
	$(COMPOSE) up -d --build

down: ## Stop the docker compose stack (volumes are kept; add -v by hand to drop them)
	$(COMPOSE) down

demo: ## Run the demo program
	$(GO) run ./demo

clean: ## Remove build and test outputs
	rm -rf bin/ coverage.out coverage.html *.test
