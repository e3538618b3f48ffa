#!/usr/bin/env bash
# Real Redis, RabbitMQ and Kafka on 127.0.0.1 for development and CI, without Docker.
#
#   npm run brokers -- start [redis|rabbitmq|kafka|all]   install what is missing, start, wait until ready
#   npm run brokers -- stop [name|all]                      stop what this script started (by PID)
#   npm run brokers -- status [name|all]                    exit 1 if any is down
#   npm run brokers -- restart <name>                       stop + start, data kept
#   npm run brokers -- logs <name>                          last lines of the broker log
#   npm run brokers -- clean [name|all]                     stop and delete data
#
# Data, logs and pid files live in .brokers/<name>/ (gitignored). A broker already
# answering on its port is reused and never stopped by this script.
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=brokers/lib.sh
source "$REPO_ROOT/scripts/brokers/lib.sh"
source "$REPO_ROOT/scripts/brokers/redis.sh"
source "$REPO_ROOT/scripts/brokers/rabbitmq.sh"
source "$REPO_ROOT/scripts/brokers/kafka.sh"

ALL=(redis rabbitmq kafka)

usage() {
  sed -n '3,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}

# Sets NAMES from the arguments (none or "all" = every broker); exits 2 on a typo.
names_from() {
  NAMES=()
  if (($# == 0)) || [[ $1 == all ]]; then
    NAMES=("${ALL[@]}")
    return
  fi
  local n
  for n in "$@"; do
    case "$n" in
      redis | rabbitmq | kafka) NAMES+=("$n") ;;
      rabbit) NAMES+=(rabbitmq) ;;
      *) echo "unknown broker '$n' (expected redis, rabbitmq, kafka or all)" >&2; exit 2 ;;
    esac
  done
}

# Each broker starts in its own background job; apt is serialised inside apt_install.
# Output goes to a per-broker file and is replayed in order, so logs do not interleave.
start_many() {
  local names=("$@") n t0 failed=()
  local -A pids=()
  mkdir -p "$BROKERS_DIR"
  t0=$(now_ms)
  # Once, before the parallel starts, so two brokers never race to write the same files.
  if tls_wanted; then
    command -v openssl >/dev/null || apt_install openssl
    bash "$REPO_ROOT/scripts/brokers/tls.sh" >/dev/null || return 1
  fi
  if ((${#names[@]} == 1)) || [[ -n "${BROKERS_SERIAL:-}" ]]; then
    for n in "${names[@]}"; do
      (with_broker_lock "$n" "${n}_start") || failed+=("$n")
    done
  else
    for n in "${names[@]}"; do
      (with_broker_lock "$n" "${n}_start" >"$BROKERS_DIR/.start-$n.out" 2>&1) &
      pids[$n]=$!
    done
    for n in "${names[@]}"; do
      wait "${pids[$n]}" || failed+=("$n")
      cat "$BROKERS_DIR/.start-$n.out"
      rm -f "$BROKERS_DIR/.start-$n.out"
    done
  fi
  if ((${#failed[@]})); then
    printf '[brokers] FAILED to start: %s (logs: npm run brokers -- logs <name>)\n' "${failed[*]}" >&2
    return 1
  fi
  say all "${names[*]} ready in $(elapsed "$t0")"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  start)
    names_from "$@"
    start_many "${NAMES[@]}"
    ;;
  stop)
    names_from "$@"
    # In parallel: RabbitMQ's graceful stop and Kafka's controlled shutdown take seconds each.
    for n in "${NAMES[@]}"; do (with_broker_lock "$n" "${n}_stop") & done
    wait
    ;;
  status)
    names_from "$@"
    rc=0
    for n in "${NAMES[@]}"; do "${n}_status" || rc=1; done
    exit $rc
    ;;
  restart)
    (($# == 1)) && [[ $1 != all ]] || { echo "usage: restart <redis|rabbitmq|kafka>" >&2; exit 2; }
    names_from "$1"
    n="${NAMES[0]}"
    t0=$(now_ms)
    restart_one() {
      if [[ $n == redis ]]; then redis_stop save; else "${n}_stop"; fi
      if "${n}_status" >/dev/null 2>&1; then
        # A restart that silently did nothing would make fault tests lie.
        echo "[brokers:$n] ERROR: still answering after stop: it was not started by this script (no pid file in .brokers/$n), so it cannot be restarted. Stop it yourself, then: npm run brokers -- start $n" >&2
        exit 3
      fi
      "${n}_start"
    }
    (with_broker_lock "$n" restart_one) || exit $?
    say "$n" "restarted in $(elapsed "$t0")"
    ;;
  logs)
    (($# == 1)) || { echo "usage: logs <redis|rabbitmq|kafka>" >&2; exit 2; }
    names_from "$1"
    n="${NAMES[0]}"
    f="$("${n}_logs")"
    [[ -f "$f" ]] || { echo "no log yet at $f" >&2; exit 1; }
    tail -n "${LINES_TO_SHOW:-100}" "$f"
    ;;
  clean)
    names_from "$@"
    for n in "${NAMES[@]}"; do
      (with_broker_lock "$n" "${n}_stop")
      # Keeps Kafka's downloaded jars (libs/): only data, logs and config go.
      [[ -d "$BROKERS_DIR/$n" ]] && find "${BROKERS_DIR:?}/$n" -mindepth 1 -maxdepth 1 ! -name libs -exec rm -rf {} +
      say "$n" "data deleted"
    done
    ;;
  -h | --help | help) usage 0 ;;
  *) usage 2 ;;
esac
