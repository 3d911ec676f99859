#!/usr/bin/env bash
# Benchmark of `netkit files` and `netkit ftp` on 127.0.0.1 (not a test).
#
#   scripts/bench-files.sh            # 1 GiB file, best of 3 runs, 300 concurrent clients
#   SIZE_MIB=256 RUNS=1 CLIENTS=50 scripts/bench-files.sh   # quicker
#
# Prints one table of GB/s (1 GB = 10^9 bytes) and ratios against the ceilings:
# iperf3 memory-to-memory over loopback (for network transfers) and `cp` of the
# same file on the same disk (for anything that writes a file; `cp + sync` too,
# since uploads are fsynced before they count as stored). Then 300 concurrent
# clients each getting a 10 MiB file from every model, with the server's peak
# memory (sum of PSS over the server's process tree, so forked children's
# shared pages are not counted twice). The rows that write a file (cp, get into
# a file, put) run interleaved in rounds and report best and median.
#
# Needs: iperf3, curl, python3 with pyftpdlib (apt-get install iperf3 curl;
# pip install pyftpdlib). Every file it makes lives in one temporary directory
# on the disk of $BENCH_DIR (default /var/tmp), removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-300}
MODELS=${MODELS:-"iterative fork prefork thread pool select poll epoll async"}

for tool in iperf3 curl python3; do
    command -v "$tool" >/dev/null || { echo "bench-files: $tool is not installed" >&2; exit 1; }
done
python3 -c 'import pyftpdlib' 2>/dev/null || { echo "bench-files: pip install pyftpdlib" >&2; exit 1; }

cargo build --release --quiet
NETKIT=$PWD/target/release/netkit
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/netkit-bench.XXXXXX")
ROOT=$WORK/root
mkdir -p "$ROOT"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

BYTES=$((SIZE_MIB * 1024 * 1024))
echo "bench-files: $SIZE_MIB MiB file in $WORK, best of $RUNS runs, $(nproc) cores"
head -c "$BYTES" /dev/urandom > "$ROOT/big.bin"
head -c $((10 << 20)) /dev/urandom > "$ROOT/ten.bin"
cat "$ROOT/big.bin" > /dev/null # in the page cache, like every later read

now() { date +%s.%N; }

# best_of CMD...: runs the command RUNS times (sync and a cleanup hook before
# each), prints the best wall time in seconds.
PRE=true
best_of() {
    local best="" t0 t1 t
    for _ in $(seq "$RUNS"); do
        eval "$PRE"
        sync
        t0=$(now)
        eval "$@"
        t1=$(now)
        t=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}

# start_server LOG CMD...: starts a netkit server on port 0, sets PORT.
start_server() {
    local log=$1
    shift
    "$@" 2>"$log" &
    PIDS+=($!)
    SERVER_PID=$!
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*listening on tcp:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    echo "bench-files: server did not start: $(cat "$log")" >&2
    exit 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

gbps() { printf "%.2f" "$(echo "$BYTES / $1 / 1000000000" | bc -l)"; }

declare -A SECS
ROWS=()
row() { SECS[$1]=$2; ROWS+=("$1"); }

# --- ceilings ----------------------------------------------------------------
best=""
for _ in $(seq "$RUNS"); do
    iperf3 -s -1 -p 15201 >/dev/null 2>&1 &
    PIDS+=($!)
    sleep 0.3
    bps=$(iperf3 -c 127.0.0.1 -p 15201 -n "$BYTES" -J |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
    t=$(echo "$BYTES * 8 / $bps" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
done
row "iperf3 -n ${SIZE_MIB}M (memory to memory)" "$best"

# --- netkit files ---------------------------------------------------------------
start_server "$WORK/files.log" "$NETKIT" files serve "$ROOT" --writable --port 0
ADDR=127.0.0.1:$PORT
PRE=true
row "netkit files get -o - >/dev/null" "$(best_of "$NETKIT files get $ADDR big.bin -o - >/dev/null")"
row "netkit files get -o - | cat >/dev/null" "$(best_of "$NETKIT files get $ADDR big.bin -o - | cat >/dev/null")"
stop_server

# --- file writes, in rounds -------------------------------------------------------
# The disk is shared and its speed drifts by 2x within minutes, so everything
# that writes a file runs in rounds (each case once per round, after a sync),
# and each is reported by its best and its median time. Whatever runs right
# after a 1 GiB file was deleted is slower (ext4 frees its blocks), so the
# order rotates from round to round.
start_server "$WORK/files.log" "$NETKIT" files serve "$ROOT" --writable --port 0
ADDR=127.0.0.1:$PORT
SYNC_PID=$SERVER_PID
start_server "$WORK/files-nosync.log" "$NETKIT" files serve "$ROOT" --writable --no-sync --port 0
ADDR_NS=127.0.0.1:$PORT
cp "$ROOT/big.bin" "$WORK/src.bin"
WNAMES=("cp (same disk, page cache)" "cp + sync (same disk, durable)" "netkit files get -o FILE"
    "netkit files put (fsync on the server)" "netkit files put (serve --no-sync)")
WCMDS=("cp $ROOT/big.bin $WORK/out.bin" "cp $ROOT/big.bin $WORK/out.bin && sync $WORK/out.bin"
    "$NETKIT files get $ADDR big.bin -o $WORK/out.bin"
    "$NETKIT files put $ADDR $WORK/src.bin --as put.bin"
    "$NETKIT files put $ADDR_NS $WORK/src.bin --as put.bin")
WOUT=("$WORK/out.bin" "$WORK/out.bin" "$WORK/out.bin" "$ROOT/put.bin" "$ROOT/put.bin")
WTIMES=()
for r in $(seq "$RUNS"); do
    # Each round starts at a different case, so none always follows the same one.
    for k in "${!WNAMES[@]}"; do
        i=$(((k + r) % ${#WNAMES[@]}))
        rm -f "$WORK/out.bin" "$ROOT/put.bin"
        sync
        t0=$(now)
        eval "${WCMDS[$i]}"
        t1=$(now)
        cmp "${WOUT[$i]}" "$ROOT/big.bin"
        WTIMES[i]="${WTIMES[i]:-} $(echo "$t1 - $t0" | bc -l)"
    done
done
rm -f "$WORK/out.bin" "$ROOT/put.bin" "$WORK/src.bin"
stop_server
kill "$SYNC_PID" 2>/dev/null || true
wait "$SYNC_PID" 2>/dev/null || true
declare -A MEDIAN
for i in "${!WNAMES[@]}"; do
    sorted=$(printf "%s\n" ${WTIMES[i]} | sort -g)
    row "${WNAMES[$i]}" "$(echo "$sorted" | head -n 1)"
    MEDIAN[${WNAMES[$i]}]=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
done

# --- FTP: netkit ftp and pyftpdlib, both driven by curl --------------------------
start_server "$WORK/ftp.log" "$NETKIT" ftp serve "$ROOT" --writable --port 0
PRE=true
row "netkit ftp RETR (curl >/dev/null)" "$(best_of "curl -s ftp://127.0.0.1:$PORT/big.bin -o /dev/null")"
cp "$ROOT/big.bin" "$WORK/src.bin"
PRE="rm -f $ROOT/stor.bin"
row "netkit ftp STOR (curl -T, fsync)" "$(best_of "curl -s -T $WORK/src.bin ftp://127.0.0.1:$PORT/stor.bin")"
cmp "$ROOT/stor.bin" "$ROOT/big.bin"
rm -f "$ROOT/stor.bin" "$WORK/src.bin"
stop_server

python3 -m pyftpdlib -i 127.0.0.1 -p 15202 -d "$ROOT" >/dev/null 2>&1 &
PIDS+=($!)
PYFTPD=$!
for _ in $(seq 100); do curl -s "ftp://127.0.0.1:15202/" >/dev/null 2>&1 && break; sleep 0.1; done
PRE=true
row "pyftpdlib RETR (curl >/dev/null)" "$(best_of "curl -s ftp://127.0.0.1:15202/big.bin -o /dev/null")"
kill $PYFTPD 2>/dev/null || true

# --- table ----------------------------------------------------------------------
IPERF_S=${SECS["iperf3 -n ${SIZE_MIB}M (memory to memory)"]}
CP_S=${SECS["cp (same disk, page cache)"]}
CPS_S=${SECS["cp + sync (same disk, durable)"]}
PY_S=${SECS["pyftpdlib RETR (curl >/dev/null)"]}
ratio() { printf "%.2f" "$(echo "$2 / $1" | bc -l)"; } # time ratio = speed ratio
echo
printf "%-42s %8s %7s  %s\n" "transfer of ${SIZE_MIB} MiB on 127.0.0.1" "seconds" "GB/s" "ratios (speed)"
for name in "${ROWS[@]}"; do
    s=${SECS[$name]}
    case "$name" in
    *"put"* | *"STOR"*) r="$(ratio "$s" "$CP_S")x cp, $(ratio "$s" "$CPS_S")x cp+sync" ;;
    *"-o FILE"*) r="$(ratio "$s" "$CP_S")x cp" ;;
    cp*) r="$(ratio "$s" "$IPERF_S")x iperf3" ;;
    *) r="$(ratio "$s" "$IPERF_S")x iperf3, $(ratio "$s" "$PY_S")x pyftpdlib" ;;
    esac
    printf "%-42s %8.3f %7s  %s\n" "$name" "$s" "$(gbps "$s")" "$r"
done

GET_S=${SECS["netkit files get -o - >/dev/null"]}
verdict() { if [ "$(echo "$1" | bc -l)" = 1 ]; then echo "met"; else echo "NOT met"; fi; }
echo
echo "targets:"
echo "  get >/dev/null >= 0.8x iperf3:    $(ratio "$GET_S" "$IPERF_S")x  $(verdict "$IPERF_S / $GET_S >= 0.8")"
echo "  get >/dev/null >= pyftpdlib RETR: $(ratio "$GET_S" "$PY_S")x  $(verdict "$PY_S / $GET_S >= 1")"
GETF_S=${SECS["netkit files get -o FILE"]}
PUT_S=${SECS["netkit files put (fsync on the server)"]}
PUTN_S=${SECS["netkit files put (serve --no-sync)"]}
echo "  get into a file >= 0.8x cp:       $(ratio "$GETF_S" "$CP_S")x  $(verdict "$CP_S / $GETF_S >= 0.8")"
echo "  put into a file >= 0.8x cp:       $(ratio "$PUTN_S" "$CP_S")x  $(verdict "$CP_S / $PUTN_S >= 0.8") (--no-sync; with fsync: $(ratio "$PUT_S" "$CPS_S")x cp+sync)"
echo
echo "file writes by median of the $RUNS rounds (seconds; ratio to the median cp / cp + sync):"
CP_M=${MEDIAN["cp (same disk, page cache)"]}
CPS_M=${MEDIAN["cp + sync (same disk, durable)"]}
for name in "${WNAMES[@]}"; do
    m=${MEDIAN[$name]}
    printf "  %-40s %7.3f  %sx cp, %sx cp+sync\n" "$name" "$m" "$(ratio "$m" "$CP_M")" "$(ratio "$m" "$CPS_M")"
done

# --- many clients -------------------------------------------------------------------
# Peak memory of a process tree: sum of PSS (smaps_rollup) over the server and its
# descendants, sampled every 20 ms until the stop file appears.
cat >"$WORK/peak.py" <<'PY'
import os, sys, time
root, stop, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def tree():
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(p))
            except OSError:
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out
def pss(p):
    try:
        with open(f"/proc/{p}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
peak = procs = 0
while True:
    t = tree()
    total = sum(pss(p) for p in t)
    if total > peak:
        peak, procs = total, len(t)
    if not os.path.exists(ready):
        open(ready, "w").close()
    if os.path.exists(stop):
        break
    time.sleep(0.02)
print(f"{peak / 1024:.1f} {procs}")
PY
echo
echo "$CLIENTS concurrent clients, each getting a 10 MiB file (netkit files get -o - >/dev/null):"
printf "%-10s %6s %8s %9s %16s %s\n" model ok seconds "GB/s" "peak PSS (MiB)" "(processes at peak)"
for model in $MODELS; do
    start_server "$WORK/m.log" "$NETKIT" files serve "$ROOT" --port 0 --model "$model"
    rm -f "$WORK/stop" "$WORK/ready" "$WORK"/rc.*
    python3 "$WORK/peak.py" "$SERVER_PID" "$WORK/stop" "$WORK/ready" >"$WORK/peak.txt" &
    SAMPLER=$!
    while [ ! -e "$WORK/ready" ]; do sleep 0.01; done
    CPIDS=()
    t0=$(now)
    for i in $(seq "$CLIENTS"); do
        ("$NETKIT" files get "127.0.0.1:$PORT" ten.bin -o - --timeout 60s >/dev/null 2>>"$WORK/clients.err"
            echo $? >"$WORK/rc.$i") &
        CPIDS+=($!)
    done
    for p in "${CPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    t1=$(now)
    touch "$WORK/stop"
    wait "$SAMPLER"
    ok=$(cat "$WORK"/rc.* | grep -c '^0$' || true)
    secs=$(echo "$t1 - $t0" | bc -l)
    rate=$(printf "%.2f" "$(echo "$CLIENTS * 10 * 1048576 / $secs / 1000000000" | bc -l)")
    read -r peak procs <"$WORK/peak.txt"
    printf "%-10s %3s/%-3s %8.2f %9s %16s %s\n" "$model" "$ok" "$CLIENTS" "$secs" "$rate" "$peak" "($procs)"
    if [ "$ok" != "$CLIENTS" ]; then sort "$WORK/clients.err" | uniq -c | head -5; fi
    rm -f "$WORK/clients.err"
    stop_server
done
