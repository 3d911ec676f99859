#!/usr/bin/env bash
# HTTP benchmark (not a test): wrk against `netkit http` on every model, nginx
# and `python3 -m http.server`, all serving the same files on 127.0.0.1.
#
#   scripts/bench-http.sh                         # 5 s per run, about 2.5 minutes
#   DURATION=10s scripts/bench-http.sh            # longer runs
#   MODELS="epoll async" scripts/bench-http.sh    # fewer netkit models
#   REPEAT=2 scripts/bench-http.sh                # best of 2 passes (about 4.5 minutes)
#
# Two loads per server:
#   small: a 1 KiB file, wrk -t2 -c50 (keep-alive), requests/s
#   big:   a 100 MiB file, wrk -t2 -c4, throughput in MB/s (10^6 bytes/s)
# and a Markdown table with every server's ratio to nginx (and, for the small
# file, to Python's http.server). nginx runs with 2 workers, sendfile on,
# tcp_nopush on, access log off; netkit epoll and async run with --workers 2,
# the other models with their defaults; netkit always with --quiet.
#
# The iterative model serves one connection at a time: with 50 keep-alive
# connections, one is served and the other 49 wait in the listen backlog until
# wrk gives up after DURATION; the row shows what that one connection got.
# (wrk counts a timeout only for a response that does arrive late, so requests
# that never get an answer do not show up in the errors column.)
#
# Needs wrk, nginx and python3 (apt-get install wrk nginx python3); installs
# nothing itself. Every server it starts is stopped at exit. wrk shares the
# machine's cores with the server under test.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
REPEAT=${REPEAT:-1}
MODELS=${MODELS:-"iterative fork prefork thread pool select poll epoll async"}
SMALL_LOAD=(-t2 -c50)
BIG_LOAD=(-t2 -c4 --timeout 30s)

NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -n "$NGINX" ] || missing+=(nginx)
command -v python3 >/dev/null || missing+=(python3)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "bench-http: missing ${missing[*]}: apt-get install -y ${missing[*]}" >&2
    exit 1
fi

cargo build --release --quiet --bin netkit
WORK=$(mktemp -d /tmp/netkit-bench-http.XXXXXX)
chmod 755 "$WORK"
# A private copy, so a rebuild in the same tree cannot swap the binary mid-table.
cp target/release/netkit "$WORK/netkit"
NETKIT=$WORK/netkit
ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/logs"

# The server being measured (one at a time); stopped at exit whatever happens.
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
    kill "$pid" 2>/dev/null || return 0
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

# run_wrk NAME LOAD URL [wrk options...]: runs wrk, logs its report, prints
# "requests/s bytes/s errors".
run_wrk() {
    local name=$1 load=$2 url=$3
    shift 3
    local log="$WORK/logs/$name-$load.txt"
    wrk "$@" -d"$DURATION" --latency "$url" >"$log" 2>&1 || true
    local rps transfer errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$log")
    transfer=$(awk '/^Transfer\/sec:/ {print $2}' "$log")
    errors=$(awk '/Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
                  /Non-2xx or 3xx/ { e += $NF }
                  END { print e + 0 }' "$log")
    echo "${rps:-0} $(to_bytes "${transfer:-0B}") $errors"
    {
        echo "== $name, $load: wrk $* -d$DURATION $url"
        cat "$log"
    } >>"$WORK/logs/all.txt"
}

NGINX_VERSION=$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')
NGX="nginx $NGINX_VERSION (2 workers)"
PY="python3 -m http.server ($(python3 -c 'import platform; print(platform.python_version())'))"
declare -A RPS MBPS ERRS ERR1 ERR2
NAMES=()

# measure NAME PORT: both loads against a server on 127.0.0.1:PORT. With
# REPEAT > 1 a server's row keeps its best run of each load (interference from
# other work on the machine only ever lowers a result) and its total errors.
measure() {
    local name=$1 port=$2 out rps mbps e1 e2
    echo "bench-http: $name (pass $PASS of $REPEAT) ..." >&2
    out=$(run_wrk "$name" small "http://127.0.0.1:$port/1k.bin" "${SMALL_LOAD[@]}")
    rps=$(echo "$out" | awk '{print $1}')
    e1=$(echo "$out" | awk '{print $3}')
    out=$(run_wrk "$name" big "http://127.0.0.1:$port/100m.bin" "${BIG_LOAD[@]}")
    mbps=$(echo "$out" | awk '{printf "%.0f", $2 / 1e6}')
    e2=$(echo "$out" | awk '{print $3}')
    if [ -z "${RPS[$name]:-}" ]; then
        NAMES+=("$name")
        RPS[$name]=0 MBPS[$name]=0 ERR1[$name]=0 ERR2[$name]=0
    fi
    RPS[$name]=$(awk -v a="${RPS[$name]}" -v b="$rps" 'BEGIN { print (b > a ? b : a) }')
    MBPS[$name]=$(awk -v a="${MBPS[$name]}" -v b="$mbps" 'BEGIN { print (b > a ? b : a) }')
    ERR1[$name]=$((${ERR1[$name]} + e1))
    ERR2[$name]=$((${ERR2[$name]} + e2))
    ERRS[$name]="${ERR1[$name]} / ${ERR2[$name]}"
}

netkit_run() {
    local model=$1 name=$1 extra=()
    if [ "$model" = epoll ] || [ "$model" = async ]; then
        extra=(--workers 2)
        name="$model (2 workers)"
    fi
    local log="$WORK/logs/netkit-$model.log"
    "$NETKIT" http "$ROOT" --port 0 --model "$model" --quiet "${extra[@]}" 2>"$log" &
    local pid=$!
    SERVER_PID=$pid
    local port=""
    for _ in $(seq 200); do
        port=$(sed -n 's/.*listening on tcp:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "bench-http: netkit $model did not start: $(cat "$log")" >&2; exit 1; }
    measure "netkit $name" "$port"
    stop "$pid"
}

nginx_run() {
    local port
    port=$(free_port)
    mkdir -p "$WORK/nginx-tmp"
    local user_line=""
    # Run as the current user: a root master would hand workers to `nobody`.
    [ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
    cat >"$WORK/nginx.conf" <<EOF
$user_line
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/logs/nginx-error.log warn;
events { worker_connections 1024; }
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
    "$NGINX" -p "$WORK" -e "$WORK/logs/nginx-error.log" -c "$WORK/nginx.conf" -g 'daemon off;' \
        2>>"$WORK/logs/nginx-error.log" &
    local pid=$!
    SERVER_PID=$pid
    wait_http "$port" || { cat "$WORK/logs/nginx-error.log" >&2; exit 1; }
    measure "$NGX" "$port"
    stop "$pid"
}

python_run() {
    local port
    port=$(free_port)
    python3 -m http.server --bind 127.0.0.1 -d "$ROOT" "$port" >"$WORK/logs/python.log" 2>&1 &
    local pid=$!
    SERVER_PID=$pid
    wait_http "$port" || { cat "$WORK/logs/python.log" >&2; exit 1; }
    measure "$PY" "$port"
    stop "$pid"
}

LOAD_BEFORE=$(uptime | sed 's/.*load average: //')
echo "bench-http: $(nproc) cores, DURATION=$DURATION, load average before: $LOAD_BEFORE" >&2

# nginx first, then netkit, then Python (the reference next to the other servers).
for PASS in $(seq "$REPEAT"); do
    nginx_run
    for m in $MODELS; do netkit_run "$m"; done
    python_run
done
LOAD_AFTER=$(uptime | sed 's/.*load average: //')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
fmt() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }

echo
best=""
[ "$REPEAT" -gt 1 ] && best=", best of $REPEAT passes"
echo "wrk on 127.0.0.1, $(nproc) cores shared by wrk and the server; $DURATION per run$best;"
echo "1 KiB: \`wrk ${SMALL_LOAD[*]} -d$DURATION\` (keep-alive); 100 MiB: \`wrk ${BIG_LOAD[*]} -d$DURATION\`."
echo "Load average (1/5/15 min) before: $LOAD_BEFORE; after: $LOAD_AFTER."
echo
echo "| server | 1 KiB req/s | vs nginx | vs python | 100 MiB MB/s | vs nginx | wrk errors (1 KiB / 100 MiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for n in "${NAMES[@]}"; do
    echo "| $n | $(fmt "${RPS[$n]}") | $(ratio "${RPS[$n]}" "${RPS[$NGX]}") | $(ratio "${RPS[$n]}" "${RPS[$PY]}") | $(fmt "${MBPS[$n]}") | $(ratio "${MBPS[$n]}" "${MBPS[$NGX]}") | ${ERRS[$n]} |"
done

# Targets.
check() { # LABEL VALUE TARGET
    awk -v l="$1" -v v="$2" -v t="$3" 'BEGIN { printf "- %s: %.2fx (target >= %.1fx): %s\n", l, v, t, (v >= t ? "met" : "MISSED") }'
}
echo
echo "Targets:"
EP="netkit epoll (2 workers)"
if [ -n "${RPS[$EP]:-}" ]; then
    check "epoll (2 workers) vs nginx, 1 KiB req/s" "$(awk -v a="${RPS[$EP]}" -v b="${RPS[$NGX]}" 'BEGIN { print (b > 0 ? a / b : 0) }')" 1.0
    check "epoll (2 workers) vs nginx, 100 MiB MB/s" "$(awk -v a="${MBPS[$EP]}" -v b="${MBPS[$NGX]}" 'BEGIN { print (b > 0 ? a / b : 0) }')" 0.9
fi
for n in "${NAMES[@]}"; do
    case $n in
        "netkit iterative" | "$NGX" | "$PY") continue ;;
    esac
    check "$n vs python, 1 KiB req/s" "$(awk -v a="${RPS[$n]}" -v b="${RPS[$PY]}" 'BEGIN { print (b > 0 ? a / b : 0) }')" 10
done

if [ -n "${KEEP_LOGS:-}" ]; then
    cp "$WORK/logs/all.txt" "$KEEP_LOGS"
    echo
    echo "(wrk reports saved to $KEEP_LOGS)"
fi
