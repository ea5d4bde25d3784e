#!/usr/bin/env bash
# Drive a local three-node raftree cluster by hand: each node runs in the background as
# `node dist/raftree.mjs serve`, with its pid file under $RAFTREE_DATA/run and its log
# under $RAFTREE_DATA/logs. It is the same cluster (ports, data, pid files) as `npm start`.
#
#   scripts/cluster.sh start [NODE...]    start the nodes that are not running
#   scripts/cluster.sh stop [NODE...]     SIGTERM, then SIGKILL after RAFTREE_STOP_TIMEOUT s
#   scripts/cluster.sh status             pid, up/down and the /status summary of each node
#   scripts/cluster.sh kill NODE          SIGKILL (crash it: the kill-the-leader walkthrough)
#   scripts/cluster.sh restart NODE       stop it if it runs, start it again
#   scripts/cluster.sh leader             print the leader's id (waits up to RAFTREE_LEADER_WAIT s)
#   scripts/cluster.sh logs NODE          follow a node's log
#
# Environment: RAFTREE_DATA (./data), RAFTREE_HOST (127.0.0.1), RAFTREE_BASE_PORT (7001),
# RAFTREE_HTTP_BASE_PORT (base + 1000); nodes also read the other RAFTREE_* serve variables.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="$ROOT/dist/raftree.mjs"
DATA="${RAFTREE_DATA:-./data}"
HOST="${RAFTREE_HOST:-127.0.0.1}"
BASE_PORT="${RAFTREE_BASE_PORT:-7001}"
HTTP_BASE_PORT="${RAFTREE_HTTP_BASE_PORT:-$((BASE_PORT + 1000))}"
STOP_TIMEOUT="${RAFTREE_STOP_TIMEOUT:-10}"
START_TIMEOUT="${RAFTREE_START_TIMEOUT:-20}"
LEADER_WAIT="${RAFTREE_LEADER_WAIT:-5}"
NODES=(n1 n2 n3)

die() { echo "cluster.sh: $*" >&2; exit 1; }

node_index() {
  local i
  for i in "${!NODES[@]}"; do
    if [[ "${NODES[$i]}" == "$1" ]]; then echo "$i"; return 0; fi
  done
  die "unknown node '$1' (expected one of: ${NODES[*]})"
}

grpc_addr() { echo "$HOST:$((BASE_PORT + $(node_index "$1")))"; }
http_addr() { echo "$HOST:$((HTTP_BASE_PORT + $(node_index "$1")))"; }
pid_file() { echo "$DATA/run/$1.pid"; }
log_file() { echo "$DATA/logs/$1.log"; }

peers() {
  local id list=""
  for id in "${NODES[@]}"; do list+="${list:+,}$id=$(grpc_addr "$id")"; done
  echo "$list"
}

# The node's pid if it is running, else nothing (and status 1). The pid is checked against the
# command line so a recycled pid is never mistaken for (or killed as) a node.
running_pid() {
  local file pid
  file="$(pid_file "$1")"
  [[ -f "$file" ]] || return 1
  pid="$(tr -dc '0-9' < "$file")"
  [[ -n "$pid" ]] && pid_alive "$pid" || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- " serve .*--id $1 " || return 1
  fi
  echo "$pid"
}

# True while the process exists and is not a zombie (an unreaped zombie still answers kill -0).
pid_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  if [[ -r "/proc/$1/stat" ]]; then
    [[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]] || return 1
  fi
}

http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 2 "http://$1" 2>/dev/null
  else
    node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
      .then(async (r) => { if (!r.ok) process.exit(1); process.stdout.write(await r.text()); })
      .catch(() => process.exit(1))' "http://$1"
  fi
}

# Reads /status JSON on stdin and prints the field named by $1 ("summary" for one line).
status_field() {
  node -e '
    let text = "";
    process.stdin.on("data", (d) => (text += d)).on("end", () => {
      const s = JSON.parse(text);
      const field = process.argv[1];
      if (field !== "summary") return console.log(s[field] ?? "");
      console.log(`${s.role.padEnd(12)} term ${s.term}  leader ${s.leader ?? "none"}  commit ${s.commitIndex}  applied ${s.appliedIndex}  keys ${s.keys}  revision ${s.revision}`);
    });' "$1"
}

start_node() {
  local id="$1" pid log
  if pid="$(running_pid "$id")"; then
    echo "$id already running (pid $pid)"
    return 0
  fi
  mkdir -p "$DATA/$id" "$DATA/run" "$DATA/logs"
  log="$(log_file "$id")"
  echo "--- $(date -u +%FT%TZ) starting $id" >>"$log"
  nohup node "$CLI" serve --id "$id" --listen "$(grpc_addr "$id")" --http "$(http_addr "$id")" \
    --peers "$(peers)" --data "$DATA/$id" </dev/null >>"$log" 2>&1 &
  echo "$!" >"$(pid_file "$id")"
  echo "$id started (pid $!): gRPC $(grpc_addr "$id"), http://$(http_addr "$id")/, log $log"
}

# Waits until each node answers /status; a node that died meanwhile gets the tail of its log shown.
wait_until_up() {
  local id deadline=$((SECONDS + START_TIMEOUT)) failed=0
  for id in "$@"; do
    until http_get "$(http_addr "$id")/status" >/dev/null; do
      # Just the pid: right after the fork the command line is still this script's.
      if ! pid_alive "$(tr -dc '0-9' < "$(pid_file "$id")")"; then
        echo "$id failed to start; the end of $(log_file "$id"):" >&2
        tail -n 5 "$(log_file "$id")" >&2 || true
        failed=1
        break
      fi
      if ((SECONDS >= deadline)); then
        echo "$id is running but its HTTP port did not answer within ${START_TIMEOUT}s" >&2
        failed=1
        break
      fi
      sleep 0.2
    done
  done
  return "$failed"
}

stop_nodes() {
  local id pid i pids=() ids=() deadline
  for id in "$@"; do
    if pid="$(running_pid "$id")"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      ids+=("$id")
    fi
    rm -f "$(pid_file "$id")"
  done
  ((${#pids[@]} > 0)) || { echo "no node was running"; return 0; }
  deadline=$((SECONDS + STOP_TIMEOUT))
  for i in "${!pids[@]}"; do
    while pid_alive "${pids[$i]}" && ((SECONDS < deadline)); do sleep 0.1; done
    if pid_alive "${pids[$i]}"; then
      echo "${ids[$i]} did not stop within ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
    echo "${ids[$i]} stopped"
  done
}

kill_node() {
  local id="$1" pid
  pid="$(running_pid "$id")" || die "$id is not running"
  kill -KILL "$pid"
  while pid_alive "$pid"; do sleep 0.05; done
  rm -f "$(pid_file "$id")"
  echo "$id killed (SIGKILL, pid $pid)"
}

print_status() {
  local id pid json
  printf '%-4s %-8s %-6s %-22s %s\n' NODE PID STATE HTTP RAFT
  for id in "${NODES[@]}"; do
    if pid="$(running_pid "$id")"; then
      if json="$(http_get "$(http_addr "$id")/status")"; then
        printf '%-4s %-8s %-6s %-22s %s\n' "$id" "$pid" up "$(http_addr "$id")" "$(status_field summary <<<"$json")"
      else
        printf '%-4s %-8s %-6s %-22s %s\n' "$id" "$pid" up "$(http_addr "$id")" "(HTTP port not answering)"
      fi
    else
      printf '%-4s %-8s %-6s %-22s %s\n' "$id" - down "$(http_addr "$id")" -
    fi
  done
}

# Only a node that itself says it is the leader counts: followers remember a dead leader
# until their election timeout fires.
print_leader() {
  local id json deadline=$((SECONDS + LEADER_WAIT))
  while :; do
    for id in "${NODES[@]}"; do
      json="$(http_get "$(http_addr "$id")/status")" || continue
      if [[ "$(status_field role <<<"$json")" == leader ]]; then
        echo "$id"
        return 0
      fi
    done
    ((SECONDS < deadline)) || die "no leader (is the cluster running, with a majority up?)"
    sleep 0.2
  done
}

require_built() {
  [[ -f "$CLI" ]] || die "$CLI is missing: run 'npm run build' first"
}

main() {
  local command="${1:-}"
  shift || true
  case "$command" in
    start)
      require_built
      local targets id
      targets=("$@")
      ((${#targets[@]} > 0)) || targets=("${NODES[@]}")
      for id in "${targets[@]}"; do node_index "$id" >/dev/null; done
      for id in "${targets[@]}"; do start_node "$id"; done
      wait_until_up "${targets[@]}"
      ;;
    stop)
      local targets id
      targets=("$@")
      ((${#targets[@]} > 0)) || targets=("${NODES[@]}")
      for id in "${targets[@]}"; do node_index "$id" >/dev/null; done
      stop_nodes "${targets[@]}"
      ;;
    status) print_status ;;
    kill)
      [[ $# -eq 1 ]] || die "usage: cluster.sh kill NODE"
      node_index "$1" >/dev/null
      kill_node "$1"
      ;;
    restart)
      [[ $# -eq 1 ]] || die "usage: cluster.sh restart NODE"
      require_built
      node_index "$1" >/dev/null
      if running_pid "$1" >/dev/null; then stop_nodes "$1"; fi
      start_node "$1"
      wait_until_up "$1"
      ;;
    leader) print_leader ;;
    logs)
      [[ $# -eq 1 ]] || die "usage: cluster.sh logs NODE"
      node_index "$1" >/dev/null
      exec tail -n 50 -F "$(log_file "$1")"
      ;;
    *)
      sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      [[ -z "$command" || "$command" == help || "$command" == -h || "$command" == --help ]] || exit 2
      ;;
  esac
}

main "$@"
