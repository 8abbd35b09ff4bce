#!/usr/bin/env bash
# deploy/stack.sh: the local service stack for development and CI.
#
#   Apache Kafka (KRaft, one combined broker+controller node) from the official
#   jars, resolved by Maven (deploy/kafka/pom.xml), run with the machine's Java.
#   PostgreSQL: the server named by $DATABASE_URL if it answers, otherwise a
#   private cluster (Debian's package) started by this script.
#
# Security (docs/security.md): a private CA and a server certificate for 127.0.0.1
# (made once, in .stack/tls); Kafka listeners PLAINTEXT, SASL_PLAINTEXT and SASL_SSL
# (SCRAM-SHA-512) under the standard authorizer, whose super users are the PLAINTEXT
# listeners' principal (ANONYMOUS) and the admin SCRAM user, while the SCRAM users
# utxoiq-ingest and utxoiq-operator hold only the ACLs granted to them; the private
# PostgreSQL runs with ssl=on and that certificate, and takes passwords (SCRAM) for
# the roles of deploy/postgres-roles.sql.
#
# Everything it creates lives under $REPO/.stack/. Every command can be run again.
#
#   stack.sh up             start whatever is not running, create the topics, write .stack/env
#   stack.sh down [--purge] stop what up started; --purge also deletes Kafka's and PostgreSQL's data
#   stack.sh status         one line per service (exit 0 when all run, 3 otherwise)
#   stack.sh env            print .stack/env (export KEY=value lines)
#   stack.sh kafka-stop | kafka-start | pg-stop [--immediate] | pg-start
#                           stop/start one service alone (outage tests); --immediate
#                           stops PostgreSQL as a crash would (no shutdown checkpoint)
#
# Settings (environment; defaults in brackets):
#   UTXOIQ_STACK_KAFKA_VERSION [4.3.1]   UTXOIQ_STACK_KAFKA_PORT [19092]
#   UTXOIQ_STACK_KAFKA_CONTROLLER_PORT [19093]  UTXOIQ_STACK_KAFKA_SASL_PORT [19094]
#   UTXOIQ_STACK_KAFKA_SSL_PORT [19095]  (SASL_SSL: SCRAM over TLS, certificate from .stack/tls)
#   UTXOIQ_STACK_PG_PORT [15432]         UTXOIQ_STACK_PARTITIONS [3]
#   UTXOIQ_STACK_METRICS_PARTITIONS [6]  UTXOIQ_STACK_KAFKA_TIMEOUT [90] (seconds to readiness)
#   UTXOIQ_STACK_STOP_TIMEOUT [30]       (seconds between SIGTERM and SIGKILL)
#   UTXOIQ_STACK_KAFKA_LOG_LEVEL [WARN]  (broker log level in .stack/kafka/server.log)
#   DATABASE_URL                         use this PostgreSQL instead of a private one
set -Eeuo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
STACK=$REPO/.stack

# ---------------------------------------------------------------- settings ---

KAFKA_VERSION=${UTXOIQ_STACK_KAFKA_VERSION:-4.3.1}
HOST=127.0.0.1
KAFKA_PORT=${UTXOIQ_STACK_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${UTXOIQ_STACK_KAFKA_CONTROLLER_PORT:-19093}
KAFKA_SASL_PORT=${UTXOIQ_STACK_KAFKA_SASL_PORT:-19094}
KAFKA_SSL_PORT=${UTXOIQ_STACK_KAFKA_SSL_PORT:-19095}
KAFKA_READY_TIMEOUT=${UTXOIQ_STACK_KAFKA_TIMEOUT:-90}
KAFKA_LOG_LEVEL=${UTXOIQ_STACK_KAFKA_LOG_LEVEL:-WARN}
STOP_TIMEOUT=${UTXOIQ_STACK_STOP_TIMEOUT:-30}
PARTITIONS=${UTXOIQ_STACK_PARTITIONS:-3}
METRICS_PARTITIONS=${UTXOIQ_STACK_METRICS_PARTITIONS:-6}
SASL_MECHANISM=SCRAM-SHA-512
SASL_USER=utxoiq
SASL_PASSWORD=utxoiq-secret
# SCRAM users without super-user rights: "name password" (their ACLs are granted by
# whoever uses them; deploy/k8s/kafka-user*.yaml list them).
INGEST_USER=utxoiq-ingest
INGEST_PASSWORD=utxoiq-ingest-secret
OPERATOR_USER=utxoiq-operator
OPERATOR_PASSWORD=utxoiq-operator-secret
SCRAM_USERS=(
  "$SASL_USER $SASL_PASSWORD"
  "$INGEST_USER $INGEST_PASSWORD"
  "$OPERATOR_USER $OPERATOR_PASSWORD"
)

PG_PORT=${UTXOIQ_STACK_PG_PORT:-15432}
PG_USER=utxoiq
PG_DB=utxoiq
PG_URL=postgresql://$PG_USER@$HOST:$PG_PORT/$PG_DB

KAFKA_DIR=$STACK/kafka
KAFKA_LIBS=$KAFKA_DIR/libs
KAFKA_DATA=$KAFKA_DIR/data
KAFKA_PID_FILE=$STACK/kafka.pid
KAFKA_POM=$SCRIPT_DIR/kafka/pom.xml
KAFKA_USERS_STAMP=$KAFKA_DIR/scram-users
ENV_FILE=$STACK/env

TLS_DIR=$STACK/tls
TLS_STORE_PASSWORD=utxoiq-tls-secret

# Topics: "name partitions [topic config]". Sources keep the broker defaults;
# a dead letter is the original record plus headers, so DLQs take 2 MiB.
DLQ_CONFIG=max.message.bytes=2097152
TOPICS=(
  "utxoiq.backfill.job-progress $PARTITIONS"
  "utxoiq.backfill.job-progress.dlq $PARTITIONS $DLQ_CONFIG"
  "utxoiq.insight.feedback $PARTITIONS"
  "utxoiq.insight.feedback.dlq $PARTITIONS $DLQ_CONFIG"
  "utxoiq.system.metrics $METRICS_PARTITIONS"
  "utxoiq.system.metrics.dlq $METRICS_PARTITIONS $DLQ_CONFIG"
)

# ----------------------------------------------------------------- helpers ---

log() { printf 'stack: %s\n' "$*"; }
warn() { printf 'stack: warning: %s\n' "$*" >&2; }
die() {
  printf 'stack: error: %s\n' "$*" >&2
  exit 1
}
# Any unexpected failing command: say where, in one line.
trap 'printf "stack: error: command failed (line %s): %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

# Print the last lines of a log file to stderr, indented.
tail_log() {
  [[ -s $1 ]] || return 0
  printf '  --- last lines of %s ---\n' "$1" >&2
  tail -n "${2:-25}" "$1" | sed 's/^/  /' >&2
}

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

check_settings() {
  local name
  for name in KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_SASL_PORT KAFKA_SSL_PORT PG_PORT PARTITIONS \
    METRICS_PARTITIONS KAFKA_READY_TIMEOUT STOP_TIMEOUT; do
    is_uint "${!name}" || die "$name must be a whole number, got '${!name}'"
  done
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Wait until process $1 is gone, at most $2 seconds.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Take the stack lock (concurrent `up`s from make -j or parallel CI steps).
# Long-lived children must not inherit fd 9, or they would hold it forever.
lock_stack() {
  mkdir -p "$STACK"
  exec 9>"$STACK/.lock"
  flock -w 600 9 || die "another stack.sh holds $STACK/.lock"
}

# apt-get install, quiet and non-interactive; output kept in .stack/apt.log.
apt_install() {
  local sudo=() aptlog=$STACK/apt.log
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || return 1
    sudo=(sudo -n)
  fi
  command -v apt-get >/dev/null 2>&1 || return 1
  mkdir -p "$STACK"
  log "installing $* with apt-get (one-time)"
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"; } \
    >"$aptlog" 2>&1; then
    tail_log "$aptlog" 10
    return 1
  fi
}

# ------------------------------------------------------------ Java, Maven ---

# Major version of the java binary $1 (8 for "1.8.0_x", 17 for "17.0.15").
java_major() {
  "$1" -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == "1") ? v[2] : v[1]; exit }'
}

# Sets JAVA to a Java 17+ binary ($JAVA_HOME first, then PATH), installing
# Debian's JDK 17 when there is no java at all.
ensure_java() {
  local major candidate
  JAVA=
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    JAVA=$JAVA_HOME/bin/java
  elif command -v java >/dev/null 2>&1; then
    JAVA=$(command -v java)
  elif apt_install openjdk-17-jdk-headless && command -v java >/dev/null 2>&1; then
    JAVA=$(command -v java)
  else
    die "Java 17+ is required: install openjdk-17-jre-headless"
  fi
  major=$(java_major "$JAVA")
  if ! is_uint "${major:-}" || ((major < 17)); then
    for candidate in /usr/lib/jvm/java-17-openjdk-*/bin/java; do
      [[ -x $candidate ]] && JAVA=$candidate && return 0
    done
    die "Java 17+ is required: install openjdk-17-jre-headless (found ${major:-unknown} at $JAVA)"
  fi
}

ensure_maven() {
  command -v mvn >/dev/null 2>&1 && return 0
  if ! apt_install maven || ! command -v mvn >/dev/null 2>&1; then
    die "Maven is required to fetch the Kafka jars: install maven"
  fi
}

# --------------------------------------------------------------------- TLS ---

# openssl req/x509 quietly, output kept in .stack/tls/openssl.log.
tls_run() { openssl "$@" >>"$TLS_DIR/openssl.log" 2>&1 || die "openssl $1 failed (log: $TLS_DIR/openssl.log)"; }

# A self-signed CA: $1 = file stem, $2 = common name.
tls_make_ca() {
  tls_run req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$TLS_DIR/$1.key" -out "$TLS_DIR/$1.pem"
}

# The stack's private CA, a server certificate it signs for 127.0.0.1 only (so a client
# that asks for another host name is refused), its PKCS12 keystore for the broker, and
# an unrelated CA for the tests that must fail verification. Made once: the stamp
# records the host they were made for.
ensure_tls() {
  local stamp=$TLS_DIR/.stack-stamp want="host=$HOST v=1"
  [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
  command -v openssl >/dev/null 2>&1 || apt_install openssl || die "openssl is required: install openssl"
  log "making the local CA and server certificate in $TLS_DIR (one-time)"
  rm -rf "$TLS_DIR"
  mkdir -p "$TLS_DIR"
  tls_make_ca ca "utxoiq local stack CA"
  tls_make_ca other-ca "utxoiq unrelated CA"
  tls_run req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$HOST" \
    -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr"
  printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$HOST" >"$TLS_DIR/server.ext"
  tls_run x509 -req -sha256 -days 3650 -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" \
    -CAkey "$TLS_DIR/ca.key" -CAcreateserial -extfile "$TLS_DIR/server.ext" -out "$TLS_DIR/server.pem"
  tls_run pkcs12 -export -in "$TLS_DIR/server.pem" -inkey "$TLS_DIR/server.key" \
    -certfile "$TLS_DIR/ca.pem" -name broker -passout "pass:$TLS_STORE_PASSWORD" \
    -out "$TLS_DIR/server.p12"
  chmod 600 "$TLS_DIR"/*.key "$TLS_DIR/server.p12"
  chmod 644 "$TLS_DIR"/*.pem
  printf '%s\n' "$want" >"$stamp"
}

# ------------------------------------------------------------------- Kafka ---

# The jars of Kafka $KAFKA_VERSION in .stack/kafka/libs, resolved once per
# (version, pom) pair; the stamp file records which one is there.
ensure_kafka_libs() {
  local stamp want tmp t0
  stamp=$KAFKA_LIBS/.stack-stamp
  want="kafka=$KAFKA_VERSION pom=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0

  ensure_maven
  t0=$(now)
  log "resolving Kafka $KAFKA_VERSION jars with Maven (one-time)"
  mkdir -p "$KAFKA_DIR"
  tmp=$KAFKA_DIR/libs.tmp
  rm -rf "$tmp"
  if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" \
    -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$tmp" \
    dependency:copy-dependencies >"$KAFKA_DIR/maven.log" 2>&1; then
    tail_log "$KAFKA_DIR/maven.log" 15
    die "Maven could not resolve Kafka $KAFKA_VERSION (log: $KAFKA_DIR/maven.log)"
  fi
  [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after Maven"
  printf '%s\n' "$want" >"$tmp/.stack-stamp"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  log "Kafka jars ready in $(elapsed "$t0")"
}

# JVM command line for the short-lived admin tools: small heap, fast start.
kafka_tool_cmd() {
  KAFKA_TOOL=("$JAVA" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$KAFKA_DIR/tools-log4j2.xml"
    -cp "$KAFKA_LIBS/*")
}

# The broker's server.properties, on stdout.
kafka_server_properties() {
  cat <<EOF
# Generated by deploy/stack.sh: edits are lost at the next start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT,SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT,SASL_SSL://$HOST:$KAFKA_SSL_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT,SASL_SSL://$HOST:$KAFKA_SSL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
# SCRAM users are created by kafka-storage format (--add-scram), or by kafka_ensure_users.
listener.name.sasl_plaintext.sasl.enabled.mechanisms=$SASL_MECHANISM
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.sasl.enabled.mechanisms=$SASL_MECHANISM
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$TLS_DIR/server.p12
listener.name.sasl_ssl.ssl.keystore.password=$TLS_STORE_PASSWORD
listener.name.sasl_ssl.ssl.key.password=$TLS_STORE_PASSWORD
# ACLs: the PLAINTEXT and controller listeners (ANONYMOUS) and the admin SCRAM user are
# super users, so make run and the tools are not cut off; every other principal gets
# only what an ACL grants.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:$SASL_USER
allow.everyone.if.no.acl.found=false
log.dirs=$KAFKA_DATA

# What the service and its tests rely on
num.partitions=$PARTITIONS
auto.create.topics.enable=false
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# lets tests choose short session timeouts (the default minimum is 6 s)
group.min.session.timeout.ms=1000
log.retention.hours=-1
# After a kill -9 the restarted broker cannot register until its old session
# expires (default 9 s): shorter, so broker-crash tests restart quickly.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000

# Lean single node for a test box
log.segment.bytes=67108864
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
share.coordinator.state.topic.num.partitions=10
log.cleaner.dedupe.buffer.size=16777216
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
}

# server.properties, the log4j2 configurations and the admin client settings.
# Rewritten at every start so that changed ports take effect.
write_kafka_config() {
  mkdir -p "$KAFKA_DIR" "$KAFKA_DATA"
  kafka_server_properties >"$KAFKA_DIR/server.properties"

  cat >"$KAFKA_DIR/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by deploy/stack.sh: the broker logs warnings and errors only.
     No Log4j shutdown hook: Kafka logs its own shutdown until the end. -->
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <RollingFile name="server" fileName="$KAFKA_DIR/server.log" filePattern="$KAFKA_DIR/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="10 MB"/>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="$KAFKA_LOG_LEVEL"><AppenderRef ref="server"/></Root>
  </Loggers>
</Configuration>
EOF

  cat >"$KAFKA_DIR/tools-log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by deploy/stack.sh: admin tools print errors only, to stderr. -->
<Configuration status="WARN">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Root level="ERROR"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
EOF

  # Admin client used by the readiness check and the topic creation:
  # bounded waits, so every attempt ends well within the deadline.
  cat >"$KAFKA_DIR/admin.properties" <<'EOF'
request.timeout.ms=5000
default.api.timeout.ms=15000
reconnect.backoff.max.ms=500
retry.backoff.max.ms=500
EOF
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (the
# format of `kafka-storage random-uuid`, which would cost a JVM start).
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [[ $id == -* ]] || break # the tools reject ids that look like options
  done
  printf '%s\n' "$id"
}

# What $KAFKA_USERS_STAMP holds once every SCRAM user of this storage exists.
scram_users_stamp() {
  local spec names=()
  for spec in "${SCRAM_USERS[@]}"; do names+=("${spec%% *}"); done
  printf 'cluster=%s users=%s\n' "$(<"$KAFKA_DIR/cluster-id")" "${names[*]}"
}

# Format the storage once (kafka-storage.sh format = kafka.tools.StorageTool),
# creating the SCRAM users in the bootstrap metadata.
format_kafka_storage() {
  [[ -f $KAFKA_DATA/meta.properties ]] && return 0
  local cid_file=$KAFKA_DIR/cluster-id spec name password
  local -a scram=()
  [[ -s $cid_file ]] || new_cluster_id >"$cid_file"
  for spec in "${SCRAM_USERS[@]}"; do
    read -r name password <<<"$spec"
    scram+=(--add-scram "$SASL_MECHANISM=[name=$name,password=$password]")
  done
  log "formatting Kafka storage (cluster id $(<"$cid_file"))"
  if ! "${KAFKA_TOOL[@]}" kafka.tools.StorageTool format --ignore-formatted \
    --cluster-id "$(<"$cid_file")" --config "$KAFKA_DIR/server.properties" \
    "${scram[@]}" >"$KAFKA_DIR/format.log" 2>&1; then
    tail_log "$KAFKA_DIR/format.log"
    die "kafka-storage format failed (log: $KAFKA_DIR/format.log)"
  fi
  scram_users_stamp >"$KAFKA_USERS_STAMP"
}

# Storage formatted before a SCRAM user was added to SCRAM_USERS: create the users on
# the running broker (kafka-configs.sh = ConfigCommand), once; the stamp says so.
kafka_ensure_users() {
  local spec name password i
  local -a pids=() names=() failed=()
  [[ -f $KAFKA_USERS_STAMP && $(<"$KAFKA_USERS_STAMP") == "$(scram_users_stamp)" ]] && return 0
  log "creating the SCRAM users on the broker (one-time)"
  for spec in "${SCRAM_USERS[@]}"; do
    read -r name password <<<"$spec"
    timeout 60 "${KAFKA_TOOL[@]}" kafka.admin.ConfigCommand \
      --bootstrap-server "$HOST:$KAFKA_PORT" --command-config "$KAFKA_DIR/admin.properties" \
      --alter --entity-type users --entity-name "$name" \
      --add-config "$SASL_MECHANISM=[password=$password]" >"$KAFKA_DIR/user-$name.log" 2>&1 &
    pids+=("$!")
    names+=("$name")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
  done
  if ((${#failed[@]} > 0)); then
    tail_log "$KAFKA_DIR/user-${failed[0]}.log" 10
    die "could not create SCRAM user(s): ${failed[*]} (logs: $KAFKA_DIR/user-*.log)"
  fi
  rm -f "$KAFKA_DIR"/user-*.log
  scram_users_stamp >"$KAFKA_USERS_STAMP"
}

# True when pid $1 is this stack's broker (guards against a reused PID).
is_our_kafka() {
  local -a args
  is_uint "${1:-}" && [[ -r /proc/$1/cmdline ]] || return 1
  mapfile -d '' -t args <"/proc/$1/cmdline" 2>/dev/null || return 1
  [[ " ${args[*]} " == *" kafka.Kafka $KAFKA_DIR/server.properties "* ]]
}

# Prints the broker's pid and succeeds when it runs. Uses the PID file, and
# when that is missing or stale, looks for the process by its command line.
kafka_pid() {
  local pid
  if [[ -f $KAFKA_PID_FILE ]]; then
    pid=$(<"$KAFKA_PID_FILE")
    is_our_kafka "$pid" && printf '%s\n' "$pid" && return 0
  fi
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    if is_our_kafka "$pid"; then
      printf '%s\n' "$pid" >"$KAFKA_PID_FILE"
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

# Launch the broker in the background (same main class as kafka-server-start.sh).
kafka_launch() {
  local pid port
  if pid=$(kafka_pid); then
    if cmp -s <(kafka_server_properties) "$KAFKA_DIR/server.properties"; then
      log "kafka already running (pid $pid)"
      return 0
    fi
    log "kafka runs with an older server.properties (an update of this script): restarting it"
    kafka_stop
  fi
  ensure_kafka_libs
  kafka_tool_cmd
  write_kafka_config
  format_kafka_storage
  ensure_tls
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT" "$KAFKA_SSL_PORT"; do
    port_busy "$port" && die "port $HOST:$port is already in use by another process (set UTXOIQ_STACK_KAFKA_*PORT)"
  done
  log "starting kafka $KAFKA_VERSION on $HOST:$KAFKA_PORT (SASL $HOST:$KAFKA_SASL_PORT, SASL_SSL $HOST:$KAFKA_SSL_PORT)"
  printf '%s\n' "$RUN_MARKER" | tee -a "$KAFKA_DIR/server.log" >>"$KAFKA_DIR/stdout.log"
  # setsid: own session, so a terminal's Ctrl-C or hang-up does not reach it.
  setsid "$JAVA" -Xms256m -Xmx512m -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.xml" -Dkafka.logs.dir="$KAFKA_DIR" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    </dev/null >>"$KAFKA_DIR/stdout.log" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$KAFKA_PID_FILE"
  # Until the child has exec'd java, its command line is still the shell's, and
  # kafka_pid would take a broker that is starting for one that has exited.
  for _ in {1..100}; do
    is_our_kafka "$pid" || ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.05
  done
}

RUN_MARKER='--- deploy/stack.sh: kafka start ---'

# Lines of log $1 since the last start marker, at most $2 (to stderr).
tail_run_log() {
  local lines
  [[ -s $1 ]] || return 0
  lines=$(awk -v m="$RUN_MARKER" '$0 == m { n = 0; next } { line[n++] = $0 }
    END { for (i = 0; i < n; i++) print line[i] }' "$1" | tail -n "$2")
  [[ -n $lines ]] || return 0
  printf '  --- %s (this start) ---\n' "$1" >&2
  printf '%s\n' "$lines" | sed 's/^/  /' >&2
}

kafka_fail() {
  printf 'stack: error: %s\n' "$1" >&2
  tail_run_log "$KAFKA_DIR/server.log" 25
  tail_run_log "$KAFKA_DIR/stdout.log" 10
  exit 1
}

# Ready = answers a metadata request (TopicCommand --list). Fills KAFKA_TOPICS.
# Each attempt runs in the background so that a broker dying during startup is
# reported at once rather than after the admin client's own timeout.
kafka_wait_ready() {
  local deadline=$((SECONDS + KAFKA_READY_TIMEOUT)) out=$KAFKA_DIR/ready.out err=$KAFKA_DIR/ready.err
  local tool rc
  kafka_tool_cmd
  while :; do
    timeout 40 "${KAFKA_TOOL[@]}" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$HOST:$KAFKA_PORT" --command-config "$KAFKA_DIR/admin.properties" \
      --list >"$out" 2>"$err" &
    tool=$!
    while kill -0 "$tool" 2>/dev/null; do
      if ! kafka_pid >/dev/null; then
        kill "$tool" 2>/dev/null || true
        wait "$tool" 2>/dev/null || true
        kafka_fail "kafka exited during startup"
      fi
      sleep 0.2
    done
    rc=0
    wait "$tool" || rc=$?
    if ((rc == 0)); then
      mapfile -t KAFKA_TOPICS <"$out"
      return 0
    fi
    ((SECONDS < deadline)) || {
      tail_log "$err" 5
      kafka_fail "kafka did not answer a metadata request on $HOST:$KAFKA_PORT within ${KAFKA_READY_TIMEOUT}s"
    }
    sleep 1
  done
}

# Create the missing topics, one TopicCommand JVM per topic, all in parallel.
kafka_ensure_topics() {
  local spec name parts config existing i
  local -a pids=() names=() args failed=()
  for spec in "${TOPICS[@]}"; do
    read -r name parts config <<<"$spec"
    for existing in "${KAFKA_TOPICS[@]}"; do
      [[ $existing == "$name" ]] && continue 2
    done
    args=(--create --if-not-exists --topic "$name" --partitions "$parts" --replication-factor 1)
    [[ -n $config ]] && args+=(--config "$config")
    timeout 60 "${KAFKA_TOOL[@]}" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$HOST:$KAFKA_PORT" --command-config "$KAFKA_DIR/admin.properties" \
      "${args[@]}" >"$KAFKA_DIR/topic-$name.log" 2>&1 &
    pids+=("$!")
    names+=("$name")
  done
  ((${#pids[@]} > 0)) || return 0
  log "creating topics: ${names[*]}"
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
  done
  if ((${#failed[@]} > 0)); then
    tail_log "$KAFKA_DIR/topic-${failed[0]}.log" 10
    die "could not create topic(s): ${failed[*]} (logs: $KAFKA_DIR/topic-*.log)"
  fi
  rm -f "$KAFKA_DIR"/topic-*.log
}

kafka_start() {
  ensure_java
  kafka_launch
  kafka_wait_ready
  kafka_ensure_users
  kafka_ensure_topics
}

# SIGTERM (controlled shutdown), then SIGKILL after STOP_TIMEOUT seconds.
kafka_stop() {
  local pid
  if ! pid=$(kafka_pid); then
    rm -f "$KAFKA_PID_FILE"
    log "kafka not running"
    return 0
  fi
  log "stopping kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
    warn "kafka did not stop within ${STOP_TIMEOUT}s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "could not kill kafka (pid $pid)"
  fi
  rm -f "$KAFKA_PID_FILE"
}

# -------------------------------------------------------------- PostgreSQL ---

PG_MANAGED=
PG_OS_USER=
PG_DIR=
PG_BIN=

# Run a command as the OS user that owns the private cluster (postgres refuses
# to run as root). From / so that an unreadable working directory is no issue.
as_pg() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

# Newest /usr/lib/postgresql/<v>/bin with initdb (version $1 if given), or pg_config's.
find_pg_bindir() {
  local want=${1:-} dir best=
  if [[ -n $want ]]; then
    [[ -x /usr/lib/postgresql/$want/bin/initdb ]] && printf '%s\n' "/usr/lib/postgresql/$want/bin" && return 0
    return 1
  fi
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/initdb ]] && best=$(printf '%s\n%s\n' "$best" "$dir" | sed '/^$/d' | sort -V | tail -n 1)
  done
  if [[ -z $best ]] && command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null) || true
    [[ -n $dir && -x $dir/initdb ]] && best=$dir
  fi
  [[ -n $best ]] && printf '%s\n' "$best"
}

# psql from anywhere (Debian's wrapper in PATH or a server bindir).
find_psql() {
  local p
  p=$(command -v psql 2>/dev/null) && printf '%s\n' "$p" && return 0
  p=$(find_pg_bindir) && [[ -x $p/psql ]] && printf '%s\n' "$p/psql"
}

# Resolve where the private cluster lives: .stack/pg, owned by $PG_OS_USER.
# When that user cannot reach the repo (say it sits under /root) or the socket
# path would be too long, the files go to /var/tmp and .stack/pg is a symlink.
pg_locate() {
  local link=$STACK/pg alt
  if ((EUID == 0)); then
    PG_OS_USER=postgres
    if ! id -u postgres >/dev/null 2>&1; then
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin postgres || die "could not create the system user postgres"
    fi
  else
    PG_OS_USER=$(id -un)
  fi
  if [[ ! -e $link ]]; then
    mkdir -p "$link"
    ((EUID == 0)) && chown "$PG_OS_USER:" "$link"
    if ! as_pg test -w "$link" || ((${#link} > 80)); then
      alt=/var/tmp/utxoiq-stack-$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)/pg
      warn "$PG_OS_USER cannot use $link (or its path is too long): data goes to $alt"
      rmdir "$link"
      mkdir -p "$alt"
      chmod 755 "$(dirname "$alt")"
      ((EUID == 0)) && chown "$PG_OS_USER:" "$alt"
      ln -s "$alt" "$link"
    fi
  fi
  PG_DIR=$(readlink -f "$link")
  PG_DATA=$PG_DIR/data
  PG_SOCK=$PG_DIR/run
  PG_LOG=$PG_DIR/postgres.log
}

pg_initialized() { [[ -f $STACK/pg/data/PG_VERSION ]]; }

# Sets PG_BIN: binaries matching an existing data directory, else the newest;
# installs Debian's postgresql when there is no initdb at all.
pg_binaries() {
  local ver=
  pg_initialized && ver=$(<"$STACK/pg/data/PG_VERSION")
  if PG_BIN=$(find_pg_bindir "$ver"); then return 0; fi
  [[ -n $ver ]] && die "PostgreSQL $ver binaries are needed for $STACK/pg/data: install postgresql-$ver"
  apt_install postgresql || die "PostgreSQL is required: install postgresql"
  PG_BIN=$(find_pg_bindir) || die "initdb not found after installing postgresql"
}

# The server certificate and key of .stack/tls, copied where the postgres user owns them
# (the server refuses a key that others can read).
install_pg_tls() {
  ensure_tls
  as_pg mkdir -p "$PG_DIR/tls"
  as_pg tee "$PG_DIR/tls/server.pem" >/dev/null <"$TLS_DIR/server.pem"
  as_pg tee "$PG_DIR/tls/server.key" >/dev/null <"$TLS_DIR/server.key"
  as_pg chmod 600 "$PG_DIR/tls/server.key"
}

# The private cluster's settings, rewritten at every start (port changes apply).
# Clients may use TLS (ssl=on, the stack CA's certificate for 127.0.0.1); the admin
# role utxoiq connects without a password, the roles of deploy/postgres-roles.sql
# with theirs.
pg_stack_conf() {
  cat <<EOF
# Generated by deploy/stack.sh: edits are lost at the next start.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0700
max_connections = 200
# Sized for a shared development machine; docs/growth.md gives production values.
shared_buffers = 256MB
# Checkpoints far apart, and full-page images compressed: a checkpoint makes the next
# change of every page write the whole page to the WAL, which dominates WAL volume
# when inserts land all over large indexes (docs/growth.md).
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_compression = lz4
# crash safety is under test: keep fsync and synchronous commits on
fsync = on
synchronous_commit = on
log_min_messages = warning
ssl = on
ssl_cert_file = '$PG_DIR/tls/server.pem'
ssl_key_file = '$PG_DIR/tls/server.key'
EOF
}

pg_hba_conf() {
  cat <<EOF
# Generated by deploy/stack.sh
# TYPE  DATABASE  USER          ADDRESS        METHOD
local   all       $PG_OS_USER   peer
host    all       $PG_USER      $HOST/32   trust
host    all       all           $HOST/32   scram-sha-256
EOF
}

write_pg_config() {
  install_pg_tls
  pg_stack_conf | as_pg tee "$PG_DATA/utxoiq-stack.conf" >/dev/null
  pg_hba_conf | as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null
  grep -q "^include_if_exists = 'utxoiq-stack.conf'" "$PG_DATA/postgresql.conf" ||
    printf "\ninclude_if_exists = 'utxoiq-stack.conf'\n" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

pg_running() { [[ -n $PG_BIN ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

pg_postmaster_pid() { [[ -f $PG_DATA/postmaster.pid ]] && head -n 1 "$PG_DATA/postmaster.pid"; }

# Start the private cluster (initdb the first time) and wait until it accepts connections.
pg_start_private() {
  pg_locate
  pg_binaries
  if ! pg_initialized; then
    log "initdb into $PG_DATA ($("$PG_BIN/postgres" --version))"
    as_pg mkdir -p "$PG_SOCK"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_OS_USER" --encoding=UTF8 --locale=C \
      --auth-local=peer --auth-host=scram-sha-256 >"$STACK/initdb.log" 2>&1 ||
      {
        tail_log "$STACK/initdb.log"
        die "initdb failed (log: $STACK/initdb.log)"
      }
  fi
  if pg_running; then
    if cmp -s <(pg_stack_conf) "$PG_DATA/utxoiq-stack.conf" &&
      cmp -s <(pg_hba_conf) "$PG_DATA/pg_hba.conf"; then
      log "postgres already running (pid $(pg_postmaster_pid))"
      return 0
    fi
    # TLS and client authentication take effect on a reload (a new port would not).
    log "postgres runs with an older configuration (an update of this script): reloading it"
    write_pg_config
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -s reload || die "could not reload PostgreSQL"
    return 0
  fi
  port_busy "$PG_PORT" && die "port $HOST:$PG_PORT is already in use by another process (set UTXOIQ_STACK_PG_PORT)"
  as_pg mkdir -p "$PG_SOCK"
  write_pg_config
  log "starting postgres on $HOST:$PG_PORT"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s start 9>&-; then
    tail_log "$PG_LOG"
    die "PostgreSQL did not start (log: $PG_LOG)"
  fi
}

# Role and database utxoiq, created when missing.
pg_provision() {
  as_pg "$PG_BIN/psql" -h "$PG_SOCK" -p "$PG_PORT" -U "$PG_OS_USER" -d postgres \
    -X -q -v ON_ERROR_STOP=1 >/dev/null <<EOF || die "could not create role/database $PG_USER"
SELECT 'CREATE ROLE $PG_USER LOGIN SUPERUSER'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') \gexec
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
EOF
  PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" "$PG_URL" -X -Atqc 'select 1' >/dev/null ||
    die "cannot connect to $PG_URL"
}

# True when $DATABASE_URL names another server than our private one and answers.
external_pg_usable() {
  local url=${DATABASE_URL:-} psql_bin
  [[ -n $url ]] || return 1
  # Our own URL (e.g. from a sourced .stack/env) means the private cluster.
  [[ $url == *"@$HOST:$PG_PORT/"* || $url == *"@localhost:$PG_PORT/"* ]] && return 1
  psql_bin=$(find_psql) || {
    warn "no psql to check DATABASE_URL; starting a private PostgreSQL"
    return 1
  }
  if PGCONNECT_TIMEOUT=5 "$psql_bin" "$url" -X -Atqc 'select 1' >/dev/null 2>&1; then
    return 0
  fi
  warn "DATABASE_URL is set but does not answer: starting a private PostgreSQL instead"
  return 1
}

pg_up() {
  if external_pg_usable; then
    log "using the PostgreSQL of DATABASE_URL (nothing started)"
    PG_MANAGED=0
    DB_URL=$DATABASE_URL
    return 0
  fi
  pg_start_private
  pg_provision
  PG_MANAGED=1
  DB_URL=$PG_URL
}

# Prepare PG_* for pg-stop/pg-start/down/status; false when no private cluster exists.
pg_private_exists() {
  pg_initialized || return 1
  pg_locate
  pg_binaries
}

pg_stop_private() {
  local mode=${1:-fast}
  if ! pg_private_exists; then
    log "no private postgres cluster"
    return 0
  fi
  if ! pg_running; then
    log "postgres not running"
    return 0
  fi
  log "stopping postgres (pid $(pg_postmaster_pid), $mode)"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m "$mode" -w -t 60 -s stop ||
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 -s stop ||
    die "could not stop PostgreSQL (data: $PG_DATA)"
}

# -------------------------------------------------------------- env file ---

write_env() {
  local tmp
  tmp=$(mktemp "$STACK/env.XXXXXX")
  {
    printf '# Generated by deploy/stack.sh up: addresses of the local stack.\n'
    printf 'export %s=%q\n' \
      KAFKA_BOOTSTRAP_SERVERS "$HOST:$KAFKA_PORT" \
      DATABASE_URL "$DB_URL" \
      UTXOIQ_STACK_SASL_BOOTSTRAP "$HOST:$KAFKA_SASL_PORT" \
      UTXOIQ_STACK_SASL_MECHANISM "$SASL_MECHANISM" \
      UTXOIQ_STACK_SASL_USERNAME "$SASL_USER" \
      UTXOIQ_STACK_SASL_PASSWORD "$SASL_PASSWORD" \
      UTXOIQ_STACK_SSL_BOOTSTRAP "$HOST:$KAFKA_SSL_PORT" \
      UTXOIQ_STACK_TLS_CA_FILE "$TLS_DIR/ca.pem" \
      UTXOIQ_STACK_TLS_OTHER_CA_FILE "$TLS_DIR/other-ca.pem" \
      UTXOIQ_STACK_INGEST_USERNAME "$INGEST_USER" \
      UTXOIQ_STACK_INGEST_PASSWORD "$INGEST_PASSWORD" \
      UTXOIQ_STACK_OPERATOR_USERNAME "$OPERATOR_USER" \
      UTXOIQ_STACK_OPERATOR_PASSWORD "$OPERATOR_PASSWORD" \
      UTXOIQ_STACK_PG_MANAGED "$PG_MANAGED"
  } >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

# Value of KEY in .stack/env (empty when absent).
env_value() {
  [[ -f $ENV_FILE ]] || return 0
  sed -n "s/^export $1=//p" "$ENV_FILE" | tail -n 1
}

# ---------------------------------------------------------------- commands ---

cmd_up() {
  local t0
  t0=$(now)
  lock_stack
  ensure_java
  # Kafka boots in the background while PostgreSQL starts.
  kafka_launch
  pg_up
  kafka_wait_ready
  kafka_ensure_users
  kafka_ensure_topics
  write_env
  log "up in $(elapsed "$t0"): kafka $HOST:$KAFKA_PORT (SASL $HOST:$KAFKA_SASL_PORT, SASL_SSL $HOST:$KAFKA_SSL_PORT), postgres $DB_URL; addresses in $ENV_FILE"
}

cmd_down() {
  local purge=0 target
  case ${1:-} in
    "") ;;
    --purge) purge=1 ;;
    *) die "usage: stack.sh down [--purge]" ;;
  esac
  lock_stack
  kafka_stop
  pg_stop_private
  if ((purge)); then
    log "purging Kafka and PostgreSQL data"
    rm -rf "$KAFKA_DATA" "$KAFKA_DIR/cluster-id" "$ENV_FILE"
    if [[ -L $STACK/pg ]]; then # data outside the repo (see pg_locate)
      target=$(readlink -f "$STACK/pg")
      rm -rf "$target"
      rmdir "$(dirname "$target")" 2>/dev/null || true
      rm -f "$STACK/pg"
    else
      rm -rf "$STACK/pg"
    fi
  fi
}

cmd_status() {
  local pid all=0 url managed boot sasl tls
  # Addresses as written by the last `up` (which may have used other ports).
  boot=$(env_value KAFKA_BOOTSTRAP_SERVERS)
  sasl=$(env_value UTXOIQ_STACK_SASL_BOOTSTRAP)
  tls=$(env_value UTXOIQ_STACK_SSL_BOOTSTRAP)
  boot=${boot:-$HOST:$KAFKA_PORT}
  sasl=${sasl:-$HOST:$KAFKA_SASL_PORT}
  tls=${tls:-$HOST:$KAFKA_SSL_PORT}
  if pid=$(kafka_pid); then
    printf '%-9s %-8s pid %-8s %s (SASL %s, SASL_SSL %s)\n' kafka running "$pid" "$boot" "$sasl" "$tls"
  else
    printf '%-9s %-8s pid %-8s %s\n' kafka stopped - "$boot"
    all=3
  fi
  managed=$(env_value UTXOIQ_STACK_PG_MANAGED)
  url=$(env_value DATABASE_URL)
  if [[ $managed == 0 ]]; then
    if PGCONNECT_TIMEOUT=3 "$(find_psql || echo psql)" "$url" -X -Atqc 'select 1' >/dev/null 2>&1; then
      printf '%-9s %-8s pid %-8s %s\n' postgres running external "$url"
    else
      printf '%-9s %-8s pid %-8s %s\n' postgres stopped external "$url"
      all=3
    fi
  elif pg_private_exists && pg_running; then
    printf '%-9s %-8s pid %-8s %s\n' postgres running "$(pg_postmaster_pid)" "${url:-$PG_URL}"
  else
    printf '%-9s %-8s pid %-8s %s\n' postgres stopped - "${url:-$PG_URL}"
    all=3
  fi
  return "$all"
}

cmd_env() {
  [[ -f $ENV_FILE ]] || die "no $ENV_FILE yet: run deploy/stack.sh up"
  cat "$ENV_FILE"
}

# pg-stop/pg-start act on the private cluster only; with an external
# DATABASE_URL (UTXOIQ_STACK_PG_MANAGED=0) there is nothing of ours to stop.
refuse_external_pg() {
  [[ $(env_value UTXOIQ_STACK_PG_MANAGED) != 0 ]] ||
    die "PostgreSQL is external (DATABASE_URL, UTXOIQ_STACK_PG_MANAGED=0): $1 only acts on the private cluster"
}

cmd_pg_start() {
  lock_stack
  refuse_external_pg pg-start
  pg_initialized || die "no private PostgreSQL cluster in $STACK/pg: run deploy/stack.sh up"
  pg_start_private
}

cmd_pg_stop() {
  local mode=fast
  case ${1:-} in
    "") ;;
    --immediate) mode=immediate ;;
    *) die "usage: stack.sh pg-stop [--immediate]" ;;
  esac
  lock_stack
  refuse_external_pg pg-stop
  pg_initialized || die "no private PostgreSQL cluster in $STACK/pg (external DATABASE_URL?)"
  pg_stop_private "$mode"
}

cmd_kafka_start() {
  lock_stack
  [[ -f $KAFKA_DATA/meta.properties ]] || die "no Kafka storage in $KAFKA_DATA: run deploy/stack.sh up"
  kafka_start
  log "kafka ready on $HOST:$KAFKA_PORT"
}

cmd_kafka_stop() {
  lock_stack
  kafka_stop
}

usage() {
  sed -n '2,/^set -Eeuo/{/^set -Eeuo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

main() {
  check_settings
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" || exit $? ;; # 3 = not everything runs
    env) cmd_env ;;
    pg-start) cmd_pg_start ;;
    pg-stop) cmd_pg_stop "$@" ;;
    kafka-start) cmd_kafka_start ;;
    kafka-stop) cmd_kafka_stop ;;
    -h | --help | help) usage ;;
    *)
      printf 'stack: error: unknown command "%s"\n' "$cmd" >&2
      printf 'usage: stack.sh up | down [--purge] | status | env | kafka-stop | kafka-start | pg-stop [--immediate] | pg-start | help\n' >&2
      exit 2
      ;;
  esac
}

main "$@"
