#!/usr/bin/env bash
# Hostile guest on the live path, for minutes: screen responsiveness and memory of the interactive
# `encmon --vm` under a guest that flips alternating single pages across 8 GiB as fast as the
# uprobe fires (scripts/helpers/hostile-flipper.c, the kvm_hypercall stand-in), against a
# baseline in the same run: the same call rate on 8 pages (4 regions).
#
# encmon runs in tmux (120x40, refresh every second, --region-cap CAP). Every ~2 s the script
# presses `h` and measures the key-to-screen latency: from `tmux send-keys` until `tmux
# capture-pane` shows the help overlay (and again until it is gone after the second `h`); this is
# what a user waits for, the whole loop (key read, model catch-up, draw, ncurses, tmux) included,
# polled every 5 ms. RSS (VmRSS) is sampled every second. Root and tracefs needed; skipped
# otherwise. The uprobe, tmux session, processes and any encmon instance are removed on any exit.
#
# Usage: Benchmarks/scripts/hostile-guest.sh [SECONDS per phase, default 120] [CAP, default 4096]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-${HOSTILE_SECONDS:-120}}
CAP=${2:-4096}
PAGES=$((1 << 21))
(( SECS > 0 )) || { echo "hostile-guest.sh: skipped (0 seconds)"; exit 0; }
. "$ROOT/scripts/lib/uprobe-standin.sh"
if [ "$(id -u)" != 0 ] || { [ ! -e "$TRACEFS/uprobe_events" ] && ! mount -t tracefs nodev "$TRACEFS" 2>/dev/null; }; then
  echo "hostile-guest.sh: skipped: needs root and tracefs"; exit 0
fi
command -v tmux >/dev/null || { echo "hostile-guest.sh: skipped: needs tmux"; exit 0; }

WORK=$(mktemp -d /tmp/encmon-hostile-bench.XXXXXX)
GROUP=encmon_bench EVENT="hf_$$" SESSION="encmon-hostile-$$"
GUEST_PID="" ENCMON_PID=""
cleanup() {
  exec 9>&- 2>/dev/null
  tmux kill-session -t "$SESSION" 2>/dev/null
  for p in $ENCMON_PID $GUEST_PID; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in $ENCMON_PID $GUEST_PID; do kill -9 "$p" 2>/dev/null; done
  for p in $ENCMON_PID; do for i in "$TRACEFS"/instances/encmon-"$p"-*; do [ -e "$i" ] && rmdir "$i" 2>/dev/null; done; done
  remove_standin_event
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

cd "$ROOT"
LOCK=(); command -v flock >/dev/null && LOCK=(flock /tmp/encmon-build.lock)
"${LOCK[@]}" swift build -c release --static-swift-stdlib --product encmon >"$WORK/build.log" 2>&1 || { tail -20 "$WORK/build.log"; exit 1; }
ENCMON="$(swift build -c release --static-swift-stdlib --show-bin-path)/encmon"
gcc -O1 -o "$WORK/hostile-flipper" scripts/helpers/hostile-flipper.c
define_standin_event "$WORK/hostile-flipper" f

now_ms() { date +%s%3N; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
screen() { tmux capture-pane -p -t "$SESSION"; }
# wait_screen PRESENT|ABSENT TEXT: polls every 5 ms for up to 5 s; prints the wait in ms or "timeout".
wait_screen() {
  local want=$1 text=$2 start; start=$(now_ms)
  while (( $(now_ms) - start < 5000 )); do
    if screen | grep -qF "$text"; then [ "$want" = PRESENT ] && { echo $(( $(now_ms) - start )); return; }
    else [ "$want" = ABSENT ] && { echo $(( $(now_ms) - start )); return; }; fi
    sleep 0.005
  done
  echo timeout
}
percentile() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } i = int((NR - 1) * p + 0.5) + 1; print v[i] }'; }

# phase NAME [few]: one run; prints a markdown row and appends RSS samples to $WORK/rss-NAME.
phase() {
  local name=$1 mode=${2:-}
  mkfifo "$WORK/guest.in"
  "$WORK/hostile-flipper" "$PAGES" "$SECS" 0 $mode < "$WORK/guest.in" > "$WORK/guest.out" &
  GUEST_PID=$!
  exec 9>"$WORK/guest.in"
  tmux new-session -d -s "$SESSION" -x 120 -y 40 \
    "exec env TERM=xterm-256color '$ENCMON' --vm $GUEST_PID --event $GROUP:$EVENT --region-cap $CAP -d 1 2>'$WORK/encmon.err'"
  ENCMON_PID=$(tmux display-message -p -t "$SESSION" '#{pane_pid}')
  local waited=0
  until screen | grep -q "shared"; do sleep 0.1; waited=$((waited + 1)); (( waited > 300 )) && { echo "encmon did not start:"; cat "$WORK/encmon.err"; exit 1; }; done
  local floor; floor=$(rss_kib "$ENCMON_PID")
  echo go >&9
  : > "$WORK/latency-$name"; : > "$WORK/rss-$name"
  local start; start=$(date +%s) ; local next_key=$((start + 2)) timeouts=0
  while (( $(date +%s) - start < SECS )); do
    echo "$(( $(date +%s) - start )) $(rss_kib "$ENCMON_PID")" >> "$WORK/rss-$name"
    if (( $(date +%s) >= next_key )); then
      tmux send-keys -t "$SESSION" h; local a; a=$(wait_screen PRESENT "encmon keys")
      tmux send-keys -t "$SESSION" h; local b; b=$(wait_screen ABSENT "encmon keys")
      for v in $a $b; do if [ "$v" = timeout ]; then timeouts=$((timeouts + 1)); else echo "$v" >> "$WORK/latency-$name"; fi; done
      next_key=$(( $(date +%s) + 2 ))
    fi
    sleep 1
  done
  local approx=no; screen | grep -q "approximate map" && approx=yes
  # What the header says was lost (ring buffer overrun: encmon did not keep up), "0" when it says nothing.
  local lost; lost=$(screen | grep -o "lost events [^ ]*" | head -1 | cut -d' ' -f3); lost=${lost:-0}
  tmux send-keys -t "$SESSION" q
  for _ in $(seq 50); do kill -0 "$ENCMON_PID" 2>/dev/null || break; sleep 0.1; done
  tmux kill-session -t "$SESSION" 2>/dev/null
  exec 9>&-
  wait "$GUEST_PID" 2>/dev/null
  local calls; calls=$(awk '{ print $2 }' "$WORK/guest.out")
  rm -f "$WORK/guest.in"
  local lat="$WORK/latency-$name"
  local rss_end rss_peak rss_mid
  rss_peak=$(awk '{ print $2 }' "$WORK/rss-$name" | sort -n | tail -1)
  rss_mid=$(awk -v h=$((SECS / 2)) '$1 >= h { print $2; exit }' "$WORK/rss-$name")
  rss_end=$(tail -1 "$WORK/rss-$name" | awk '{ print $2 }')
  local left=none; ls "$TRACEFS/instances" | grep -q "^encmon-$ENCMON_PID-" && left=LEFT
  printf '| %s | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s / %s / %s / %s | %s | %s |\n' \
    "$name" "$SECS" "${calls:-?}" "$(( ${calls:-0} / SECS ))" "$lost" "$(wc -l < "$lat")" \
    "$(percentile 0.5 < "$lat")" "$(percentile 0.95 < "$lat")" "$(percentile 1 < "$lat")" "$timeouts" \
    "$(( floor / 1024 ))" "$(( ${rss_mid:-0} / 1024 ))" "$(( ${rss_end:-0} / 1024 ))" "$(( ${rss_peak:-0} / 1024 ))" "$approx" "$left"
  ENCMON_PID="" GUEST_PID=""
}

echo "hostile-guest.sh: $(date -u '+%F %T') UTC, $SECS s a phase, --region-cap $CAP, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| load | s | guest calls | calls/s | lost (screen) | key samples | key-to-screen ms p50 / p95 / max | timeouts | RSS MiB before / mid / end / peak | approximate shown | instance left |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
phase "baseline: 8 pages (4 regions)" few
phase "hostile: alternating pages over 8 GiB" ""
