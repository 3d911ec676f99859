#!/usr/bin/env bash
# Benchmark of `netkit ftp` against pyftpdlib on 127.0.0.1 (not a test).
#
#   scripts/bench-ftp.sh                          # 1 GiB, 5 interleaved rounds, 300 logins
#   SIZE_MIB=256 RUNS=3 LOGINS=100 scripts/bench-ftp.sh   # quicker
#   MODEL=fork scripts/bench-ftp.sh               # netkit on another model (default thread)
#
# Cases, run in interleaved rounds (each round runs every case once, after a
# `sync`, in an order that rotates from round to round, so a slow minute of
# the shared machine hits every case alike); each row gives best and median:
#
# - RETR of a 1 GiB random file (in the page cache) with `curl -o /dev/null`;
# - STOR of the same file with `curl -T`: netkit with `--no-sync` (what
#   pyftpdlib does: it never fsyncs) and netkit with its default fsync;
# - LOGINS (300) clients connecting and logging in at once
#   (scripts/ftp-logins.py: one thread, non-blocking sockets; time until
#   every client has its 230).
#
# Both servers run for the whole benchmark: netkit ftp serve (--model $MODEL)
# and pyftpdlib's default async server (scripts/pyftpdlib-server.py, with
# netkit's listen backlog). Needs curl and python3 with pyftpdlib (pip
# install pyftpdlib). Files live in one temporary directory under $BENCH_DIR
# (default /tmp), removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
LOGINS=${LOGINS:-300}
MODEL=${MODEL:-thread}

for tool in curl python3 bc; do
    command -v "$tool" >/dev/null || { echo "bench-ftp: $tool is not installed" >&2; exit 1; }
done
python3 -c 'import pyftpdlib' 2>/dev/null || { echo "bench-ftp: pip install pyftpdlib" >&2; exit 1; }

cargo build --release --quiet
NETKIT=$PWD/target/release/netkit
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/netkit-bench-ftp.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

BYTES=$((SIZE_MIB * 1024 * 1024))
SRC=$WORK/src.bin
mkdir -p "$WORK/nk" "$WORK/nk-nosync" "$WORK/py"
echo "bench-ftp: $SIZE_MIB MiB file in $WORK, $RUNS interleaved rounds, $LOGINS logins, netkit model $MODEL, $(nproc) cores, commit $(git rev-parse --short HEAD)"
head -c "$BYTES" /dev/urandom > "$SRC"
# The same file to download from each root (hard links: one copy in the page cache).
for d in nk nk-nosync py; do ln "$SRC" "$WORK/$d/big.bin"; done
cat "$SRC" > /dev/null

now() { date +%s.%N; }

# start_netkit LOG ARGS...: starts netkit ftp serve on port 0, sets PORT.
start_netkit() {
    local log=$1
    shift
    "$NETKIT" ftp serve "$@" --port 0 --model "$MODEL" --quiet >/dev/null 2>"$log" &
    PIDS+=($!)
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*listening on tcp:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    echo "bench-ftp: netkit did not start: $(cat "$log")" >&2
    exit 1
}

start_netkit "$WORK/nk.log" "$WORK/nk" --writable
NK=$PORT
start_netkit "$WORK/nk-nosync.log" "$WORK/nk-nosync" --writable --no-sync
NKNS=$PORT
PY=15321
python3 scripts/pyftpdlib-server.py "$PY" "$WORK/py" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    curl -s "ftp://127.0.0.1:$PY/" >/dev/null 2>&1 && break
    sleep 0.05
done

retr() { curl -sS --fail -o /dev/null "ftp://127.0.0.1:$1/big.bin"; }
stor() { rm -f "$2/up.bin"; curl -sS --fail -T "$SRC" "ftp://127.0.0.1:$1/up.bin"; }
# The login cases count the time ftp-logins.py measures itself (from its
# first connect to its last 230), not python3's start.
logins() { python3 scripts/ftp-logins.py 127.0.0.1 "$1" "$LOGINS" >"$WORK/login-secs"; }

NAMES=(
    "netkit RETR"
    "pyftpdlib RETR"
    "netkit STOR --no-sync"
    "netkit STOR (fsync)"
    "pyftpdlib STOR"
    "netkit $LOGINS logins"
    "pyftpdlib $LOGINS logins"
)
CMDS=(
    "retr $NK"
    "retr $PY"
    "stor $NKNS $WORK/nk-nosync"
    "stor $NK $WORK/nk"
    "stor $PY $WORK/py"
    "logins $NK"
    "logins $PY"
)
CHECK=("" "" "$WORK/nk-nosync/up.bin" "$WORK/nk/up.bin" "$WORK/py/up.bin" "" "")

declare -a TIMES
for r in $(seq "$RUNS"); do
    for k in "${!NAMES[@]}"; do
        i=$(((k + r) % ${#NAMES[@]}))
        sync
        t0=$(now)
        eval "${CMDS[$i]}"
        t1=$(now)
        if [ -n "${CHECK[$i]}" ]; then cmp "${CHECK[$i]}" "$SRC"; rm -f "${CHECK[$i]}"; fi
        case ${CMDS[$i]} in
            logins*) TIMES[i]="${TIMES[i]:-} $(cat "$WORK/login-secs")" ;;
            *) TIMES[i]="${TIMES[i]:-} $(echo "$t1 - $t0" | bc -l)" ;;
        esac
    done
    echo "bench-ftp: round $r of $RUNS done"
done

declare -A BEST MED
for i in "${!NAMES[@]}"; do
    sorted=$(printf "%s\n" ${TIMES[i]} | sort -g)
    BEST[${NAMES[$i]}]=$(echo "$sorted" | head -n 1)
    MED[${NAMES[$i]}]=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
done

ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }
rate() { printf "%.2f GB/s" "$(echo "$BYTES / $1 / 1000000000" | bc -l)"; }
echo
echo "| case | best s | median s | median rate | vs pyftpdlib (best) | vs pyftpdlib (median) |"
echo "|---|---:|---:|---:|---:|---:|"
line() { # NAME REFERENCE KIND
    local b=${BEST[$1]} m=${MED[$1]} what vs_b="" vs_m=""
    if [ "$3" = bytes ]; then what=$(rate "$m"); else what="$(printf "%.0f" "$(echo "$LOGINS / $m" | bc -l)") logins/s"; fi
    if [ -n "$2" ]; then
        vs_b="$(ratio "${BEST[$2]}" "$b")x"
        vs_m="$(ratio "${MED[$2]}" "$m")x"
    fi
    printf "| %s | %.3f | %.3f | %s | %s | %s |\n" "$1" "$b" "$m" "$what" "$vs_b" "$vs_m"
}
line "netkit RETR" "pyftpdlib RETR" bytes
line "pyftpdlib RETR" "" bytes
line "netkit STOR --no-sync" "pyftpdlib STOR" bytes
line "netkit STOR (fsync)" "pyftpdlib STOR" bytes
line "pyftpdlib STOR" "" bytes
line "netkit $LOGINS logins" "pyftpdlib $LOGINS logins" logins
line "pyftpdlib $LOGINS logins" "" logins
echo
echo "every run, in round order (seconds):"
for i in "${!NAMES[@]}"; do echo "  ${NAMES[$i]}:${TIMES[i]}"; done
echo
echo "(ratios: pyftpdlib's time / netkit's; above 1 netkit is faster. Transfers: the whole curl command; logins: first connect to last 230.)"
