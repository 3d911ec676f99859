#!/usr/bin/env bash
# Benchmark of `netkit files` and `netkit ftp` on 127.0.0.1 (not a test).
#
#   scripts/bench-files.sh            # 1 GiB file, 3 interleaved rounds, 300 concurrent clients
#   SIZE_MIB=256 RUNS=1 CLIENTS=50 scripts/bench-files.sh   # quicker
#
# Prints one table of GB/s (1 GB = 10^9 bytes) and ratios against the ceilings:
# iperf3 memory-to-memory over loopback (for network transfers) and `cp` of the
# same file on the same disk (for anything that writes a file; `cp + sync` too,
# since uploads are fsynced before they count as stored). Then 300 concurrent
# clients each getting a 10 MiB file from every model, with the server's peak
# memory (sum of PSS over the server's process tree, so forked children's
# shared pages are not counted twice). All transfers run interleaved in rounds
# (network transfers, then file writes) and report best and median.
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
echo "bench-files: $SIZE_MIB MiB file in $WORK, $RUNS interleaved rounds, $(nproc) cores"
head -c "$BYTES" /dev/urandom > "$ROOT/big.bin"
head -c $((10 << 20)) /dev/urandom > "$ROOT/ten.bin"
cat "$ROOT/big.bin" > /dev/null # in the page cache, like every later read

now() { date +%s.%N; }

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
declare -A MEDIAN

# in_rounds: runs every case of CASE_NAMES/CASE_CMDS RUNS times, interleaved:
# one run of each case per round (after a `sync`), the order rotating from
# round to round, so a slow minute of the shared machine or disk hits every
# case alike instead of one row. CASE_OUTS names the file a case writes ("" for
# none): it is removed before each run and compared with big.bin after it.
# Each case becomes a row with its best time; MEDIAN keeps the median.
in_rounds() {
    local r k i t0 t1 sorted
    local -a times=()
    for r in $(seq "$RUNS"); do
        for k in "${!CASE_NAMES[@]}"; do
            i=$(((k + r) % ${#CASE_NAMES[@]}))
            [ -n "${CASE_OUTS[$i]}" ] && rm -f "${CASE_OUTS[$i]}"
            sync
            t0=$(now)
            eval "${CASE_CMDS[$i]}"
            t1=$(now)
            if [ -n "${CASE_OUTS[$i]}" ]; then cmp "${CASE_OUTS[$i]}" "$ROOT/big.bin"; fi
            times[i]="${times[i]:-} $(echo "$t1 - $t0" | bc -l)"
        done
    done
    for i in "${!CASE_NAMES[@]}"; do
        [ -n "${CASE_OUTS[$i]}" ] && rm -f "${CASE_OUTS[$i]}"
        sorted=$(printf "%s\n" ${times[i]} | sort -g)
        row "${CASE_NAMES[$i]}" "$(echo "$sorted" | head -n 1)"
        MEDIAN[${CASE_NAMES[$i]}]=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
    done
}

# --- servers -----------------------------------------------------------------------
# Every server runs for the whole benchmark; each row is the wall time of one
# whole client command (start, connect, transfer, exit), iperf3's included.
iperf3 -s -p 15201 >/dev/null 2>&1 &
PIDS+=($!)
start_server "$WORK/files.log" "$NETKIT" files serve "$ROOT" --writable --port 0
ADDR=127.0.0.1:$PORT
start_server "$WORK/files-nosync.log" "$NETKIT" files serve "$ROOT" --writable --no-sync --port 0
ADDR_NS=127.0.0.1:$PORT
start_server "$WORK/ftp.log" "$NETKIT" ftp serve "$ROOT" --writable --port 0
FTP_PORT=$PORT
python3 -m pyftpdlib -i 127.0.0.1 -p 15202 -d "$ROOT" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s "ftp://127.0.0.1:15202/" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 50); do iperf3 -c 127.0.0.1 -p 15201 -n 1K >/dev/null 2>&1 && break; sleep 0.1; done
cp "$ROOT/big.bin" "$WORK/src.bin"

# --- network transfers (nothing written to disk) ---------------------------------
CASE_NAMES=("iperf3 -n ${SIZE_MIB}M (memory to memory)" "netkit files get -o - >/dev/null"
    "netkit files get -o - | cat >/dev/null" "netkit ftp RETR (curl >/dev/null)"
    "pyftpdlib RETR (curl >/dev/null)")
CASE_CMDS=("iperf3 -c 127.0.0.1 -p 15201 -n $BYTES >/dev/null"
    "$NETKIT files get $ADDR big.bin -o - >/dev/null"
    "$NETKIT files get $ADDR big.bin -o - | cat >/dev/null"
    "curl -s ftp://127.0.0.1:$FTP_PORT/big.bin -o /dev/null"
    "curl -s ftp://127.0.0.1:15202/big.bin -o /dev/null")
CASE_OUTS=("" "" "" "" "")
in_rounds

# --- file writes ------------------------------------------------------------------
CASE_NAMES=("cp (same disk, page cache)" "cp + sync (same disk, durable)" "netkit files get -o FILE"
    "netkit files put (fsync on the server)" "netkit files put (serve --no-sync)"
    "netkit ftp STOR (curl -T, fsync)")
CASE_CMDS=("cp $ROOT/big.bin $WORK/out.bin" "cp $ROOT/big.bin $WORK/out.bin && sync $WORK/out.bin"
    "$NETKIT files get $ADDR big.bin -o $WORK/out.bin"
    "$NETKIT files put $ADDR $WORK/src.bin --as put.bin"
    "$NETKIT files put $ADDR_NS $WORK/src.bin --as put.bin"
    "curl -s -T $WORK/src.bin ftp://127.0.0.1:$FTP_PORT/stor.bin")
CASE_OUTS=("$WORK/out.bin" "$WORK/out.bin" "$WORK/out.bin" "$ROOT/put.bin" "$ROOT/put.bin" "$ROOT/stor.bin")
in_rounds
rm -f "$WORK/src.bin"
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()

# --- table ----------------------------------------------------------------------
IPERF_S=${SECS["iperf3 -n ${SIZE_MIB}M (memory to memory)"]}
CP_S=${SECS["cp (same disk, page cache)"]}
CPS_S=${SECS["cp + sync (same disk, durable)"]}
PY_S=${SECS["pyftpdlib RETR (curl >/dev/null)"]}
IPERF_M=${MEDIAN["iperf3 -n ${SIZE_MIB}M (memory to memory)"]}
CP_M=${MEDIAN["cp (same disk, page cache)"]}
CPS_M=${MEDIAN["cp + sync (same disk, durable)"]}
PY_M=${MEDIAN["pyftpdlib RETR (curl >/dev/null)"]}
ratio() { printf "%.2f" "$(echo "$2 / $1" | bc -l)"; } # time ratio = speed ratio
# ratios NAME SECONDS IPERF CP CPS PY: the ratios that matter for that row.
ratios() {
    case "$1" in
    *"put"* | *"STOR"*) echo "$(ratio "$2" "$4")x cp, $(ratio "$2" "$5")x cp+sync" ;;
    *"-o FILE"*) echo "$(ratio "$2" "$4")x cp" ;;
    cp*) echo "$(ratio "$2" "$3")x iperf3" ;;
    *) echo "$(ratio "$2" "$3")x iperf3, $(ratio "$2" "$6")x pyftpdlib" ;;
    esac
}
echo
printf "%-42s %8s %7s  %-32s %8s  %s\n" "transfer of ${SIZE_MIB} MiB on 127.0.0.1" "best s" "GB/s" "ratios (speed, best)" "median s" "ratios (medians)"
for name in "${ROWS[@]}"; do
    s=${SECS[$name]}
    m=${MEDIAN[$name]}
    printf "%-42s %8.3f %7s  %-32s %8.3f  %s\n" "$name" "$s" "$(gbps "$s")" \
        "$(ratios "$name" "$s" "$IPERF_S" "$CP_S" "$CPS_S" "$PY_S")" \
        "$m" "$(ratios "$name" "$m" "$IPERF_M" "$CP_M" "$CPS_M" "$PY_M")"
done

verdict() { if [ "$(echo "$1" | bc -l)" = 1 ]; then echo "met"; else echo "NOT met"; fi; }
# target LABEL ROW CEILING_SECONDS_BEST CEILING_SECONDS_MEDIAN FACTOR
target() {
    local b=${SECS[$2]} m=${MEDIAN[$2]}
    printf "  %-34s best %sx %-8s median %sx %s\n" "$1" "$(ratio "$b" "$3")" "$(verdict "$3 / $b >= $5")" \
        "$(ratio "$m" "$4")" "$(verdict "$4 / $m >= $5")"
}
echo
echo "targets:"
target "get >/dev/null >= 0.8x iperf3:" "netkit files get -o - >/dev/null" "$IPERF_S" "$IPERF_M" 0.8
target "get >/dev/null >= pyftpdlib RETR:" "netkit files get -o - >/dev/null" "$PY_S" "$PY_M" 1
target "get into a file >= 0.8x cp:" "netkit files get -o FILE" "$CP_S" "$CP_M" 0.8
target "put (--no-sync) >= 0.8x cp:" "netkit files put (serve --no-sync)" "$CP_S" "$CP_M" 0.8
target "put (fsync) >= 0.8x cp + sync:" "netkit files put (fsync on the server)" "$CPS_S" "$CPS_M" 0.8

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
