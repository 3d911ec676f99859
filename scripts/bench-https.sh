#!/usr/bin/env bash
# HTTPS benchmark (not a test): wrk against `netkit http --tls-cert` and
# nginx with the same certificate (ECDSA P-256) and TLS 1.3, in interleaved
# rounds, medians of the rounds.
#
#   scripts/bench-https.sh                      # 5 rounds, 3 s per run, about 2 minutes
#   ROUNDS=7 DURATION=5s scripts/bench-https.sh
#   RING=1 scripts/bench-https.sh               # also netkit built with ring
#                                               # (--features ring) in the same rounds
#
# Three loads per server:
#   1 KiB keep-alive:  wrk -t2 -c50, requests/s
#   handshakes:        wrk -t2 -c50 with `Connection: close`, so every request
#                      is a new TCP connection and a full TLS 1.3 handshake
#                      (wrk does not resume sessions): requests/s = handshakes/s
#   100 MiB:           wrk -t2 -c4, MB/s (10^6 bytes/s)
# netkit: epoll, 2 workers, --quiet. nginx: 2 workers, access log off,
# ssl_protocols TLSv1.3, its default ciphers; both pick TLS_AES_256_GCM_SHA384
# with wrk's OpenSSL. The kernel has no kTLS, so neither can sendfile through TLS.
# Needs wrk, nginx and openssl (apt-get install -y wrk nginx-light openssl).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-3s}
ROUNDS=${ROUNDS:-5}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for tool in wrk openssl "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "bench-https: needs $tool" >&2; exit 1; }
done

cargo build --release --quiet --bin netkit
RING=${RING:-}
if [ -n "$RING" ]; then
    CARGO_TARGET_DIR=target/ring cargo build --release --quiet --features ring --bin netkit
fi
WORK=$(mktemp -d /tmp/netkit-bench-https.XXXXXX)
chmod 755 "$WORK"
cp target/release/netkit "$WORK/netkit"
[ -n "$RING" ] && cp target/ring/release/netkit "$WORK/netkit-ring"
ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/res" "$WORK/logs" "$WORK/nginx-tmp"
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

head -c 1024 /dev/urandom >"$ROOT/1k.bin"
head -c $((100 << 20)) /dev/urandom >"$ROOT/100m.bin"
cat "$ROOT/100m.bin" >/dev/null
openssl req -x509 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE \
    -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_tls() {
    for _ in $(seq 200); do
        curl -sk -o /dev/null "https://127.0.0.1:$1/1k.bin" && return 0
        sleep 0.05
    done
    echo "bench-https: nothing answers on port $1" >&2
    return 1
}
to_mb() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        m = 1; if (u == "KB") m = 1024; else if (u == "MB") m = 1024^2; else if (u == "GB") m = 1024^3
        printf "%.0f", n * m / 1e6 }'
}
run() { # KEY LOAD wrk-args...
    local key=$1 load=$2
    shift 2
    wrk "$@" -d"$DURATION" >"$WORK/logs/run.txt" 2>&1 || true
    cat "$WORK/logs/run.txt" >>"$WORK/logs/all.txt"
    if [ "$load" = big ]; then
        to_mb "$(awk '/^Transfer\/sec:/ {print $2}' "$WORK/logs/run.txt")" >>"$WORK/res/$key.$load"
        echo >>"$WORK/res/$key.$load"
    else
        awk '/^Requests\/sec:/ {print $2}' "$WORK/logs/run.txt" >>"$WORK/res/$key.$load"
    fi
}
measure() { # KEY PORT
    local url="https://127.0.0.1:$2"
    echo "bench-https: round $ROUND of $ROUNDS: $1" >&2
    run "$1" keep "$url/1k.bin" -t2 -c50
    run "$1" hand "$url/1k.bin" -t2 -c50 -H "Connection: close"
    run "$1" big "$url/100m.bin" -t2 -c4 --timeout 30s
}

netkit_run() { # [KEY BINARY]
    local port key=${1:-netkit} binary=${2:-$WORK/netkit}
    port=$(free_port)
    "$binary" http "$ROOT" --port "$port" --model epoll --workers 2 --quiet \
        --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" 2>"$WORK/logs/netkit.log" &
    SERVER_PID=$!
    wait_tls "$port"
    measure "$key" "$port"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

nginx_run() {
    local port user_line=""
    port=$(free_port)
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
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx-tmp/body;
    proxy_temp_path $WORK/nginx-tmp/proxy;
    fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
    scgi_temp_path $WORK/nginx-tmp/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        ssl_protocols TLSv1.3;
        root $ROOT;
    }
}
EOF
    setsid "$NGINX" -p "$WORK" -e "$WORK/logs/nginx-error.log" -c "$WORK/nginx.conf" -g 'daemon off;' &
    SERVER_PID=$!
    wait_tls "$port"
    measure nginx "$port"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for ROUND in $(seq "$ROUNDS"); do
    if ((ROUND % 2)); then
        netkit_run; nginx_run; [ -n "$RING" ] && netkit_run ring "$WORK/netkit-ring"
    else
        [ -n "$RING" ] && netkit_run ring "$WORK/netkit-ring"; nginx_run; netkit_run
    fi
done
median() {
    grep -v '^$' "$1" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
echo
echo "HTTPS on 127.0.0.1 ($(nproc) cores shared with wrk), TLS 1.3, ECDSA P-256; $ROUNDS interleaved"
echo "rounds of $DURATION, medians; $(date -u +%F), netkit $(git rev-parse --short HEAD 2>/dev/null || echo '?'),"
echo "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'); load average before: $LOAD_BEFORE."
echo
if [ -n "$RING" ]; then
    echo "| load | netkit epoll (2 workers) | netkit with ring | nginx (2 workers) | netkit / nginx | ring / aws-lc-rs |"
    echo "|---|---:|---:|---:|---:|---:|"
else
    echo "| load | netkit epoll (2 workers) | nginx (2 workers) | netkit / nginx |"
    echo "|---|---:|---:|---:|"
fi
for load in keep hand big; do
    case $load in
        keep) label="1 KiB keep-alive, req/s" ;;
        hand) label="new connections (full handshakes)/s" ;;
        big) label="100 MiB, MB/s" ;;
    esac
    a=$(median "$WORK/res/netkit.$load")
    b=$(median "$WORK/res/nginx.$load")
    if [ -n "$RING" ]; then
        r=$(median "$WORK/res/ring.$load")
        echo "| $label | $(printf "%'.0f" "$a") | $(printf "%'.0f" "$r") | $(printf "%'.0f" "$b") | $(ratio "$a" "$b") | $(ratio "$r" "$a") |"
    else
        echo "| $label | $(printf "%'.0f" "$a") | $(printf "%'.0f" "$b") | $(ratio "$a" "$b") |"
    fi
done
echo
echo "Every round: $(for l in keep hand big; do
    echo -n "$l netkit [$(grep -v '^$' "$WORK/res/netkit.$l" | tr '\n' ' ')] nginx [$(grep -v '^$' "$WORK/res/nginx.$l" | tr '\n' ' ')]"
    [ -n "$RING" ] && echo -n " ring [$(grep -v '^$' "$WORK/res/ring.$l" | tr '\n' ' ')]"
    echo -n "; "
done)"
