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

# Test users on the SASL listeners (the same for PLAIN and SCRAM); nothing here is secret.
KAFKA_TEST_USERS=(contractbus:contractbus-secret alice:alice-secret)

kafka_write_config() {
  local dir="$1" extra_listener="" extra_map="" sasl="" plain_users="" u listener
  for u in "${KAFKA_TEST_USERS[@]}"; do plain_users+=" user_${u%%:*}=\"${u#*:}\""; done
  if flag_on "${KAFKA_SASL:-}"; then
    extra_listener+=",SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT"
    extra_map+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  if flag_on "${KAFKA_TLS:-}"; then
    # SASL over TLS, and mutual TLS (a client certificate signed by the test CA is the identity).
    extra_listener+=",SASL_SSL://$HOST:$KAFKA_SASL_SSL_PORT,SSL://$HOST:$KAFKA_SSL_PORT"
    extra_map+=",SASL_SSL:SASL_SSL,SSL:SSL"
    kafka_keystore "$dir"
    sasl+="ssl.keystore.type=PEM
ssl.keystore.location=$dir/keystore.pem
ssl.key.password=$KAFKA_KEY_PASSWORD
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
listener.name.ssl.ssl.client.auth=required
"
  fi
  if [[ -n "$extra_listener" ]]; then
    sasl+="sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
"
    for listener in sasl_plaintext sasl_ssl; do
      sasl+="listener.name.$listener.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;
listener.name.$listener.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$listener.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
"
    done
  fi
  sed -e "s#@HOST@#$HOST#g" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    -e "s#@DATA_DIR@#$dir/data#g" -e "s#@EXTRA_LISTENER@#$extra_listener#g" -e "s#@EXTRA_MAP@#$extra_map#g" \
    "$SCRIPTS_DIR/kafka/server.properties.in" >"$dir/server.properties"
  [[ -z "$sasl" ]] || printf '%s' "$sasl" >>"$dir/server.properties"
}

# Kafka reads a PEM keystore only with an encrypted key: the test server key, re-encrypted.
KAFKA_KEY_PASSWORD=contractbus-keystore
kafka_keystore() {
  local dir="$1"
  [[ -s "$dir/keystore.pem" && "$dir/keystore.pem" -nt "$TLS_DIR/server.pem" ]] && return 0
  ensure_tls
  { openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -passout "pass:$KAFKA_KEY_PASSWORD" -in "$TLS_DIR/server.key"
    cat "$TLS_DIR/server.pem"; } >"$dir/keystore.pem" || die kafka "could not write the PEM keystore"
  chmod 600 "$dir/keystore.pem"
}

# SCRAM credentials live in the KRaft metadata: written at format time for a new data dir,
# or once through the admin API for a data dir formatted before SCRAM was configured.
kafka_scram_args() {
  local u mech
  for u in "${KAFKA_TEST_USERS[@]}"; do
    for mech in SCRAM-SHA-256 SCRAM-SHA-512; do printf -- '--add-scram\n%s=[name=%s,password=%s]\n' "$mech" "${u%%:*}" "${u#*:}"; done
  done
}
kafka_ensure_scram_users() {
  local dir="$1" u
  [[ -f "$dir/data/.scram-users" ]] && return 0
  for u in "${KAFKA_TEST_USERS[@]}"; do
    kafka_java "$dir" kafka.admin.ConfigCommand --bootstrap-server "$HOST:$KAFKA_PORT" --alter --entity-type users \
      --entity-name "${u%%:*}" --add-config "SCRAM-SHA-256=[password=${u#*:}],SCRAM-SHA-512=[password=${u#*:}]" \
      >>"$dir/log/format.log" 2>&1 || { say kafka "warning: could not add SCRAM users (see $dir/log/format.log)"; return 0; }
  done
  touch "$dir/data/.scram-users"
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
    local scram=()
    mapfile -t scram < <(kafka_scram_args)
    if ! kafka_java "$dir" kafka.tools.StorageTool format --standalone --ignore-formatted "${scram[@]}" \
      -t "$(cat "$dir/cluster-id")" -c "$dir/server.properties" >>"$dir/log/format.log" 2>&1; then
      show_log_tail kafka "$dir/log/format.log"
      die kafka "formatting the KRaft data dir failed"
    fi
    touch "$dir/data/.scram-users"
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
  flag_on "${KAFKA_SASL:-}${KAFKA_TLS:-}" && kafka_ensure_scram_users "$dir"
  say kafka "ready on $HOST:$KAFKA_PORT$(kafka_extra_note) in $(elapsed "$t0") (KRaft, controller $HOST:$KAFKA_CONTROLLER_PORT)"
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

kafka_extra_note() {
  local note=""
  flag_on "${KAFKA_SASL:-}" && note+=", SASL PLAIN/SCRAM on $KAFKA_SASL_PORT"
  flag_on "${KAFKA_TLS:-}" && note+=", SASL_SSL on $KAFKA_SASL_SSL_PORT, mutual TLS on $KAFKA_SSL_PORT"
  [[ -z "$note" ]] || echo " (${note:2})"
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
    if pid="$(live_pid "$dir/kafka.pid")"; then say kafka "up on $HOST:$KAFKA_PORT (pid $pid, ours)$(extra_listener_note KAFKA_SASL_PORT "SASL")$(extra_listener_note KAFKA_SASL_SSL_PORT "SASL_SSL")$(extra_listener_note KAFKA_SSL_PORT "mutual TLS")"
    else say kafka "up on $HOST:$KAFKA_PORT (not started by this script)$(extra_listener_note KAFKA_SASL_PORT "SASL")$(extra_listener_note KAFKA_SASL_SSL_PORT "SASL_SSL")$(extra_listener_note KAFKA_SSL_PORT "mutual TLS")"; fi
  else
    say kafka "down ($HOST:$KAFKA_PORT not answering) - start: npm run brokers -- start kafka"
    return 1
  fi
}

kafka_logs() { echo "$BROKERS_DIR/$KAFKA_DIR_NAME/log/server.log"; }
