#!/usr/bin/env bash
# Usage: scripts/test-stress.sh [RUNS]
#
# Proves the suite does not fail by timing: runs `make test` RUNS times (default 5) in a row
# with two CPU-bound processes beside it (CI's machine is a noisy 2-core box), then the tests
# of everything PostgreSQL and RabbitMQ do asynchronously after a close or a kill (locks,
# notifications, the leader lease) 50 times each. Stops at the first failure. The burners are
# this script's own children and are killed by PID when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
burners=()
stop_burners() {
	for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${burners[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_burners EXIT
for _ in 1 2; do
	bash -c 'while :; do :; done' &
	burners+=("$!")
done
log() { echo "test-stress: $*" >&2; }
start=$SECONDS
for i in $(seq 1 "$runs"); do
	log "make test, run $i of $runs, with ${#burners[@]} CPU burners"
	t0=$SECONDS
	make test
	log "run $i passed in $((SECONDS - t0)) s"
done
log "lock, notify and lease tests, -count=50"
t0=$SECONDS
scripts/test-services.sh go test -race -count=50 -timeout 30m \
	-run 'TestNotifyModes|TestStopsCleanlyAndClearsIdle|TestOpenWriterKeepsPublisherAwake|TestSteadyWritesDoNotNotify|TestStandby|TestKeep|TestAcquire' \
	./migrations ./internal/publish ./internal/leader
log "-count=50 passed in $((SECONDS - t0)) s; all passed in $((SECONDS - start)) s"
