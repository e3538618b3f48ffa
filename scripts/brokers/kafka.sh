# Kafka 4.x KRaft single node from Maven Central jars (no Debian package exists).
# Sourced by scripts/brokers.sh.

KAFKA_DIR_NAME=kafka
KAFKA_HEAP="${KAFKA_HEAP:-512m}"

# ApiVersions v0 (api key 18, correlation id 1, null client id): any reply with our
# correlation id means the broker is serving requests, not just accepting TCP.
kafka_answers() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$KAFKA_PORT; printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff' >&3; head -c 8 <&3 | od -An -tx1 | tr -d ' \n' | grep -q '^........00000001\$'" 2>/dev/null
}

kafka_need_tools() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

# Jars are copied once per pom content; the download itself is cached in ~/.m2.
kafka_install() {
  local dir="$1" stamp t0
  stamp="$(sha256sum "$SCRIPTS_DIR/kafka/pom.xml" | cut -c1-16)"
  [[ -f "$dir/libs/.stamp-$stamp" ]] && return 0
  kafka_need_tools
  t0=$(now_ms)
  say kafka "fetching broker jars with Maven (cached in ~/.m2)"
  rm -rf "$dir/libs"
  if ! (cd "$SCRIPTS_DIR/kafka" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$dir/libs" >"$dir/mvn.log" 2>&1); then
    show_log_tail kafka "$dir/mvn.log"
    die kafka "mvn dependency:copy-dependencies failed (is Maven Central reachable?)"
  fi
  touch "$dir/libs/.stamp-$stamp"
  say kafka "jars ready in $(elapsed "$t0") ($(ls "$dir/libs" | wc -l) files)"
}

kafka_write_config() {
  local dir="$1" extra_listener="" extra_map="" sasl=""
  if flag_on "${KAFKA_SASL:-}"; then
    extra_listener=",SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT"
    extra_map=",SASL_PLAINTEXT:SASL_PLAINTEXT"
    sasl="sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_contractbus=\"contractbus-secret\" user_alice=\"alice-secret\";"
  fi
  sed -e "s#@HOST@#$HOST#g" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    -e "s#@DATA_DIR@#$dir/data#g" -e "s#@EXTRA_LISTENER@#$extra_listener#g" -e "s#@EXTRA_MAP@#$extra_map#g" \
    "$SCRIPTS_DIR/kafka/server.properties.in" >"$dir/server.properties"
  [[ -z "$sasl" ]] || printf '%s\n' "$sasl" >>"$dir/server.properties"
}

kafka_java() {
  local dir="$1"
  shift
  java -Dlog4j2.configurationFile="file:$SCRIPTS_DIR/kafka/log4j2.properties" -Dkafka.logs.dir="$dir/log" \
    -Djava.awt.headless=true -cp "$dir/libs/*" "$@"
}

kafka_start() {
  local dir t0 pid
  dir="$(broker_dir $KAFKA_DIR_NAME)"
  if kafka_answers; then
    if live_pid "$dir/kafka.pid" >/dev/null; then say kafka "already running (ours) on $HOST:$KAFKA_PORT"
    else say kafka "already answering on $HOST:$KAFKA_PORT (not started by this script): reusing it"; fi
    return 0
  fi
  if pid="$(live_pid "$dir/kafka.pid")"; then
    # Ours but not answering (e.g. still booting from an interrupted start): start clean.
    say kafka "pid $pid is not answering: stopping it first"
    stop_pid "$pid" 30
  fi
  kafka_install "$dir"
  mkdir -p "$dir/log" "$dir/data"
  kafka_write_config "$dir"
  t0=$(now_ms)
  # Formatting is a JVM start of its own (~2 s): only for a new data dir.
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    [[ -s "$dir/cluster-id" ]] || kafka_java "$dir" kafka.tools.StorageTool random-uuid >"$dir/cluster-id" 2>>"$dir/log/format.log"
    if ! kafka_java "$dir" kafka.tools.StorageTool format --standalone --ignore-formatted \
      -t "$(cat "$dir/cluster-id")" -c "$dir/server.properties" >>"$dir/log/format.log" 2>&1; then
      show_log_tail kafka "$dir/log/format.log"
      die kafka "formatting the KRaft data dir failed"
    fi
  fi
  # A fresh log per start: an old "Kafka Server started" line must not count as ready.
  [[ -f "$dir/log/server.log" ]] && mv -f "$dir/log/server.log" "$dir/log/server.log.1"
  : >"$dir/log/server.out"
  # Fixed heap: a dev broker on a shared 2-core box should not grow or shrink.
  setsid java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Dlog4j2.configurationFile="file:$SCRIPTS_DIR/kafka/log4j2.properties" -Dkafka.logs.dir="$dir/log" \
    -Djava.awt.headless=true -cp "$dir/libs/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/log/server.out" 2>&1 8>&- 9>&- &
  echo $! >"$dir/kafka.pid"
  pid=$!
  if ! wait_until "${KAFKA_START_TIMEOUT:-120}" kafka_ready "$dir" "$pid"; then
    show_log_tail kafka "$dir/log/server.log" "$dir/log/server.out"
    pid_alive "$pid" && stop_pid "$pid" 10
    rm -f "$dir/kafka.pid"
    die kafka "not ready on $HOST:$KAFKA_PORT after ${KAFKA_START_TIMEOUT:-120} s"
  fi
  # The first group join on a new broker creates __consumer_offsets; doing it here keeps
  # "The coordinator is loading" retries out of the first test that uses a consumer group.
  wait_until 30 kafka_group_coordinator_ready || say kafka "warning: group coordinator not ready after 30 s"
  say kafka "ready on $HOST:$KAFKA_PORT$(flag_on "${KAFKA_SASL:-}" && echo " (SASL/PLAIN on $KAFKA_SASL_PORT)") in $(elapsed "$t0") (KRaft, controller $HOST:$KAFKA_CONTROLLER_PORT)"
}

# FindCoordinator v1 for group "contractbus-warmup": error code 0 once the coordinator is loaded.
kafka_group_coordinator_ready() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$KAFKA_PORT; printf '\x00\x00\x00\x1f\x00\x0a\x00\x01\x00\x00\x00\x02\xff\xff\x00\x12contractbus-warmup\x00' >&3; head -c 14 <&3 | od -An -tx1 | tr -d ' \n' | grep -q '0000\$'" 2>/dev/null
}

# Ready = the log says so AND a request gets an answer; a dead JVM fails fast.
kafka_ready() {
  local dir="$1" pid="$2"
  if ! pid_alive "$pid"; then
    show_log_tail kafka "$dir/log/server.log" "$dir/log/server.out"
    die kafka "the broker process exited during start-up"
  fi
  grep -q 'Kafka Server started' "$dir/log/server.log" 2>/dev/null && kafka_answers
}

kafka_stop() {
  local dir="$BROKERS_DIR/$KAFKA_DIR_NAME" pid
  if ! pid="$(live_pid "$dir/kafka.pid")"; then
    say kafka "not started by this script: nothing to stop"
    return 0
  fi
  # SIGTERM runs Kafka's controlled shutdown, which flushes logs and the metadata.
  stop_pid "$pid" 60
  rm -f "$dir/kafka.pid"
  say kafka "stopped (pid $pid)"
}

kafka_status() {
  local dir="$BROKERS_DIR/$KAFKA_DIR_NAME" pid
  if kafka_answers; then
    if pid="$(live_pid "$dir/kafka.pid")"; then say kafka "up on $HOST:$KAFKA_PORT (pid $pid, ours)$(extra_listener_note KAFKA_SASL_PORT "SASL/PLAIN")"
    else say kafka "up on $HOST:$KAFKA_PORT (not started by this script)$(extra_listener_note KAFKA_SASL_PORT "SASL/PLAIN")"; fi
  else
    say kafka "down ($HOST:$KAFKA_PORT not answering) - start: npm run brokers -- start kafka"
    return 1
  fi
}

kafka_logs() { echo "$BROKERS_DIR/$KAFKA_DIR_NAME/log/server.log"; }
