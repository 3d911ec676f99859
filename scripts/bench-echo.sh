#!/usr/bin/env bash
# Runs the whole echo benchmark table in one go and prints it as Markdown.
#
#   scripts/bench-echo.sh                  # every model at 1, 50 and 1000 clients, 5 s each
#   DURATION=10s scripts/bench-echo.sh     # longer runs
#   MODELS="epoll async" CLIENTS="50" PEERS=0 scripts/bench-echo.sh
#
# Environment: DURATION (default 5s), CLIENTS (default "1 50 1000"), MODELS
# (default: all ten), PEERS (1: also measure the tokio and Python peers),
# SIZE (bytes per request, default 64), REPEAT (run the whole sequence this
# many times, default 1: on a shared machine compare medians), SETTLE (wait up
# to this many seconds before each run for the CPUs to be >= 90% idle over
# 2 s, default 0 = don't wait; useful on a shared machine, adds at most
# SETTLE per run), LOG (full reports, default target/bench-echo.log).
#
# Every run is bounded: the benchmark stops itself after warm-up + DURATION
# (plus connect and shutdown deadlines), and each run is also wrapped in
# `timeout`. With DURATION=5s the whole table takes about 4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
CLIENTS=${CLIENTS:-"1 50 1000"}
MODELS=${MODELS:-"iterative fork prefork thread pool select poll epoll async uring"}
PEERS=${PEERS:-1}
SIZE=${SIZE:-64}
REPEAT=${REPEAT:-1}
SETTLE=${SETTLE:-0}
LOG=${LOG:-target/bench-echo.log}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}

cargo build --release --quiet --bin netkit --example peer_tokio_echo
# Run private copies, so a rebuild in the same tree cannot swap binaries mid-table.
BIN=$(mktemp -d)
cp target/release/netkit target/release/examples/peer_tokio_echo "$BIN/"
NETKIT=$BIN/netkit
TOKIO=$BIN/peer_tokio_echo
PYPEER=bench/peers/threading_echo.py
PYTHON=${PYTHON:-python3}

mkdir -p "$(dirname "$LOG")"
: >"$LOG"
PEER_PID=
PEER_ERR=$(mktemp)
cleanup() {
    if [[ -n $PEER_PID ]]; then kill "$PEER_PID" 2>/dev/null || true; fi
    rm -f "$PEER_ERR"
    rm -rf "$BIN"
}
trap cleanup EXIT

# settle: waits (at most SETTLE seconds) until the CPUs were >= 90% idle for 2 s.
settle() {
    local end=$((SECONDS + SETTLE)) a b idle total i
    while ((SECONDS < end)); do
        read -ra a < <(head -n 1 /proc/stat)
        sleep 2
        read -ra b < <(head -n 1 /proc/stat)
        idle=$((b[4] - a[4]))
        total=0
        for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
        ((total > 0 && idle * 100 / total >= 90)) && return 0
    done
    return 0
}

HEADER_DONE=0
# run_bench ARGS...: one benchmark; prints its table row (and the header once).
run_bench() {
    local out rc=0
    settle
    out=$(timeout -k 5 "$RUN_TIMEOUT" "$NETKIT" bench echo --duration "$DURATION" --size "$SIZE" "$@" 2>&1) || rc=$?
    printf '$ netkit bench echo --duration %s --size %s %s\n%s\n\n' "$DURATION" "$SIZE" "$*" "$out" >>"$LOG"
    if [[ $HEADER_DONE == 0 && $rc == 0 ]]; then
        tail -n 3 <<<"$out" | head -n 2
        HEADER_DONE=1
    fi
    if [[ $rc == 0 ]]; then
        tail -n 1 <<<"$out"
    else
        echo "| $* | failed (exit $rc): $(tail -n 1 <<<"$out" | tr '|' '/') |"
    fi
}

# start_peer CMD...: starts a peer server on port 0 and sets PEER_PORT (or fails within 15 s).
start_peer() {
    : >"$PEER_ERR"
    "$@" 0 2>"$PEER_ERR" >/dev/null &
    PEER_PID=$!
    PEER_PORT=
    for _ in $(seq 150); do
        PEER_PORT=$(grep -o 'listening on tcp://127.0.0.1:[0-9]*' "$PEER_ERR" | head -n 1 | sed 's/.*://') || true
        [[ -n $PEER_PORT ]] && return 0
        kill -0 "$PEER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "peer $* did not start: $(cat "$PEER_ERR")" >&2
    return 1
}

stop_peer() {
    kill "$PEER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$PEER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$PEER_PID" 2>/dev/null || true
    wait "$PEER_PID" 2>/dev/null || true
    PEER_PID=
}

echo "Echo over TCP, $SIZE-byte requests, one request in flight per connection, $DURATION per run"
echo "($(nproc) cores, $(uname -sr), $(date -u '+%Y-%m-%d %H:%M UTC'), load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
for _ in $(seq "$REPEAT"); do
    for model in $MODELS; do
        extra=()
        [[ $model == epoll || $model == uring ]] && extra=(--workers 2)
        for c in $CLIENTS; do
            run_bench --model "$model" "${extra[@]}" --clients "$c"
        done
    done
    if [[ $PEERS == 1 ]]; then
        for c in $CLIENTS; do
            if start_peer "$TOKIO"; then
                run_bench --target "127.0.0.1:$PEER_PORT" --label "tokio peer" --clients "$c"
                stop_peer
            fi
        done
        for c in $CLIENTS; do
            if start_peer "$PYTHON" "$PYPEER"; then
                run_bench --target "127.0.0.1:$PEER_PORT" --label "python ThreadingTCPServer" --clients "$c"
                stop_peer
            fi
        done
    fi
done
echo
echo "(load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
# The load generator's own cost, from the epoll run at 50 clients (see BENCHMARKS.md).
ceiling=$(awk '/^\$ netkit bench echo .*--model epoll .*--clients 50$/ {f=1} f && /load gen:/ {sub(/^ +/, ""); print; exit}' "$LOG")
[[ -n $ceiling ]] && echo "Load generator at epoll/50 clients: ${ceiling#load gen: }"
echo "Full reports: $LOG"
