# Redis: apt package, daemonized, loopback only. Sourced by scripts/brokers.sh.

REDIS_DIR_NAME=redis

redis_answers() {
  # Speaks RESP over /dev/tcp so the check works before redis-cli is installed.
  timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$REDIS_PORT; printf 'PING\r\n' >&3; read -r line <&3; [[ \$line == +PONG* ]]" 2>/dev/null
}

redis_install() { apt_install redis-server redis-tools; }

redis_booted() {
  local pid="$1" dir="$2"
  if ! pid_alive "$pid"; then
    rm -f "$dir/redis.pid"
    show_log_tail redis "$dir/redis.log" "$dir/redis.out"
    die redis "redis-server exited during start-up"
  fi
  redis_answers
}

redis_start() {
  local dir t0 pid
  dir="$(broker_dir $REDIS_DIR_NAME)"
  if redis_answers; then
    if live_pid "$dir/redis.pid" >/dev/null; then say redis "already running (ours) on $HOST:$REDIS_PORT"
    else say redis "already answering on $HOST:$REDIS_PORT (not started by this script): reusing it"; fi
    return 0
  fi
  redis_install
  mkdir -p "$dir/data"
  rm -f "$dir/redis.pid"
  # A fresh log per start, so a failure shows this start's lines only.
  [[ -f "$dir/redis.log" ]] && mv -f "$dir/redis.log" "$dir/redis.log.1"
  local tls_args=()
  if flag_on "${REDIS_TLS:-}"; then
    ensure_tls || die redis "could not create TLS certificates (scripts/brokers/tls.sh)"
    tls_args=(--tls-port "$REDIS_TLS_PORT" --tls-cert-file "$TLS_DIR/server.pem" --tls-key-file "$TLS_DIR/server.key"
      --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients optional)
  fi
  t0=$(now_ms)
  # No save points and no AOF: tests want speed. `restart` forces one RDB snapshot
  # (SAVE before stopping) so data survives a restart, like a persisted production Redis.
  # Not --daemonize: with a child of our own, a server that aborts (port taken) fails fast.
  setsid redis-server --daemonize no --bind "$HOST" --port "$REDIS_PORT" \
    --dir "$dir/data" --dbfilename dump.rdb --save "" --appendonly no \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "${tls_args[@]}" ${REDIS_EXTRA_ARGS:-} \
    </dev/null >>"$dir/redis.out" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$dir/redis.pid"
  if ! wait_until 20 redis_booted "$pid" "$dir"; then
    show_log_tail redis "$dir/redis.log"
    die redis "not answering PING on $HOST:$REDIS_PORT after 20 s"
  fi
  say redis "ready on $HOST:$REDIS_PORT${tls_args:+ (TLS on $REDIS_TLS_PORT)} in $(elapsed "$t0")"
}

# $1 = save|nosave
redis_stop() {
  local dir="$BROKERS_DIR/$REDIS_DIR_NAME" pid mode="${1:-nosave}"
  if ! pid="$(live_pid "$dir/redis.pid")"; then
    say redis "not started by this script: nothing to stop"
    return 0
  fi
  # SHUTDOWN SAVE writes the snapshot `restart` reloads. The pid check above makes sure the server on
  # this port is ours; TERM/KILL by PID remains the fallback.
  [[ $mode == save ]] || rm -f "$dir/data/dump.rdb"
  redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown "$mode" >/dev/null 2>&1 || true
  local i
  for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.02; done
  stop_pid "$pid" 20
  [[ $mode == save ]] || rm -f "$dir/data/dump.rdb"
  rm -f "$dir/redis.pid"
  say redis "stopped (pid $pid)"
}

redis_status() {
  local dir="$BROKERS_DIR/$REDIS_DIR_NAME" pid
  if redis_answers; then
    if pid="$(live_pid "$dir/redis.pid")"; then say redis "up on $HOST:$REDIS_PORT (pid $pid, ours)$(extra_listener_note REDIS_TLS_PORT "TLS")"
    else say redis "up on $HOST:$REDIS_PORT (not started by this script)$(extra_listener_note REDIS_TLS_PORT "TLS")"; fi
  else
    say redis "down ($HOST:$REDIS_PORT not answering) - start: npm run brokers -- start redis"
    return 1
  fi
}

redis_logs() { echo "$BROKERS_DIR/$REDIS_DIR_NAME/redis.log"; }
