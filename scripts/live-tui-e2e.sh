#!/usr/bin/env bash
# End-to-end test of the live screen: `encmon --vm PID --event GROUP:NAME` in a private tmux server
# on a uprobe stand-in for kvm:kvm_hypercall (guest hypercalls cannot reach it on these hosts).
# Checks "tracking since", the regions after the calls, q removing the instance, and "VM exited"
# with the final state kept; the instance removed by another process: "tracing stopped", final state
# kept, status 74 after q. Needs root and tracefs; removes its uprobe, instance and tmux server.
#   scripts/live-tui-e2e.sh BIN
set -euo pipefail
BIN=$(realpath -- "${1:?usage: live-tui-e2e.sh BIN}")
export LANG=C.UTF-8 LC_ALL=C.UTF-8
unset NO_COLOR TMUX
. "$(dirname "$0")/lib/uprobe-standin.sh"
. "$(dirname "$0")/lib/tmux-pane.sh"
. "$(dirname "$0")/lib/checks.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL - needs root for tracefs"; echo "0 passed, 1 failed"; exit 1; }
command -v tmux >/dev/null || { echo "live-tui-e2e: tmux is not installed"; exit 2; }
SOCK=$(mktemp -u /tmp/encmon-live-tui.XXXXXX)
WORK=$(mktemp -d /tmp/encmon-live-tui-work.XXXXXX)
GROUP=encmon_live_tui EVENT="hc_$$"
cleanup() {
  T kill-server 2>/dev/null || true
  exec 7>&- 2>/dev/null || true
  [ -n "${GUEST:-}" ] && kill "$GUEST" 2>/dev/null && wait "$GUEST" 2>/dev/null || true
  remove_standin_event
  rm -f "$SOCK"; rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/standin.c" <<'C'
#include <stdint.h>
#include <stdio.h>
__attribute__((noinline)) void f(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  __asm__ volatile("" ::: "memory");
}
int main(void) {
  char line[16];
  if (!fgets(line, sizeof line, stdin)) return 2;   /* wait until encmon is attached */
  f(12, 0x1f018000, 4, 0x0, 0);                     /* 4 pages shared */
  f(12, 0x1f01c000, 2, 0x0, 0);                     /* adjacent: one region of 6 */
  f(12, 0x1f019000, 1, 0x10, 0);                    /* one back to private: 1 + 4 pages */
  while (fgets(line, sizeof line, stdin)) {}        /* then wait for stdin to close */
  return 0;
}
C
gcc -O1 -o "$WORK/standin" "$WORK/standin.c"
define_standin_event "$WORK/standin" f
start_guest() {  # a fresh stand-in waiting on a fifo held open as fd 7
  rm -f "$WORK/in"; mkfifo "$WORK/in"
  "$WORK/standin" < "$WORK/in" & GUEST=$!
  exec 7>"$WORK/in"
}
start_guest

S=live WAIT_SECONDS=15
# Only this script's encmon (other tests may run encmon meanwhile): found by its --vm argument.
encmon_pid() { pgrep -f -n -- "^$BIN --vm $GUEST " || true; }
instances() { [ -n "${P:-}" ] && ls "$TRACEFS/instances" | grep -E "^encmon-$P-[0-9]+\$"; true; }

run_encmon() {  # a shell that reports encmon's exit status and stays, so the pane can be read
  T new-session -d -s "$S" -x 110 -y 34 "TERM=xterm-256color '$BIN' --vm $GUEST --event $GROUP:$EVENT -d 0.2 2>'$WORK/err'; echo \"[exit=\$?]\"; sleep 60"
}

run_encmon
check "screen shows tracking since" wait_for 'tracking since [0-9]{2}:[0-9]{2}:[0-9]{2}'
P=$(encmon_pid)
check "one encmon instance exists" test "$(instances | wc -l)" = 1
echo go >&7
check "regions after the calls: 2 regions" wait_for 'in 2 regions'
check "region table shows 0x1f01a000" wait_for '0x1f01a000'
T send-keys -t "$S" q
check "q exits with status 0" wait_for '\[exit=0\]'
check "q removed the instance" test -n "$P" -a -z "$(instances)"
T kill-session -t "$S"

exec 7>&-; wait "$GUEST" 2>/dev/null || true
start_guest
run_encmon
check "attached to a second process" wait_for 'tracking since'
P=$(encmon_pid)
echo go >&7
check "its calls show" wait_for 'in 2 regions'
exec 7>&-    # the stand-in reads EOF and exits: the watched process is gone
check "header says VM exited" wait_for 'VM exited'
check "final state kept on screen" wait_for 'in 2 regions'
T send-keys -t "$S" q
check "q after exit: status 0" wait_for '\[exit=0\]'
check "no instance left" test -n "$P" -a -z "$(instances)"
T kill-session -t "$S"

# Another process removes encmon's instance while the screen is up.
wait "$GUEST" 2>/dev/null || true
start_guest
run_encmon
check "third run attached" wait_for 'tracking since'
P=$(encmon_pid)
echo go >&7
check "third run's calls show" wait_for 'in 2 regions'
INSTANCE=$(instances)
check "third run's own instance found" test -n "$INSTANCE"
[ -n "$INSTANCE" ] && for _ in $(seq 200); do rmdir "$TRACEFS/instances/$INSTANCE" 2>/dev/null && break; sleep 0.02; done   # EBUSY while read
check "header says tracing stopped" wait_for 'tracing stopped'
check "final state kept after removal" wait_for 'in 2 regions'
T send-keys -t "$S" q
check "q after removal: status 74" wait_for '\[exit=74\]'
check "one line names the removal" test "$(grep -c 'was removed by another process' "$WORK/err")" = 1
cleanup; trap - EXIT
check "uprobe removed" not grep -q "$GROUP/$EVENT" "$TRACEFS/uprobe_events"
echo "$pass passed, $fail failed"
exit $(( fail > 0 ))
