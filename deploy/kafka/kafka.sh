#!/usr/bin/env bash
# A real, single-node Apache Kafka (KRaft) on 127.0.0.1 without Docker: the broker's jars come
# from Maven Central (see pom.xml) into a cache outside the repo.
#   kafka.sh fetch|start|stop|kill9|status
# Env: KAFKA_VERSION (4.1.1), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (port+1),
#      KAFKA_DATA_DIR (<repo>/run/kafka), KAFKA_HEAP (512m), KAFKA_START_TIMEOUT (60 s),
#      ENSEMBLE_CACHE (${XDG_CACHE_HOME:-~/.cache}/ensemble),
#      KAFKA_SASL_SSL_PORT (unset): also listen with SASL_SSL (SASL/PLAIN over TLS) on this port.
#      The first start with it makes, under <data dir>/tls/ (mode 700), a self-signed key pair
#      for 127.0.0.1/localhost (keytool, Java 17), its certificate as ca.pem for clients, a
#      generated password for the user "ensemble", and client.env with the client settings
#      (KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CAFILE).
#      For tests and laptops: PLAINTEXT stays on $KAFKA_PORT, loopback only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version="${KAFKA_VERSION:-4.1.1}"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
data_dir="${KAFKA_DATA_DIR:-$repo/run/kafka}"
[[ "$data_dir" = /* ]] || data_dir="$PWD/$data_dir"  # absolute: it is matched in the java command line
cache="${ENSEMBLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ensemble}/kafka/$version"
libs="$cache/libs"
pid_file="$data_dir/broker.pid"
log_file="$data_dir/broker.log"
config="$data_dir/server.properties"
sasl_port="${KAFKA_SASL_SSL_PORT:-}"
tls_dir="$data_dir/tls"

say() { echo "kafka.sh: $*" >&2; }

fetch() {
  [[ -f "$cache/.complete" ]] && return 0
  command -v mvn >/dev/null || { say "Maven (mvn) is required to fetch the broker"; exit 1; }
  mkdir -p "$cache"
  # Locked: two callers (e.g. parallel test sessions) must not download into one directory.
  # A subshell, so the lock's file descriptor is not inherited by the broker.
  (
    command -v flock >/dev/null && flock 9
    [[ -f "$cache/.complete" ]] && exit 0
    say "fetching Apache Kafka $version and its dependencies from Maven Central into $libs"
    rm -rf "$libs" && mkdir -p "$libs"
    if ! mvn -q -B -f "$here/pom.xml" -Dkafka.version="$version" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" \
      >"$cache/fetch.log" 2>&1; then
      say "mvn failed; last lines of $cache/fetch.log:"; tail -n 30 "$cache/fetch.log" >&2; exit 1
    fi
    touch "$cache/.complete"  # only a complete download counts; a broken one is redone
  ) 9>"$cache/.lock"
}

# Alive = exists and is not a zombie (an unreaped dead process still answers kill -0).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ ! -r "/proc/$1/stat" ]] || [[ "$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat")" != Z ]]
}

# Running = the pid is alive AND is our broker for this data dir: a stale pid file may name a
# recycled pid, and we must neither report nor kill an unrelated process.
running() {
  [[ -f "$pid_file" ]] || return 1
  local pid; pid="$(cat "$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  [[ ! -r "/proc/$pid/cmdline" ]] || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $config"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

java=(java -Xms256m "-Xmx${KAFKA_HEAP:-512m}" -XX:+UseG1GC -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$here/log4j2.properties" -cp "$libs/*")

# Alphanumeric, so it needs no quoting in properties, JAAS or env files.
secret() { local s; s="$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"; echo "${s:0:32}"; }

# Once per data dir: the broker's key pair, the clients' CA file and the SASL credentials.
make_tls() {
  [[ -f "$tls_dir/client.env" ]] && return 0
  command -v keytool >/dev/null || { say "keytool (Java 17) is required for KAFKA_SASL_SSL_PORT"; exit 1; }
  rm -rf "$tls_dir" && mkdir -p -m 700 "$tls_dir"
  local store_pass user_pass
  store_pass="$(secret)" user_pass="$(secret)"
  keytool -genkeypair -noprompt -alias broker -keyalg RSA -keysize 2048 -validity 825 \
    -dname "CN=localhost" -ext "SAN=dns:localhost,ip:127.0.0.1" \
    -keystore "$tls_dir/broker.p12" -storetype PKCS12 -storepass "$store_pass" \
    >"$tls_dir/keytool.log" 2>&1 \
    && keytool -exportcert -rfc -alias broker -keystore "$tls_dir/broker.p12" \
      -storepass "$store_pass" -file "$tls_dir/ca.pem" >>"$tls_dir/keytool.log" 2>&1 \
    || { say "keytool failed:"; tail -n 20 "$tls_dir/keytool.log" >&2; exit 1; }
  (umask 077
    echo "$store_pass" >"$tls_dir/keystore.password"
    echo "$user_pass" >"$tls_dir/ensemble.password"
    cat >"$tls_dir/client.env" <<ENV
KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$sasl_port
KAFKA_SECURITY_PROTOCOL=SASL_SSL
KAFKA_SASL_MECHANISM=PLAIN
KAFKA_SASL_USERNAME=ensemble
KAFKA_SASL_PASSWORD=$user_pass
KAFKA_SSL_CAFILE=$tls_dir/ca.pem
ENV
  )
}

# Rewritten on every start so port changes apply. Sized for a laptop/CI box, not production.
write_config() {
  local listeners="PLAINTEXT://127.0.0.1:$port" map="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  [[ -z "$sasl_port" ]] || { listeners+=",SASL_SSL://127.0.0.1:$sasl_port"; map+=",SASL_SSL:SASL_SSL"; }
  (umask 077; : >"$config")  # it may hold the keystore and SASL passwords
  cat >"$config" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=$listeners,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
listener.security.protocol.map=$map
inter.broker.listener.name=PLAINTEXT
log.dirs=$data_dir/logs
# Topics are created by the services with their declared partition counts, never implicitly.
auto.create.topics.enable=false
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests join consumer groups often: do not wait 3 s for more members.
group.initial.rebalance.delay.ms=0
# After kill9 the restarted broker cannot register until its old session expires (9 s default).
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=5000
log.segment.bytes=67108864
log.retention.hours=168
num.network.threads=2
num.io.threads=4
PROPS
  [[ -n "$sasl_port" ]] || return 0
  local store_pass user_pass
  store_pass="$(cat "$tls_dir/keystore.password")" user_pass="$(cat "$tls_dir/ensemble.password")"
  cat >>"$config" <<PROPS
# SASL_SSL listener (KAFKA_SASL_SSL_PORT): TLS with the key pair in $tls_dir, SASL/PLAIN users.
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="ensemble" password="$user_pass" user_ensemble="$user_pass";
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls_dir/broker.p12
ssl.keystore.password=$store_pass
ssl.key.password=$store_pass
PROPS
}

ready_lines() {
  echo "bootstrap=127.0.0.1:$port"
  [[ -z "$sasl_port" ]] || echo "sasl_ssl_client_env=$tls_dir/client.env"
}

start() {
  if running; then
    say "already running (pid $(cat "$pid_file"))"
    ready_lines
    return 0
  fi
  rm -f "$pid_file"
  # Fail clearly instead of waiting a minute for a broker that cannot bind its port.
  local p
  for p in "$port" "$controller_port" $sasl_port; do
    if port_open "$p"; then say "port $p on 127.0.0.1 is already in use by another process"; exit 1; fi
  done
  fetch
  mkdir -p "$data_dir"
  [[ -z "$sasl_port" ]] || make_tls
  write_config
  # Format once: meta.properties marks formatted storage, so restarts keep topics and offsets.
  if [[ ! -f "$data_dir/logs/meta.properties" ]]; then
    local format_log="$data_dir/format.log" cluster_id
    "${java[@]}" kafka.tools.StorageTool random-uuid >"$format_log" 2>&1 \
      && cluster_id="$(tail -n 1 "$format_log")" \
      && "${java[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
        -c "$config" >>"$format_log" 2>&1 \
      || { say "formatting the storage failed:"; tail -n 30 "$format_log" >&2; exit 1; }
  fi
  : >"$log_file"
  # setsid: the broker gets its own session, so it outlives the shell (and its Ctrl-C) that
  # started it. In a script, `setsid cmd &` execs cmd in place, so $! is java's pid.
  setsid "${java[@]}" kafka.Kafka "$config" >>"$log_file" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pid_file"
  # Ready = the broker logged that it started AND its client port accepts connections.
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-60}))
  while ((SECONDS < deadline)); do
    if grep -q "Kafka Server started" "$log_file" 2>/dev/null && port_open "$port" \
      && { [[ -z "$sasl_port" ]] || port_open "$sasl_port"; }; then
      ready_lines
      return 0
    fi
    alive "$pid" || break  # not `running`: java may not have replaced setsid yet
    sleep 0.25
  done
  say "the broker did not start; last lines of $log_file:"
  tail -n 40 "$log_file" >&2
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
  exit 1
}

stop() {
  running || { rm -f "$pid_file"; return 0; }
  local pid; pid="$(cat "$pid_file")"
  kill -TERM "$pid"  # controlled shutdown: flushes logs, so the next start needs no recovery
  local deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    alive "$pid" || { rm -f "$pid_file"; return 0; }
    sleep 0.25
  done
  say "the broker did not stop within 30 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

# For fault tests: a crash, not a shutdown. The next start recovers the logs.
kill9() {
  if running; then
    local pid; pid="$(cat "$pid_file")"
    kill -KILL "$pid"
    local deadline=$((SECONDS + 10))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done  # gone: its ports are free
  fi
  rm -f "$pid_file"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  kill9) kill9 ;;
  status)
    if running; then echo "running (pid $(cat "$pid_file")) bootstrap=127.0.0.1:$port"
    else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 fetch|start|stop|kill9|status" >&2; exit 2 ;;
esac
