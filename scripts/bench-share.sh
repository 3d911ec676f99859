#!/usr/bin/env bash
# Benchmark of `netkit http` as a file-sharing server on 127.0.0.1 (not a test).
#
#   scripts/bench-share.sh                     # 1 GiB upload, 1,000-file archive, 5 rounds
#   SIZE_MIB=256 FILES=200 RUNS=3 scripts/bench-share.sh   # quicker
#
# Uploads: `curl -T` of a SIZE_MIB file to `netkit http --upload` against
# `netkit files put` of the same file to `netkit files serve --writable`, both
# fsyncing before they answer (their defaults), both on their default model
# (http: epoll, files: fork), the same disk. Archives: `?download=tar` (and
# zip, tar.gz) of a folder of FILES files of 64 KiB, saved by curl to
# /dev/null, against `tar -cf -` of the same folder piped to `cat >/dev/null`
# (GNU tar writing to /dev/null itself would skip reading the files); the tar
# download piped to cat as well, for the same pipeline on both sides. All cases run
# interleaved: RUNS rounds, each running every case once after a `sync`, in an
# order that rotates; each row gives its best and its median, and the ratios
# are of medians. Holds /tmp/netkit-quiet while it runs (others wait for it
# to go).
#
# Needs curl and tar. Files live in a temporary directory on the disk of
# $BENCH_DIR (default /var/tmp), removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-1024}
FILES=${FILES:-1000}
RUNS=${RUNS:-5}

for tool in curl tar bc; do
    command -v "$tool" >/dev/null || { echo "bench-share: $tool is not installed" >&2; exit 1; }
done

while [ -e /tmp/netkit-quiet ]; do
    echo "bench-share: /tmp/netkit-quiet exists (another benchmark runs); waiting" >&2
    sleep 20
done
cargo build --release --quiet --bin netkit
BIN=$(mktemp -d)
cp target/release/netkit "$BIN/"
NETKIT=$BIN/netkit
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/netkit-share.XXXXXX")
PIDS=()
touch /tmp/netkit-quiet
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK" "$BIN"
    rm -f /tmp/netkit-quiet
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

BYTES=$((SIZE_MIB * 1024 * 1024))
echo "bench-share: $SIZE_MIB MiB upload, $FILES-file folder, $RUNS interleaved rounds, $(nproc) cores, commit $(git rev-parse --short HEAD)"
mkdir -p "$WORK/http" "$WORK/files" "$WORK/tree/folder"
head -c "$BYTES" /dev/urandom > "$WORK/src.bin"
for i in $(seq -w 1 "$FILES"); do
    head -c 65536 /dev/urandom > "$WORK/tree/folder/file-$i.bin"
done
cat "$WORK/src.bin" "$WORK"/tree/folder/* > /dev/null

now() { date +%s.%N; }

# start_server LOG CMD...: starts a netkit server on port 0, sets PORT.
start_server() {
    local log=$1
    shift
    "$@" 2>"$log" &
    PIDS+=($!)
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*listening on tcp:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    echo "bench-share: server did not start: $(cat "$log")" >&2
    exit 1
}

start_server "$WORK/http.log" "$NETKIT" http "$WORK/http" --upload --quiet --bind 127.0.0.1 --port 0
HTTP=127.0.0.1:$PORT
start_server "$WORK/files.log" "$NETKIT" files serve "$WORK/files" --writable --bind 127.0.0.1 --port 0
FILESRV=127.0.0.1:$PORT
start_server "$WORK/tree.log" "$NETKIT" http "$WORK/tree" --archives --quiet --bind 127.0.0.1 --port 0
TREE=127.0.0.1:$PORT

declare -A BEST MEDIAN
# in_rounds: every case of CASE_NAMES/CASE_CMDS, RUNS times, interleaved;
# CASE_CLEAN is run (untimed) after each run.
in_rounds() {
    local r k i t0 t1 sorted
    local -a times=()
    for r in $(seq "$RUNS"); do
        for k in "${!CASE_NAMES[@]}"; do
            i=$(((k + r) % ${#CASE_NAMES[@]}))
            sync
            t0=$(now)
            eval "${CASE_CMDS[$i]}"
            t1=$(now)
            eval "${CASE_CLEAN[$i]}"
            times[i]="${times[i]:-} $(echo "$t1 - $t0" | bc -l)"
        done
    done
    for i in "${!CASE_NAMES[@]}"; do
        sorted=$(printf "%s\n" ${times[i]} | sort -g)
        BEST[${CASE_NAMES[$i]}]=$(echo "$sorted" | head -n 1)
        MEDIAN[${CASE_NAMES[$i]}]=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
    done
}

# Uploads (the received file is compared with the source, untimed).
# A PUT from a zero-copy client too (python's socket.sendfile), like `netkit
# files put`: curl copies the file through user space, which on a quiet
# machine is most of the difference.
cat > "$WORK/put.py" <<'PY'
import os, socket, sys
host, port = sys.argv[1].split(":")
path = sys.argv[2]
s = socket.create_connection((host, int(port)))
size = os.path.getsize(path)
s.sendall(f"PUT /up.bin HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())
with open(path, "rb") as f:
    s.sendfile(f)
reply = b""
while chunk := s.recv(65536):
    reply += chunk
assert reply.startswith(b"HTTP/1.1 201"), reply[:200]
PY
CASE_NAMES=("netkit files put" "curl -T to netkit http --upload" "sendfile PUT to netkit http --upload")
CASE_CMDS=("$NETKIT files put $FILESRV $WORK/src.bin --as up.bin >/dev/null"
    "curl -sS -o /dev/null -T $WORK/src.bin http://$HTTP/up.bin"
    "python3 $WORK/put.py $HTTP $WORK/src.bin")
CASE_CLEAN=("cmp $WORK/files/up.bin $WORK/src.bin && rm $WORK/files/up.bin"
    "cmp $WORK/http/up.bin $WORK/src.bin && rm $WORK/http/up.bin"
    "cmp $WORK/http/up.bin $WORK/src.bin && rm $WORK/http/up.bin")
in_rounds

# Archives of the folder (the tar is checked once, untimed).
curl -sS "http://$TREE/folder/?download=tar" | tar -t | wc -l | grep -qx "$((FILES + 1))"
CASE_NAMES=("tar -cf - | cat" "curl ?download=tar -o /dev/null" "curl ?download=tar | cat"
    "curl ?download=zip -o /dev/null" "curl ?download=tar.gz -o /dev/null")
CASE_CMDS=("tar -cf - -C $WORK/tree folder | cat >/dev/null"
    "curl -sS http://$TREE/folder/?download=tar -o /dev/null"
    "curl -sS http://$TREE/folder/?download=tar | cat >/dev/null"
    "curl -sS http://$TREE/folder/?download=zip -o /dev/null"
    "curl -sS 'http://$TREE/folder/?download=tar.gz' -o /dev/null")
CASE_CLEAN=(":" ":" ":" ":" ":")
in_rounds

secs() { printf "%.3f" "$1"; }
ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }
mbps() { printf "%.0f" "$(echo "$1 / $2 / 1000000" | bc -l)"; }
ARCH_BYTES=$((FILES * 65536))
echo
echo "| case | best s | median s | MB/s (median) | ratio (medians) |"
echo "|---|---:|---:|---:|---|"
P=${MEDIAN["netkit files put"]}
for c in "netkit files put" "curl -T to netkit http --upload" "sendfile PUT to netkit http --upload"; do
    echo "| $c ($SIZE_MIB MiB) | $(secs "${BEST[$c]}") | $(secs "${MEDIAN[$c]}") | $(mbps "$BYTES" "${MEDIAN[$c]}") | $(ratio "$P" "${MEDIAN[$c]}")x files put |"
done
T=${MEDIAN["tar -cf - | cat"]}
for c in "${CASE_NAMES[@]}"; do
    echo "| $c ($FILES files) | $(secs "${BEST[$c]}") | $(secs "${MEDIAN[$c]}") | $(mbps "$ARCH_BYTES" "${MEDIAN[$c]}") | $(ratio "$T" "${MEDIAN[$c]}")x tar -c |"
done
echo
U=$(ratio "$P" "${MEDIAN["curl -T to netkit http --upload"]}")
A=$(ratio "$T" "${MEDIAN["curl ?download=tar -o /dev/null"]}")
echo "targets: upload ${U}x files put (>= 0.9x: $(echo "$U >= 0.9" | bc -l | sed 's/1/met/;s/0/NOT met/')), tar ${A}x tar -c (>= 0.8x: $(echo "$A >= 0.8" | bc -l | sed 's/1/met/;s/0/NOT met/'))"
