#!/usr/bin/env bash
# A real, single-node Apache Kafka (KRaft) on 127.0.0.1 without Docker.
#   kafka.sh fetch|start|stop|kill9|status
# Env: KAFKA_VERSION (4.1.1), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (port+1),
#      KAFKA_DATA_DIR (<repo>/run/kafka), KAFKA_HEAP (512m), ENSEMBLE_CACHE (~/.cache/ensemble).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version="${KAFKA_VERSION:-4.1.1}"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
data_dir="${KAFKA_DATA_DIR:-$repo/run/kafka}"
cache="${ENSEMBLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ensemble}/kafka/$version"
libs="$cache/libs"
pid_file="$data_dir/broker.pid"
log_file="$data_dir/broker.log"

fetch() {
  [[ -f "$cache/.complete" ]] && return 0
  command -v mvn >/dev/null || { echo "kafka.sh: Maven (mvn) is required" >&2; exit 1; }
  echo "kafka.sh: fetching Apache Kafka $version from Maven Central into $cache" >&2
  rm -rf "$libs" && mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" -Dkafka.version="$version" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs"
  touch "$cache/.complete"  # only a complete download counts
}

running() {
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

java=(java -Xms256m "-Xmx${KAFKA_HEAP:-512m}" -XX:+UseG1GC -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$here/log4j2.properties" -cp "$libs/*")

write_config() {
  cat >"$data_dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data_dir/logs
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.segment.bytes=67108864
log.retention.hours=168
num.network.threads=2
num.io.threads=4
PROPS
}

start() {
  if running; then
    echo "kafka.sh: already running (pid $(cat "$pid_file")) bootstrap=127.0.0.1:$port" >&2
    return 0
  fi
  fetch
  mkdir -p "$data_dir"
  write_config
  if [[ ! -f "$data_dir/logs/meta.properties" ]]; then  # format once; restarts keep the data
    cluster_id="$("${java[@]}" kafka.tools.StorageTool random-uuid | tail -n 1)"
    "${java[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
      -c "$data_dir/server.properties" >"$data_dir/format.log" 2>&1
  fi
  : >"$log_file"
  # Its own session: the broker outlives the shell that started it, and the pid is java's.
  setsid "${java[@]}" kafka.Kafka "$data_dir/server.properties" >>"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  for _ in $(seq 1 240); do
    if grep -q "Kafka Server started" "$log_file" 2>/dev/null \
      && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "bootstrap=127.0.0.1:$port"
      return 0
    fi
    if ! running; then break; fi
    sleep 0.25
  done
  echo "kafka.sh: the broker did not start; last lines of $log_file:" >&2
  tail -n 40 "$log_file" >&2
  exit 1
}

stop() {
  running || { rm -f "$pid_file"; return 0; }
  local pid; pid="$(cat "$pid_file")"
  kill -TERM "$pid"
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pid_file"; return 0; }
    sleep 0.25
  done
  echo "kafka.sh: broker did not stop in 30s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

kill9() {
  running && kill -KILL "$(cat "$pid_file")"
  rm -f "$pid_file"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  kill9) kill9 ;;
  status) if running; then echo "running (pid $(cat "$pid_file"))"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 fetch|start|stop|kill9|status" >&2; exit 2 ;;
esac
