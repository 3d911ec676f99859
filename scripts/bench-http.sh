#!/usr/bin/env bash
# HTTP benchmark (not a test): wrk against `netkit http` and the static servers
# people choose instead of it, all serving the same files on 127.0.0.1, in
# interleaved rounds (round 1: every server once, round 2: again, ...), so a
# machine whose speed drifts affects all of them alike; each figure is the
# median of its rounds.
#
#   scripts/bench-http.sh                          # 3 rounds, 3 s per run, about 9 minutes
#   ROUNDS=5 DURATION=5s scripts/bench-http.sh     # steadier medians
#   MODELS="epoll" PEERS="h2o lighttpd" scripts/bench-http.sh   # just the headline
#
# Three loads per server:
#   1 KiB, 50 connections:  wrk -t2 -c50 (keep-alive), requests/s
#   1 KiB, 500 connections: wrk -t2 -c500, requests/s
#   100 MiB:                wrk -t2 -c4, throughput in MB/s (10^6 bytes/s)
#
# Servers: netkit on MODELS (epoll, async and uring with --workers 2, the others with
# their defaults; --quiet, so no access log), and PEERS (default: all found):
#   nginx      (Debian nginx)     2 workers, sendfile, tcp_nopush, no access log
#   h2o        (Debian h2o)       2 threads, no access log
#   lighttpd   (Debian lighttpd)  2 workers (server.max-worker), no access log
#   sws        static-web-server  2 threads, no compression, no logs
#   miniserve  miniserve          its defaults (a worker per core)
#   python     python3 -m http.server (the course's reference)
# static-web-server and miniserve are not Debian packages: build them once with
#   cargo install --root ~/.cache/netkit-peers static-web-server miniserve
# (slow; kept outside the repo). PEER_ROOT names that directory; a peer that is
# not installed is skipped with a note. The script installs nothing itself.
# Every server it starts is stopped at exit; wrk shares the two cores with the
# server under test, which is the point: the faster server leaves wrk more CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-3s}
ROUNDS=${ROUNDS:-3}
MODELS=${MODELS:-"iterative fork prefork thread pool select poll epoll async uring"}
PEERS=${PEERS:-"nginx h2o lighttpd sws miniserve python"}
PEER_ROOT=${PEER_ROOT:-$HOME/.cache/netkit-peers}
LOADS=(c50 c500 big)

command -v wrk >/dev/null || { echo "bench-http: needs wrk (apt-get install -y wrk)" >&2; exit 1; }
find_peer() { # NAME -> path or empty
    local p
    p=$(command -v "$1" 2>/dev/null || true)
    [ -z "$p" ] && for d in "$PEER_ROOT/bin" /usr/sbin; do [ -x "$d/$1" ] && p=$d/$1 && break; done
    echo "$p"
}
NGINX=$(find_peer nginx)
H2O=$(find_peer h2o)
LIGHTTPD=$(find_peer lighttpd)
SWS=$(find_peer static-web-server)
MINISERVE=$(find_peer miniserve)

cargo build --release --quiet --bin netkit
WORK=$(mktemp -d /tmp/netkit-bench-http.XXXXXX)
chmod 755 "$WORK"
# A private copy, so a rebuild in the same tree cannot swap the binary mid-table.
cp target/release/netkit "$WORK/netkit"
NETKIT=$WORK/netkit
ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/logs" "$WORK/res"

SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && stop "$SERVER_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

head -c 1024 /dev/urandom >"$ROOT/1k.bin"
head -c $((100 << 20)) /dev/urandom >"$ROOT/100m.bin"
cat "$ROOT/100m.bin" >/dev/null # in the page cache for every server

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http PORT: until the server answers on 127.0.0.1:PORT (max 10 s).
wait_http() {
    local port=$1
    for _ in $(seq 200); do
        if python3 - "$port" 2>/dev/null <<'EOF'; then return 0; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"HEAD /1k.bin HTTP/1.0\r\n\r\n")
sys.exit(0 if s.recv(16).startswith(b"HTTP/1.") else 1)
EOF
        sleep 0.05
    done
    echo "bench-http: nothing answers on port $port" >&2
    return 1
}

# stop PID: SIGTERM, then SIGKILL if it is still there after 8 s.
stop() {
    local pid=$1
    kill "$pid" 2>/dev/null || { SERVER_PID=; return 0; }
    for _ in $(seq 160); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    SERVER_PID=
}

# to_bytes 1.23GB -> bytes (wrk's units are binary: KB = 1024 B).
to_bytes() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        m = 1; if (u == "KB") m = 1024; else if (u == "MB") m = 1024^2;
        else if (u == "GB") m = 1024^3; else if (u == "TB") m = 1024^4
        printf "%.0f", n * m }'
}

# run_wrk KEY LOAD URL [wrk options...]: runs wrk, logs its report, appends
# the figure (requests/s, or MB/s for the big file) to res/KEY.LOAD and the
# errors to res/KEY.LOAD.err.
run_wrk() {
    local key=$1 load=$2 url=$3
    shift 3
    local log="$WORK/logs/run.txt"
    wrk "$@" -d"$DURATION" "$url" >"$log" 2>&1 || true
    local rps transfer errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$log")
    transfer=$(awk '/^Transfer\/sec:/ {print $2}' "$log")
    errors=$(awk '/Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
                  /Non-2xx or 3xx/ { e += $NF }
                  END { print e + 0 }' "$log")
    if [ "$load" = big ]; then
        awk -v b="$(to_bytes "${transfer:-0B}")" 'BEGIN { printf "%.0f\n", b / 1e6 }' >>"$WORK/res/$key.$load"
    else
        echo "${rps:-0}" >>"$WORK/res/$key.$load"
    fi
    echo "$errors" >>"$WORK/res/$key.$load.err"
    {
        echo "== $key, $load: wrk $* -d$DURATION $url"
        cat "$log"
    } >>"$WORK/logs/all.txt"
}

# measure KEY PORT: the three loads against a server on 127.0.0.1:PORT.
measure() {
    local key=$1 port=$2
    echo "bench-http: round $ROUND of $ROUNDS: $key" >&2
    run_wrk "$key" c50 "http://127.0.0.1:$port/1k.bin" -t2 -c50
    run_wrk "$key" c500 "http://127.0.0.1:$port/1k.bin" -t2 -c500
    run_wrk "$key" big "http://127.0.0.1:$port/100m.bin" -t2 -c4 --timeout 30s
}

# start_and_measure KEY PORT CMD...: runs CMD in the background, waits until
# it answers on PORT, measures, stops it.
start_and_measure() {
    local key=$1 port=$2
    shift 2
    # A session of its own: lighttpd signals its whole process group on exit.
    setsid "$@" >"$WORK/logs/$key.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_http "$port"; then
        echo "bench-http: $key did not start: $(tail -5 "$WORK/logs/$key.log")" >&2
        stop "$SERVER_PID"
        return 0
    fi
    measure "$key" "$port"
    stop "$SERVER_PID"
}

declare -A LABEL
ORDER=()
add() { # KEY LABEL
    LABEL[$1]=$2
    ORDER+=("$1")
}

netkit_run() {
    local model=$1 extra=()
    [ "$model" = epoll ] || [ "$model" = async ] || [ "$model" = uring ] && extra=(--workers 2)
    local port
    port=$(free_port)
    start_and_measure "netkit-$model" "$port" \
        "$NETKIT" http "$ROOT" --port "$port" --model "$model" --quiet "${extra[@]}"
}

nginx_run() {
    local port user_line=""
    port=$(free_port)
    mkdir -p "$WORK/nginx-tmp"
    # Run as the current user: a root master would hand workers to `nobody`.
    [ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
    cat >"$WORK/nginx.conf" <<EOF
$user_line
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/logs/nginx-error.log warn;
events { worker_connections 4096; }
http {
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx-tmp/body;
    proxy_temp_path $WORK/nginx-tmp/proxy;
    fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
    scgi_temp_path $WORK/nginx-tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $ROOT;
    }
}
EOF
    start_and_measure nginx "$port" "$NGINX" -p "$WORK" -e "$WORK/logs/nginx-error.log" \
        -c "$WORK/nginx.conf" -g 'daemon off;'
}

h2o_run() {
    local port
    port=$(free_port)
    cat >"$WORK/h2o.conf" <<EOF
listen:
  port: $port
  host: 127.0.0.1
num-threads: 2
hosts:
  default:
    paths:
      /:
        file.dir: $ROOT
EOF
    start_and_measure h2o "$port" "$H2O" -c "$WORK/h2o.conf"
}

lighttpd_run() {
    local port
    port=$(free_port)
    cat >"$WORK/lighttpd.conf" <<EOF
server.document-root = "$ROOT"
server.port = $port
server.bind = "127.0.0.1"
server.max-worker = 2
server.max-fds = 8192
server.max-connections = 4096
server.errorlog = "$WORK/logs/lighttpd-error.log"
server.pid-file = "$WORK/lighttpd.pid"
EOF
    start_and_measure lighttpd "$port" "$LIGHTTPD" -D -f "$WORK/lighttpd.conf"
}

sws_run() {
    local port
    port=$(free_port)
    # --threads-multiplier 1: one worker thread per core (2 here).
    start_and_measure sws "$port" "$SWS" --host 127.0.0.1 --port "$port" --root "$ROOT" \
        --threads-multiplier 1 --compression false --log-level error
}

miniserve_run() {
    local port
    port=$(free_port)
    start_and_measure miniserve "$port" "$MINISERVE" --interfaces 127.0.0.1 --port "$port" "$ROOT"
}

python_run() {
    local port
    port=$(free_port)
    start_and_measure python "$port" python3 -m http.server --bind 127.0.0.1 -d "$ROOT" "$port"
}

# Who takes part, in the order of the table.
for m in $MODELS; do
    case $m in
        epoll | async) add "netkit-$m" "netkit $m (2 workers)" ;;
        *) add "netkit-$m" "netkit $m" ;;
    esac
done
NOTES=()
version_of() { "$@" 2>&1 | head -1 | grep -o '[0-9][0-9.]*[0-9]' | head -1; }
for p in $PEERS; do
    case $p in
        nginx) [ -n "$NGINX" ] && add nginx "nginx $(version_of "$NGINX" -v) (2 workers)" || NOTES+=("nginx: not installed (apt-get install -y nginx-light)") ;;
        h2o) [ -n "$H2O" ] && add h2o "h2o $(version_of "$H2O" --version) (2 threads)" || NOTES+=("h2o: not installed (apt-get install -y h2o)") ;;
        lighttpd) [ -n "$LIGHTTPD" ] && add lighttpd "lighttpd $(version_of "$LIGHTTPD" -v) (2 workers)" || NOTES+=("lighttpd: not installed (apt-get install -y lighttpd)") ;;
        sws) [ -n "$SWS" ] && add sws "static-web-server $(version_of "$SWS" --version) (2 threads)" || NOTES+=("static-web-server: not installed (cargo install --root $PEER_ROOT static-web-server)") ;;
        miniserve) [ -n "$MINISERVE" ] && add miniserve "miniserve $(version_of "$MINISERVE" --version)" || NOTES+=("miniserve: not installed (cargo install --root $PEER_ROOT miniserve)") ;;
        python) add python "python3 -m http.server ($(python3 -c 'import platform; print(platform.python_version())'))" ;;
        *) echo "bench-http: unknown peer $p" >&2; exit 2 ;;
    esac
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$SECONDS
echo "bench-http: $(nproc) cores, $ROUNDS rounds, $DURATION per run, load average before: $LOAD_BEFORE" >&2
for ROUND in $(seq "$ROUNDS"); do
    for key in "${ORDER[@]}"; do
        case $key in
            netkit-*) netkit_run "${key#netkit-}" ;;
            *) "${key}_run" ;;
        esac
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

median() { # FILE -> median of its lines (0 if none)
    [ -s "$1" ] || { echo 0; return; }
    sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
sum() { [ -s "$1" ] && awk '{ s += $1 } END { print s }' "$1" || echo 0; }
declare -A MED ERR
for key in "${ORDER[@]}"; do
    for load in "${LOADS[@]}"; do
        MED[$key.$load]=$(median "$WORK/res/$key.$load")
        ERR[$key.$load]=$(sum "$WORK/res/$key.$load.err")
    done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
fmt() { awk -v a="$1" 'BEGIN { printf "%\047.0f", a }'; }

REF=netkit-epoll
[ -n "${LABEL[$REF]:-}" ] || REF=${ORDER[0]}
echo
echo "wrk on 127.0.0.1, $(nproc) cores shared by wrk and the server; $ROUNDS interleaved rounds of"
echo "$DURATION per run, medians; $(date -u +%F), netkit $(git rev-parse --short HEAD 2>/dev/null || echo '?');"
echo "load average (1/5/15 min) before: $LOAD_BEFORE, after: $LOAD_AFTER; $((SECONDS - START)) s in all."
echo
echo "| server | 1 KiB c50 req/s | c50 vs ${LABEL[$REF]%% (*} | 1 KiB c500 req/s | c500 vs ${LABEL[$REF]%% (*} | 100 MiB MB/s | 100 MiB vs ${LABEL[$REF]%% (*} | wrk errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for key in "${ORDER[@]}"; do
    errs="${ERR[$key.c50]} / ${ERR[$key.c500]} / ${ERR[$key.big]}"
    echo "| ${LABEL[$key]} | $(fmt "${MED[$key.c50]}") | $(ratio "${MED[$key.c50]}" "${MED[$REF.c50]}") | $(fmt "${MED[$key.c500]}") | $(ratio "${MED[$key.c500]}" "${MED[$REF.c500]}") | $(fmt "${MED[$key.big]}") | $(ratio "${MED[$key.big]}" "${MED[$REF.big]}") | $errs |"
done
for n in "${NOTES[@]}"; do echo; echo "- skipped: $n"; done

# The targets of the HTTP work: netkit epoll against each peer.
check() { # LABEL VALUE TARGET
    awk -v l="$1" -v v="$2" -v t="$3" 'BEGIN { printf "- %s: %.2fx (target >= %.1fx): %s\n", l, v, t, (v >= t ? "met" : "MISSED") }'
}
if [ -n "${LABEL[netkit-epoll]:-}" ]; then
    echo
    echo "Targets (netkit epoll, 2 workers):"
    for peer in h2o lighttpd nginx sws miniserve; do
        [ -n "${LABEL[$peer]:-}" ] || continue
        for load in c50 c500; do
            check "1 KiB $load vs ${LABEL[$peer]%% (*}" "$(awk -v a="${MED[netkit-epoll.$load]}" -v b="${MED[$peer.$load]}" 'BEGIN { print (b > 0 ? a / b : 0) }')" 1.0
        done
    done
    [ -n "${LABEL[nginx]:-}" ] && check "100 MiB vs ${LABEL[nginx]%% (*}" "$(awk -v a="${MED[netkit-epoll.big]}" -v b="${MED[nginx.big]}" 'BEGIN { print (b > 0 ? a / b : 0) }')" 1.0
fi

if [ -n "${KEEP_LOGS:-}" ]; then
    cp "$WORK/logs/all.txt" "$KEEP_LOGS"
    echo
    echo "(wrk reports saved to $KEEP_LOGS)"
fi
