# Redis: apt package, daemonized, loopback only. Sourced by scripts/brokers.sh.

REDIS_DIR_NAME=redis

redis_answers() {
  # Speaks RESP over /dev/tcp so the check works before redis-cli is installed.
  timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$REDIS_PORT; printf 'PING\r\n' >&3; read -r line <&3; [[ \$line == +PONG* ]]" 2>/dev/null
}

redis_install() { apt_install redis-server redis-tools; }

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
  local tls_args=()
  if flag_on "${REDIS_TLS:-}"; then
    ensure_tls || die redis "could not create TLS certificates (scripts/brokers/tls.sh)"
    tls_args=(--tls-port "$REDIS_TLS_PORT" --tls-cert-file "$TLS_DIR/server.pem" --tls-key-file "$TLS_DIR/server.key"
      --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients optional)
  fi
  t0=$(now_ms)
  # No save points and no AOF: tests want speed. `restart` forces one RDB snapshot
  # (SHUTDOWN SAVE) so data survives a restart, like a persisted production Redis.
  redis-server --daemonize yes --bind "$HOST" --port "$REDIS_PORT" \
    --dir "$dir/data" --dbfilename dump.rdb --save "" --appendonly no \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "${tls_args[@]}" ${REDIS_EXTRA_ARGS:-} 8>&- 9>&- ||
    { show_log_tail redis "$dir/redis.log"; die redis "redis-server failed to start"; }
  if ! wait_until 20 redis_answers; then
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
  if [[ $mode == save ]]; then
    # Synchronous snapshot before the TERM so restart finds the data.
    redis-cli -h "$HOST" -p "$REDIS_PORT" save >/dev/null 2>&1 || true
  else
    rm -f "$dir/data/dump.rdb"
  fi
  stop_pid "$pid" 20
  [[ $mode == save ]] || rm -f "$dir/data/dump.rdb"
  rm -f "$dir/redis.pid"
  say redis "stopped (pid $pid)"
}

redis_status() {
  local dir="$BROKERS_DIR/$REDIS_DIR_NAME" pid
  if redis_answers; then
    if pid="$(live_pid "$dir/redis.pid")"; then say redis "up on $HOST:$REDIS_PORT (pid $pid, ours)"
    else say redis "up on $HOST:$REDIS_PORT (not started by this script)"; fi
  else
    say redis "down ($HOST:$REDIS_PORT not answering) - start: npm run brokers -- start redis"
    return 1
  fi
}

redis_logs() { echo "$BROKERS_DIR/$REDIS_DIR_NAME/redis.log"; }
