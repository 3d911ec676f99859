#!/usr/bin/env bash
# Production-features benchmark (not a test): what compression, Basic auth
# and the response policy cost on the 1 KiB keep-alive rate. wrk -t2 -c50
# against `netkit http --model epoll --workers 2` serving a 1 KiB text file
# on 127.0.0.1, in interleaved rounds; each figure is the median of its
# rounds, and each variant is quoted as a ratio of `plain`.
#
#   scripts/bench-production.sh                        # 5 rounds, 5 s per run, ~3 minutes
#   ROUNDS=3 DURATION=3s scripts/bench-production.sh
#   BEFORE=/path/to/older/netkit scripts/bench-production.sh   # adds that binary as `before`
#
# Variants (the client sends what the variant needs):
#   before        an older netkit binary (BEFORE=...), defaults, no Accept-Encoding
#   plain         defaults (compression on), the client asks for no coding
#   no-compress   --no-compress
#   br            defaults, the client sends Accept-Encoding: gzip, br (cached br form)
#   auth          --auth user:password, the client sends Authorization
#   br+auth       both: the target is within 10% of plain
#   policy        br+auth plus --security-headers, --cors, --header,
#                 --cache-control and --metrics (no access log)
#   log           plain with the access log on (common format, to /dev/null)
#   everything    policy plus the JSON access log (to /dev/null)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-5}
command -v wrk >/dev/null || { echo "bench-production: needs wrk (apt-get install -y wrk)" >&2; exit 1; }

cargo build --release --quiet --bin netkit
WORK=$(mktemp -d /tmp/netkit-bench-prod.XXXXXX)
chmod 755 "$WORK"
cp target/release/netkit "$WORK/netkit"
NETKIT=$WORK/netkit
ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/res"
python3 - "$ROOT/1k.txt" <<'PY'
import sys
line = b"netkit serves this text, and it compresses well enough.\n"
open(sys.argv[1], "wb").write((line * 20)[:1024])
PY

SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.05
    done
    return 1
}

AUTH="Authorization: Basic $(printf 'user:password' | base64)"
AE="Accept-Encoding: gzip, br"
VARIANTS=(plain no-compress br auth br+auth policy log everything)
[ -n "${BEFORE:-}" ] && VARIANTS=(before "${VARIANTS[@]}")

run() { # VARIANT
    local v=$1 bin=$NETKIT port flags=() hdrs=() log=/dev/null
    port=$(free_port)
    case $v in
        before) bin=$BEFORE ;;
        no-compress) flags=(--no-compress) ;;
        br) hdrs=(-H "$AE") ;;
        auth) flags=(--auth user:password); hdrs=(-H "$AUTH") ;;
        br+auth) flags=(--auth user:password); hdrs=(-H "$AE" -H "$AUTH") ;;
        policy | everything)
            flags=(--auth user:password --security-headers --cors '*' --header 'X-Served-By: netkit'
                --cache-control '*.txt=public, max-age=60' --metrics)
            [ "$v" = everything ] && flags+=(--log-format json)
            hdrs=(-H "$AE" -H "$AUTH") ;;
    esac
    local quiet=(--quiet)
    [ "$v" = everything ] || [ "$v" = log ] && quiet=()
    "$bin" http "$ROOT" --port "$port" --model epoll --workers 2 "${quiet[@]}" "${flags[@]}" >/dev/null 2>"$log" &
    SERVER_PID=$!
    wait_up "$port" || { echo "bench-production: $v did not start" >&2; exit 1; }
    # The answer is checked once: the coding and status the variant expects.
    curl -s -D "$WORK/head" -o /dev/null "${hdrs[@]}" "http://127.0.0.1:$port/1k.txt"
    grep -q "^HTTP/1.1 200" "$WORK/head" || { echo "bench-production: $v: $(head -1 "$WORK/head")" >&2; exit 1; }
    wrk -t2 -c50 -d"$DURATION" "${hdrs[@]}" "http://127.0.0.1:$port/1k.txt" >"$WORK/wrk.txt" 2>&1 || true
    awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.txt" >>"$WORK/res/$v"
    if grep -q "Non-2xx" "$WORK/wrk.txt"; then echo "bench-production: $v had errors" >&2; cat "$WORK/wrk.txt" >&2; fi
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

for ROUND in $(seq "$ROUNDS"); do
    for v in "${VARIANTS[@]}"; do
        echo "bench-production: round $ROUND of $ROUNDS: $v" >&2
        run "$v"
    done
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'; }
PLAIN=$(median "$WORK/res/plain")
echo
echo "1 KiB text, wrk -t2 -c50, epoll --workers 2, median of $ROUNDS x $DURATION ($(git rev-parse --short HEAD), $(date -u +%Y-%m-%d))"
printf '| %-12s | %10s | %8s | %s |\n' variant "req/s" "vs plain" "rounds"
printf '|%s|%s|%s|%s|\n' "--------------" "-----------:" "---------:" "---"
for v in "${VARIANTS[@]}"; do
    m=$(median "$WORK/res/$v")
    printf '| %-12s | %10.0f | %7.2fx | %s |\n' "$v" "$m" "$(awk -v a="$m" -v b="$PLAIN" 'BEGIN {print a / b}')" "$(paste -sd' ' "$WORK/res/$v")"
done
