#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (one after another, under
# nice), then prints a table: target, executions, exec/s, coverage, corpus,
# crashes.
#
#   scripts/fuzz.sh SECONDS [TARGET...]
#
# Environment:
#   FUZZ_RUNS=N        also stop a target after N executions (whichever first)
#   FUZZ_SANITIZER=S   cargo-fuzz sanitizer (default none: stable Rust, fastest)
#   FUZZ_JOBS_NICE=N   nice level (default 19)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) on PATH. It runs on stable
# Rust through RUSTC_BOOTSTRAP=1. New corpus entries go to fuzz/work/corpus/
# (not committed; the seeds in fuzz/corpus/ are read only), crashes to
# fuzz/artifacts/<target>/, logs to fuzz/work/logs/. Exits 1 if any target
# crashed.
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh SECONDS_PER_TARGET [TARGET...]" >&2
    exit 2
fi
secs=$1
shift
cd "$(dirname "$0")/../fuzz"

if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz.sh: cargo-fuzz not found on PATH (cargo install cargo-fuzz)" >&2
    exit 2
fi

all=(http_head http_chunked http_range http_conditional wire_frame wire_line
     ftp_command chat_datagram http_session files_session)
targets=("${@:-${all[@]}}")
nice_level=${FUZZ_JOBS_NICE:-19}
sanitizer=${FUZZ_SANITIZER:-none}

echo "fuzz.sh: building ${#targets[@]} targets (sanitizer $sanitizer)" >&2
RUSTC_BOOTSTRAP=1 nice -n "$nice_level" cargo fuzz build -O -a -s "$sanitizer" >&2
bin=target/x86_64-unknown-linux-gnu/release

# Longer inputs where the limits under test are longer (8 KiB request lines,
# 4 KiB chunk lines).
max_len() {
    case $1 in
        http_head | http_session | http_chunked) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

mkdir -p work/logs work/corpus
rows=()
crashed=0
for t in "${targets[@]}"; do
    mkdir -p "work/corpus/$t" "artifacts/$t" "work/tmp/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    log=work/logs/$t.log
    extra=()
    if [[ -n ${FUZZ_RUNS:-} ]]; then
        extra+=("-runs=$FUZZ_RUNS")
    fi
    echo "fuzz.sh: $t for ${secs}s${FUZZ_RUNS:+ or $FUZZ_RUNS runs}" >&2
    start=$(date +%s.%N)
    set +e
    TMPDIR="$PWD/work/tmp/$t" nice -n "$nice_level" "$bin/$t" \
        -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
        -max_len="$(max_len "$t")" -artifact_prefix="artifacts/$t/" \
        "${extra[@]}" "work/corpus/$t" "corpus/$t" >"$log" 2>&1
    rc=$?
    set -e
    end=$(date +%s.%N)
    rm -rf "work/tmp/$t"
    after=$(find "artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    if [[ $rc -ne 0 && $crashes -eq 0 ]]; then
        crashes="rc=$rc"
    fi
    [[ $crashes != 0 ]] && crashed=1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(find "work/corpus/$t" "corpus/$t" -type f | wc -l)
    took=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
    rows+=("$(printf '%-18s %12s %8s %8s %6s %7s %6s %8s' \
        "$t" "${execs:-?}" "$took" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$crashes")")
done

printf '%-18s %12s %8s %8s %6s %7s %6s %8s\n' \
    target executions seconds exec/s cov ft corpus crashes
printf '%s\n' "${rows[@]}"
if [[ $crashed -ne 0 ]]; then
    echo "fuzz.sh: crashes: see fuzz/artifacts/ and fuzz/work/logs/" >&2
    exit 1
fi
