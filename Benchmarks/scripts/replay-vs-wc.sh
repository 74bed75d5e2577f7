#!/usr/bin/env bash
# Issue 14's measure: `encmon replay FILE --json > /dev/null` against `wc -l FILE` on the same
# 4,000,000-line few-regions trace (BenchmarkSupport.FewRegionsTrace, about 430 MB), in the page
# cache, in interleaved rounds: each round times wc -l, the replay on both cores, and the replay
# pinned to one core (taskset). Prints each side's median and the ratios of the medians; the ratio
# is what counts, since `wc -l` itself moves with the machine's memory bandwidth from run to run.
# Usage: Benchmarks/scripts/replay-vs-wc.sh [ROUNDS] [WORKDIR]
#   ROUNDS default 21; WORKDIR default $TMPDIR/encmon-replay-vs-wc (the trace is kept for re-runs).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-21}
work=${2:-${TMPDIR:-/tmp}/encmon-replay-vs-wc}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "replay-vs-wc.sh: ROUNDS must be a positive number, not '$rounds'" >&2; exit 64; }
mkdir -p "$work"

# The binary `make release` builds (static Swift runtime), and the trace writer with the same flags.
swift build -c release --static-swift-stdlib --product encmon >&2
swift build -c release --static-swift-stdlib --product make-trace >&2
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)
trace="$work/few-regions-4M.txt"
[ -s "$trace" ] || "$bin/make-trace" "$trace" --few-regions 4000000 >&2

# Milliseconds of one run of the command, its output discarded; a failed run stops the script.
ms() {
    local start end
    start=$(date +%s%N)
    "$@" > /dev/null || { echo "replay-vs-wc.sh: '$*' failed" >&2; exit 1; }
    end=$(date +%s%N)
    echo $(( (end - start) / 1000000 ))
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

cat "$trace" > /dev/null   # into the page cache
wc_times="" two_times="" one_times=""
for _ in $(seq "$rounds"); do
    wc_times+="$(ms wc -l "$trace") "
    two_times+="$(ms "$bin/encmon" replay "$trace" --json) "
    one_times+="$(ms taskset -c 0 "$bin/encmon" replay "$trace" --json) "
done
wc_median=$(echo "$wc_times" | median)
two_median=$(echo "$two_times" | median)
one_median=$(echo "$one_times" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "trace: $trace, $(stat -c %s "$trace") bytes, $rounds interleaved rounds"
printf '%-34s %8s %12s  %s\n' run "median" "vs wc -l" "all runs (ms)"
printf '%-34s %6s ms %12s  %s\n' "wc -l" "$wc_median" "1.00x" "$wc_times"
printf '%-34s %6s ms %11sx  %s\n' "encmon replay --json, two cores" "$two_median" "$(ratio "$two_median" "$wc_median")" "$two_times"
printf '%-34s %6s ms %11sx  %s\n' "encmon replay --json, one core" "$one_median" "$(ratio "$one_median" "$wc_median")" "$one_times"
echo "two cores give $(ratio "$one_median" "$two_median")x one core; issue 14's goal: two cores within 5x of wc -l"
