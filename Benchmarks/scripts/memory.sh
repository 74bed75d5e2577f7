#!/usr/bin/env bash
# Peak resident memory of `encmon replay FILE --json > /dev/null` (release build), measured with
# /usr/bin/time -v:
#   - a one-line trace (the process floor),
#   - 100 MB and 1 GB of the same benchmark lines (the 1 GB file starts with the 100 MB one's
#     lines): streaming means the two peaks are about equal,
#   - a hostile trace that leaves a million shared regions (every other page shared).
# Each file runs twice: --json (prints every region) and --summary (text, no region list), so that
# the model's memory and the JSON output's can be told apart.
# Usage: Benchmarks/scripts/memory.sh [WORKDIR]   (default: $TMPDIR/encmon-memory; ~1.2 GB of files,
# kept for re-runs). Needs GNU time (Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-${TMPDIR:-/tmp}/encmon-memory}
mkdir -p "$work"
[ -x /usr/bin/time ] || { echo "memory.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 69; }

swift build -c release --static-swift-stdlib --product encmon >&2
swift build -c release --static-swift-stdlib --product make-trace >&2
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

make_once() {  # FILE ARGS...: generate unless present
    local f=$1; shift
    [ -s "$f" ] || "$bin/make-trace" "$f" "$@" >&2
}
make_once "$work/one-line.txt" --lines 1
make_once "$work/trace-100MB.txt" --bytes 100000000
make_once "$work/trace-1GB.txt" --bytes 1000000000
make_once "$work/hostile-1M-regions.txt" --alternating 1000000

row() { printf '| %-24s | %8s | %9s | %9s | %13s | %16s | %8s | %6s |\n' "$@"; }
row input "size MB" lines regions "RSS --json MB" "RSS --summary MB" "wall s" "MB/s"
row ------------------------ -------- --------- --------- ------------- ---------------- -------- ------
for f in one-line.txt trace-100MB.txt trace-1GB.txt hostile-1M-regions.txt; do
    path="$work/$f"
    for mode in json summary; do
        /usr/bin/time -v "$bin/encmon" replay "$path" --$mode > "$work/$f.$mode" 2> "$work/$f.$mode.time" || {
            echo "memory.sh: encmon replay $path --$mode failed:" >&2; tail -5 "$work/$f.$mode.time" >&2; exit 1; }
    done
    rss() { awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); printf "%.1f", $2 / 1024 }' "$work/$f.$1.time"; }
    wall=$(awk '/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/$f.json.time")
    bytes=$(stat -c %s "$path")
    regions=$(grep -m1 '"regionCount"' "$work/$f.json" | grep -o '[0-9]*' || echo '?')
    row "$f" "$(printf %.1f "$(echo "$bytes / 1000000" | bc -l)")" "$(wc -l < "$path")" "$regions" "$(rss json)" "$(rss summary)" \
        "$wall" "$(printf %.0f "$(echo "$bytes / 1000000 / ($wall + 0.001)" | bc -l)")"
done
