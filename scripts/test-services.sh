#!/usr/bin/env bash
# Usage: scripts/test-services.sh COMMAND [ARGS...]
#
# Runs COMMAND with PGFANOUT_TEST_PG_URL and PGFANOUT_TEST_AMQP_URL pointing at
# a PostgreSQL server and a RabbitMQ broker.
#
# - Both variables already set: exec COMMAND unchanged (external services).
# - Otherwise start PRIVATE throwaway instances for whatever is missing
#   (PostgreSQL >= 13 via initdb/pg_ctl, RabbitMQ >= 3.10 via rabbitmq-server)
#   on free loopback ports inside a temp dir, run COMMAND, then stop exactly
#   the processes started here and delete the temp dir. Shared/system
#   instances are never touched: own ports, own epmd, own node name, own data.
# - Also exported: PGFANOUT_TEST_PG_BINDIR (dir with initdb/pg_ctl/postgres) and
#   PGFANOUT_TEST_RABBITMQ_SERVER (rabbitmq-server script), when found, so
#   tests can start further instances themselves.
#
# Exit status is COMMAND's (1 if the services could not be started).
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: $0 COMMAND [ARGS...]" >&2
	exit 2
fi

if [[ -n "${PGFANOUT_TEST_PG_URL:-}" && -n "${PGFANOUT_TEST_AMQP_URL:-}" ]]; then
	exec "$@"
fi

log() { echo "test-services: $*" >&2; }

# Everything this script creates lives in $tmp; cleanup() stops what was
# started (by PID / node name) and removes it.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pgfanout-test.XXXXXX")
chmod 755 "$tmp" # the postgres user must traverse it when we are root
mq_home=$tmp/mq/home # private HOME for Erlang: its own .erlang.cookie
mkdir -p "$mq_home"
pg_started="" mq_pid="" epmd_pid="" mq_node="" mq_ctl=""
mq_env=()

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $pg_started ]]; then
		as_pg "$pg_bindir/pg_ctl" -D "$tmp/pg" -m immediate -w -t 10 stop >/dev/null 2>&1 ||
			{ [[ -f $tmp/pg/postmaster.pid ]] && kill -KILL "$(head -n1 "$tmp/pg/postmaster.pid")" 2>/dev/null; } || true
	fi
	if [[ -n $mq_pid ]]; then
		# Graceful stop (waits for the VM to exit); the wrapper shell then exits.
		timeout 20 env "${mq_env[@]}" "$mq_ctl" -q -n "$mq_node" stop >/dev/null 2>&1 || true
		kill -TERM "$mq_pid" 2>/dev/null || true
		for _ in {1..50}; do kill -0 "$mq_pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$mq_pid" 2>/dev/null; then
			[[ -f $tmp/mq/pid ]] && kill -KILL "$(cat "$tmp/mq/pid")" 2>/dev/null
			kill -KILL "$mq_pid" 2>/dev/null
		fi
		wait "$mq_pid" 2>/dev/null || true
	fi
	if [[ -n $epmd_pid ]]; then
		kill -TERM "$epmd_pid" 2>/dev/null || true
		wait "$epmd_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- discovery

# Newest PostgreSQL >= 13 bin dir (PATH first, then Debian's versioned dirs).
find_pg_bindir() {
	local cands=() d best="" best_major=0 major
	if d=$(command -v pg_ctl 2>/dev/null); then cands+=("$(dirname "$(readlink -f "$d")")"); fi
	for d in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do [[ -d $d ]] && cands+=("$d"); done
	for d in "${cands[@]}"; do
		[[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
		# "pg_ctl (PostgreSQL) 15.20" -> 15
		major=$("$d/pg_ctl" --version 2>/dev/null | sed -n 's/.* \([0-9][0-9]*\)[.0-9]*.*/\1/p')
		[[ $major =~ ^[0-9]+$ ]] || continue
		if ((major >= 13 && major > best_major)); then best=$d best_major=$major; fi
	done
	[[ -n $best ]] && echo "$best"
}

# The real rabbitmq-server script (>= 3.10). Debian's /usr/sbin/rabbitmq-server
# is a wrapper that su's to the rabbitmq user and forces HOME=/var/lib/rabbitmq,
# which would share the system node's cookie and directories; bypass it.
find_rabbitmq_server() {
	local d s ver
	for s in "$(command -v rabbitmq-server 2>/dev/null || true)" \
		/usr/lib/rabbitmq/bin/rabbitmq-server /usr/sbin/rabbitmq-server /usr/local/sbin/rabbitmq-server; do
		[[ -n $s && -x $s ]] || continue
		s=$(readlink -f "$s")
		if [[ $(basename "$s") == rabbitmq-script-wrapper ]]; then
			s=$(readlink -f "$(dirname "$s")/rabbitmq-server")
		fi
		d=$(dirname "$s")
		[[ -x $s && -x $d/rabbitmqctl && $(basename "$s") == rabbitmq-server ]] || continue
		# rabbitmqctl version prints the CLI (= server) version without a node.
		# It still creates $HOME/.erlang.cookie, hence the private HOME.
		ver=$(HOME=$mq_home timeout 10 "$d/rabbitmqctl" version 2>/dev/null | tail -n1) || continue
		if [[ $ver =~ ^([0-9]+)\.([0-9]+) ]] &&
			((BASH_REMATCH[1] > 3 || (BASH_REMATCH[1] == 3 && BASH_REMATCH[2] >= 10))); then
			echo "$s"
			return
		fi
	done
}

need_pg=$([[ -z ${PGFANOUT_TEST_PG_URL:-} ]] && echo 1 || echo 0)
need_mq=$([[ -z ${PGFANOUT_TEST_AMQP_URL:-} ]] && echo 1 || echo 0)
pg_bindir=$(find_pg_bindir || true)
mq_server=$(find_rabbitmq_server || true)
epmd_bin=$(command -v epmd 2>/dev/null || true)
if [[ -z $epmd_bin ]] && erl=$(command -v erl 2>/dev/null); then
	epmd_bin=$(dirname "$(readlink -f "$erl")")/epmd # e.g. /usr/lib/erlang/bin
	[[ -x $epmd_bin ]] || epmd_bin=""
fi

missing=()
((need_pg)) && [[ -z $pg_bindir ]] && missing+=("PostgreSQL >= 13 server (initdb/pg_ctl)")
((need_mq)) && [[ -z $mq_server || -z $epmd_bin ]] && missing+=("rabbitmq-server >= 3.10")
if ((${#missing[@]})); then
	msg=${missing[0]}${missing[1]:+ and ${missing[1]}}
	echo "test-services: no $msg found; set PGFANOUT_TEST_PG_URL/PGFANOUT_TEST_AMQP_URL or apt-get install postgresql rabbitmq-server" >&2
	exit 1
fi
[[ -n $pg_bindir ]] && export PGFANOUT_TEST_PG_BINDIR=$pg_bindir
[[ -n $mq_server ]] && export PGFANOUT_TEST_RABBITMQ_SERVER=$mq_server

# ---------------------------------------------------------------- helpers

used_ports=" "
# A port nothing answers on at 127.0.0.1, outside Linux's ephemeral range
# (32768-60999) so outgoing connections are unlikely to grab it meanwhile.
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((10000 + RANDOM % 22000))
		[[ $used_ports == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			used_ports+="$p "
			echo "$p"
			return 0
		fi
	done
	return 1
}

# initdb/postgres refuse to run as root: drop to the postgres (or nobody) user.
pg_user=""
if [[ $(id -u) == 0 ]]; then
	pg_user=$(id -u postgres >/dev/null 2>&1 && echo postgres || echo nobody)
fi
as_pg() {
	if [[ -z $pg_user ]]; then "$@"
	elif command -v runuser >/dev/null; then runuser -u "$pg_user" -- "$@"
	else su -s /bin/sh "$pg_user" -c "$(printf '%q ' "$@")"
	fi
}

# fail MESSAGE LOGFILE...: report, show the logs' tails, exit 1 (cleanup runs).
fail() {
	log "$1; logs follow:"
	shift
	tail -n 30 "$@" >&2 2>/dev/null || true
	exit 1
}

# ---------------------------------------------------------------- RabbitMQ
# Started first (slowest, ~5 s) and awaited after PostgreSQL is up.
if ((need_mq)); then
	mq_dir=$(dirname "$mq_server")
	mq_ctl=$mq_dir/rabbitmqctl
	amqp_port=$(free_port) dist_port=$(free_port) epmd_port=$(free_port)
	mkdir -p "$tmp/mq/mnesia" "$tmp/mq/log"
	echo "[]." >"$tmp/mq/enabled_plugins" # no management plugin: no port 15672 clash
	cat >"$tmp/mq/rabbitmq.conf" <<-EOF
		listeners.tcp.1 = 127.0.0.1:$amqp_port
		log.console = false
		log.file.level = warning
	EOF
	: >"$tmp/mq/rabbitmq-env.conf" # ignore /etc/rabbitmq/rabbitmq-env.conf
	# Passed only to rabbitmq-server/rabbitmqctl, never to COMMAND (a changed
	# HOME would move Go's module and build caches).
	mq_node="pgfanout-test-$$@localhost"
	mq_env=(HOME="$mq_home" ERL_EPMD_PORT="$epmd_port" ERL_EPMD_ADDRESS=127.0.0.1
		RABBITMQ_NODENAME="$mq_node"
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$amqp_port" RABBITMQ_DIST_PORT="$dist_port"
		RABBITMQ_CONF_ENV_FILE="$tmp/mq/rabbitmq-env.conf"
		RABBITMQ_CONFIG_FILE="$tmp/mq/rabbitmq.conf"
		RABBITMQ_ADVANCED_CONFIG_FILE="$tmp/mq/advanced.config"
		RABBITMQ_ENABLED_PLUGINS_FILE="$tmp/mq/enabled_plugins"
		RABBITMQ_MNESIA_BASE="$tmp/mq/mnesia" RABBITMQ_LOG_BASE="$tmp/mq/log"
		RABBITMQ_PID_FILE="$tmp/mq/pid"
		ERL_CRASH_DUMP="$tmp/mq/log/erl_crash.dump") # not into the caller's cwd
	# Own epmd as our child, so it can be stopped by PID afterwards (one
	# auto-started by erl would daemonize and linger).
	"$epmd_bin" -port "$epmd_port" -address 127.0.0.1 </dev/null >/dev/null 2>&1 &
	epmd_pid=$!
	env "${mq_env[@]}" "$mq_server" </dev/null >"$tmp/mq/log/stdout.log" 2>&1 &
	mq_pid=$!
fi

# ---------------------------------------------------------------- PostgreSQL
if ((need_pg)); then
	pg_port=$(free_port)
	mkdir -p "$tmp/pg" && chmod 700 "$tmp/pg"
	[[ -n $pg_user ]] && chown "$pg_user" "$tmp/pg"
	as_pg "$pg_bindir/initdb" -D "$tmp/pg" -A trust -U postgres -E UTF8 --no-locale -N >"$tmp/initdb.log" 2>&1 ||
		fail "initdb failed" "$tmp/initdb.log"
	pg_started=1
	as_pg "$pg_bindir/pg_ctl" -D "$tmp/pg" -l "$tmp/pg/server.log" -w -t 30 -s start \
		-o "-p $pg_port -k $tmp/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 -c synchronous_commit=off -c full_page_writes=off" ||
		fail "PostgreSQL did not start" "$tmp/pg/server.log"
	export PGFANOUT_TEST_PG_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
fi

if ((need_mq)); then
	# await_startup needs the node to be registered; poll until it is, bail
	# out early if the server process died (port clash, bad config...).
	deadline=$((SECONDS + 60))
	until env "${mq_env[@]}" "$mq_ctl" -q -n "$mq_node" await_startup --timeout 60 >/dev/null 2>&1; do
		kill -0 "$mq_pid" 2>/dev/null || fail "rabbitmq-server exited" "$tmp"/mq/log/*.log
		((SECONDS < deadline)) || fail "RabbitMQ did not start within 60 s" "$tmp"/mq/log/*.log
		sleep 0.5
	done
	export PGFANOUT_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$amqp_port/"
fi

log "PostgreSQL ${PGFANOUT_TEST_PG_URL} RabbitMQ ${PGFANOUT_TEST_AMQP_URL} (ready after ${SECONDS}s)"

# Not exec: the EXIT trap must stop the services. Run in the foreground so
# Ctrl-C reaches COMMAND directly; its status becomes ours.
rc=0
"$@" || rc=$?
exit "$rc"
