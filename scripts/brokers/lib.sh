# Shared helpers for scripts/brokers/*.sh. Sourced, never executed.
# Everything a broker writes lives under $BROKERS_DIR (repo-local, gitignored).

REPO_ROOT="${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
BROKERS_DIR="${CONTRACTBUS_BROKERS_DIR:-$REPO_ROOT/.brokers}"
SCRIPTS_DIR="$REPO_ROOT/scripts/brokers"
HOST=127.0.0.1

# Port of a URL or host:port ("redis://:pw@127.0.0.1:6380/0", "127.0.0.1:9092,x:1"), else $2.
# Lets the script and the tests share one set of env vars: REDIS_URL, AMQP_URL, KAFKA_BROKERS.
port_of() {
  local u="${1%%,*}"
  u="${u#*://}"
  u="${u##*@}"
  u="${u%%/*}"
  u="${u%%\?*}"
  if [[ $u == *:* && ${u##*:} =~ ^[0-9]+$ ]]; then echo "${u##*:}"; else echo "$2"; fi
}

REDIS_PORT="${REDIS_PORT:-$(port_of "${REDIS_URL:-}" 6379)}"
RABBITMQ_PORT="${RABBITMQ_PORT:-$(port_of "${AMQP_URL:-}" 5672)}"
KAFKA_PORT="${KAFKA_PORT:-$(port_of "${KAFKA_BROKERS:-}" 9092)}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"

# Extra listeners for TLS/SASL tests (see scripts/brokers/README.md): Redis TLS, AMQPS,
# Kafka SASL_PLAINTEXT (PLAIN and SCRAM users) plus SASL_SSL and mutual-TLS SSL listeners.
# On by default: measured at well under a second of extra start time (noise level).
# BROKERS_EXTRA_LISTENERS=0 turns them all off; REDIS_TLS / RABBITMQ_TLS / KAFKA_SASL / KAFKA_TLS=0|1 one each.
if [[ "${BROKERS_EXTRA_LISTENERS:-1}" != 0 ]]; then
  REDIS_TLS="${REDIS_TLS:-1}" RABBITMQ_TLS="${RABBITMQ_TLS:-1}" KAFKA_SASL="${KAFKA_SASL:-1}" KAFKA_TLS="${KAFKA_TLS:-1}"
fi
REDIS_TLS_PORT="${REDIS_TLS_PORT:-$(port_of "${REDIS_TLS_URL:-}" 6380)}"
RABBITMQ_TLS_PORT="${RABBITMQ_TLS_PORT:-$(port_of "${AMQPS_URL:-}" 5671)}"
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-$(port_of "${KAFKA_SASL_BROKERS:-}" 9094)}"
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-$(port_of "${KAFKA_SASL_SSL_BROKERS:-}" 9095)}"
KAFKA_SSL_PORT="${KAFKA_SSL_PORT:-$(port_of "${KAFKA_SSL_BROKERS:-}" 9096)}"
flag_on() { [[ -n "${1:-}" && "$1" != 0 ]]; }
tls_wanted() { flag_on "${REDIS_TLS:-}" || flag_on "${RABBITMQ_TLS:-}" || flag_on "${KAFKA_TLS:-}"; }
TLS_DIR="$BROKERS_DIR/tls"
# For single-broker starts/restarts; parallel starts generate the files once beforehand.
ensure_tls() { [[ -s "$TLS_DIR/server.pem" ]] || bash "$SCRIPTS_DIR/tls.sh" >/dev/null; }

# ", TLS on 6380" when that extra listener accepts connections (for status lines).
extra_listener_note() {
  local port="${!1}"
  tcp_open "$port" && echo ", $2 on $port"
}

# Wall-clock milliseconds; bash 5 has EPOCHREALTIME, which costs no fork.
now_ms() { local t="${EPOCHREALTIME/./}"; echo "${t:0:${#t}-3}"; }
elapsed() { local ms=$(($(now_ms) - $1)); printf '%d.%03ds' $((ms / 1000)) $((ms % 1000)); }

# Every line names the broker, so parallel starts stay readable.
say() { printf '[brokers:%s] %s\n' "$1" "${*:2}"; }
die() { printf '[brokers:%s] ERROR: %s\n' "$1" "${*:2}" >&2; exit 1; }

broker_dir() { mkdir -p "$BROKERS_DIR/$1" && echo "$BROKERS_DIR/$1"; }

# Runs "$@" holding .brokers/<name>/.lock, so concurrent start/stop/restart calls (e.g. two
# fault tests, or a test and a person) never run two brokers on one data dir. Call it in a
# subshell: the lock lives as long as fd 9, so daemons are started with 8>&- 9>&- (fd 8 is apt's lock).
with_broker_lock() {
  local name="$1" dir
  shift
  dir="$(broker_dir "$name")"
  exec 9>"$dir/.lock"
  if ! flock -n 9; then
    say "$name" "waiting for another scripts/brokers.sh operation on $name to finish"
    flock -w "${BROKERS_LOCK_TIMEOUT:-300}" 9 || die "$name" "still locked after ${BROKERS_LOCK_TIMEOUT:-300} s: $dir/.lock"
  fi
  "$@"
}

# True when something accepts TCP connections on HOST:$1 within ~1 s.
tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

# kill -0 succeeds on a zombie: a broker that already exited but whose new parent (PID 1 in
# this sandbox) has not reaped it yet. Treat zombies as gone, or every stop waits seconds.
pid_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 0
  [[ $state != Z && $state != X ]]
}

# PID from a pid file, only if that process is still alive AND is what the file says it is:
# after a reboot or a long gap the number may belong to an unrelated process we must not kill.
live_pid() {
  local f="$1" pid pattern cmdline
  [[ -s "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] && pid_alive "$pid" || return 1
  case "${f##*/}" in
    kafka.pid) pattern='kafka\.Kafka' ;;
    redis.pid) pattern='redis-server' ;;
    rabbitmq.pid) pattern='rabbitmq-server' ;;
    beam.pid) pattern='beam|erl' ;;
    epmd.pid) pattern='epmd' ;;
    *) pattern='' ;;
  esac
  if [[ -n $pattern && -r /proc/$pid/cmdline ]]; then
    cmdline="$(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null)"
    [[ $cmdline =~ $pattern ]] || return 1
  fi
  echo "$pid"
}

# Sends SIGTERM to a PID we started, waits up to $2 seconds, then SIGKILL.
stop_pid() {
  local pid="$1" grace="${2:-20}" i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 50; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.02
  done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 250; i++)); do pid_alive "$pid" || return 0; sleep 0.02; done
}

# Polls "$@" until it succeeds or $1 seconds pass.
wait_until() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.1
  done
}

show_log_tail() {
  local name="$1" f
  shift
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    printf '[brokers:%s] ---- last 40 lines of %s ----\n' "$name" "$f" >&2
    tail -n 40 "$f" >&2
    # JVM stack traces can push the cause out of the tail: name it once more.
    if grep -q -E '(ERROR|FATAL|Caused by|Exception:|error:)' "$f"; then
      printf '[brokers:%s] ---- error lines in %s ----\n' "$name" "$f" >&2
      grep -E '(ERROR|FATAL|Caused by|Exception:|error:)' "$f" | grep -v -E '^\s+at ' | tail -n 8 | cut -c1-400 >&2
    fi
  done
}

# apt: one `apt-get update` only when a package has no install candidate, and the
# downloaded .debs kept in a cache dir that Docker-style images' clean hook leaves alone.
APT_ARCHIVES="${CONTRACTBUS_APT_ARCHIVES:-/var/cache/apt/contractbus-archives}"
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die apt "apt-get not found; install ${missing[*]} yourself"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
  mkdir -p "$APT_ARCHIVES/partial" 2>/dev/null || $sudo mkdir -p "$APT_ARCHIVES/partial"
  # Serialise apt between the parallel broker starts.
  exec 8>"$BROKERS_DIR/.apt.lock"
  flock 8
  missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  if ((${#missing[@]})); then
    local t0 opts=(-y -q -o "Dir::Cache::Archives=$APT_ARCHIVES" -o APT::Keep-Downloaded-Packages=true -o DPkg::Lock::Timeout=180 --no-install-recommends)
    t0=$(now_ms)
    for p in "${missing[@]}"; do
      if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        say apt "no install candidate for $p: apt-get update"
        $sudo apt-get -o DPkg::Lock::Timeout=180 update -q >/dev/null
        break
      fi
    done
    say apt "installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install "${opts[@]}" "${missing[@]}" >"$BROKERS_DIR/apt.log" 2>&1; then
      # A stale package list gives 404s for superseded .debs: refresh once and retry.
      say apt "install failed; apt-get update and retry"
      $sudo apt-get -o DPkg::Lock::Timeout=180 update -q >/dev/null
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install "${opts[@]}" "${missing[@]}" >"$BROKERS_DIR/apt.log" 2>&1 ||
        { show_log_tail apt "$BROKERS_DIR/apt.log"; flock -u 8; die apt "apt-get install ${missing[*]} failed"; }
    fi
    say apt "installed ${missing[*]} in $(elapsed "$t0")"
  fi
  flock -u 8
}
