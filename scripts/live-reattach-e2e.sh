#!/usr/bin/env bash
# End-to-end test of re-attaching by name: `encmon --vm NAME --event GROUP:NAME` on the screen (a
# private tmux server). The "VM" is a stand-in that holds a real KVM VM descriptor (KVM_CREATE_VM
# on /dev/kvm, so discovery finds it by its QEMU-style `-name guest=NAME`) and fires a uprobe
# stand-in for kvm:kvm_hypercall. The first VM makes 2 regions and exits: the header says
# "VM exited", "waiting for NAME to return", the final state stays. A second VM of that name starts:
# encmon attaches to it (new instance, "re-attached at", its pid), the model is reset, and only
# the second VM's 3 regions show. Then a pid run: the VM is killed (SIGKILL), the final state stays,
# and encmon does not wait. Needs root, tracefs, /dev/kvm, tmux.
#   scripts/live-reattach-e2e.sh BIN
set -euo pipefail
BIN=$(realpath -- "${1:?usage: live-reattach-e2e.sh BIN}")
export LANG=C.UTF-8 LC_ALL=C.UTF-8
unset NO_COLOR TMUX
. "$(dirname "$0")/lib/uprobe-standin.sh"
. "$(dirname "$0")/lib/tmux-pane.sh"
. "$(dirname "$0")/lib/checks.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL - needs root for tracefs"; echo "0 passed, 1 failed"; exit 1; }
[ -w /dev/kvm ] || { echo "FAIL - needs /dev/kvm"; echo "0 passed, 1 failed"; exit 1; }
command -v tmux >/dev/null || { echo "live-reattach-e2e: tmux is not installed"; exit 2; }
SOCK=$(mktemp -u /tmp/encmon-reattach.XXXXXX)
WORK=$(mktemp -d /tmp/encmon-reattach-work.XXXXXX)
GROUP=encmon_reattach EVENT="hc_$$" NAME="encmon-reattach-$$"
GUESTS=()
cleanup() {
  T kill-server 2>/dev/null || true
  exec 7>&- 2>/dev/null || true
  for g in "${GUESTS[@]}"; do kill "$g" 2>/dev/null && wait "$g" 2>/dev/null || true; done
  remove_standin_event
  rm -f "$SOCK"; rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/standin.c" <<'C'
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
__attribute__((noinline)) void f(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  __asm__ volatile("" ::: "memory");
}
/* standin REGIONS BASE -name guest=NAME: holds a KVM VM, waits for a line, makes REGIONS
   separate 2-page regions from BASE (hex), then waits for stdin to close. */
int main(int argc, char **argv) {
  char line[16];
  alarm(120);                                        /* never outlive a crashed test */
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0 || ioctl(kvm, KVM_CREATE_VM, 0) < 0) { perror("KVM_CREATE_VM"); return 2; }
  printf("ready\n"); fflush(stdout);
  int regions = argc > 1 ? atoi(argv[1]) : 1;
  uint64_t base = argc > 2 ? strtoull(argv[2], NULL, 16) : 0x1f000000;
  if (!fgets(line, sizeof line, stdin)) return 3;
  for (int i = 0; i < regions; i++) f(12, base + (uint64_t)i * 0x10000, 2, 0, 0);
  while (fgets(line, sizeof line, stdin)) {}
  return 0;
}
C
gcc -O1 -o "$WORK/standin" "$WORK/standin.c"
define_standin_event "$WORK/standin" f
start_guest() {  # start_guest REGIONS BASE: a VM stand-in named NAME waiting on a fifo held open as fd 7
  rm -f "$WORK/in" "$WORK/ready"; mkfifo "$WORK/in"
  "$WORK/standin" "$1" "$2" -name "guest=$NAME,debug-threads=on" < "$WORK/in" > "$WORK/ready" & GUEST=$!
  GUESTS+=("$GUEST")
  exec 7>"$WORK/in"
  for _ in $(seq 100); do grep -q ready "$WORK/ready" 2>/dev/null && return 0; sleep 0.05; done
  echo "stand-in did not start"; return 1
}

S=live WAIT_SECONDS=15
# Only this script's encmon (other tests may run encmon meanwhile): found by its --vm argument.
encmon_pid() { pgrep -f -n -- "^$BIN --vm $1 " || true; }
instances_of() { [ -n "$1" ] && ls "$TRACEFS/instances" | grep -E "^encmon-$1-[0-9]+\$"; true; }

start_guest 2 1f000000; FIRST=$GUEST
T new-session -d -s "$S" -x 120 -y 34 "TERM=xterm-256color '$BIN' --vm $NAME --event $GROUP:$EVENT -d 0.2 2>'$WORK/err'; echo \"[exit=\$?]\"; sleep 60"
check "attached by name: tracking since" wait_for 'tracking since [0-9]{2}:[0-9]{2}:[0-9]{2}'
check "header names the first VM's pid" wait_for "pid $FIRST"
P=$(encmon_pid "$NAME")
instances() { instances_of "$P"; }
FIRST_INSTANCE=$(instances)
check "one encmon instance" test "$(echo "$FIRST_INSTANCE" | grep -c .)" = 1
echo go >&7
check "the first VM's 2 regions" wait_for 'in 2 regions'
check "its region at 0x1f010000" wait_for '0x1f010000'
exec 7>&-; wait "$FIRST" 2>/dev/null || true     # the first VM exits
check "header says VM exited" wait_for 'VM exited'
check "and waits for the name" wait_for "waiting for $NAME to return"
check "final state kept" wait_for 'in 2 regions'
check "not also 'finished'" absent_for 'finished' 1
check "the first instance is removed" test -z "$(instances)"
check "still waiting after 2 s" absent_for '\[exit=' 2

start_guest 3 2f000000; SECOND=$GUEST
check "re-attached to the new VM" wait_for "re-attached at [0-9]{2}:[0-9]{2}:[0-9]{2} to pid $SECOND"
check "a new instance" test -n "$(instances)" -a "$(instances)" != "$FIRST_INSTANCE"
check "model reset: nothing shared yet" wait_for 'shared 0 B in 0 regions'
echo go >&7
check "only the second VM's 3 regions" wait_for 'in 3 regions'
check "the second VM's region at 0x2f020000" wait_for '0x2f020000'
check "the first VM's regions are gone" absent_for '0x1f0[01]0000' 1
T send-keys -t "$S" q
check "q exits with status 0" wait_for '\[exit=0\]'
check "q removed the instance" test -z "$(instances)"
T kill-session -t "$S"
exec 7>&-; wait "$SECOND" 2>/dev/null || true

# By pid: the VM's exit is final, no waiting.
start_guest 1 1f000000; THIRD=$GUEST
T new-session -d -s "$S" -x 120 -y 34 "TERM=xterm-256color '$BIN' --vm $THIRD --event $GROUP:$EVENT -d 0.2 2>'$WORK/err'; echo \"[exit=\$?]\"; sleep 60"
check "by pid: attached" wait_for 'tracking since'
P=$(encmon_pid "$THIRD")
echo go >&7
check "by pid: its region" wait_for 'in 1 regions?'
kill -KILL "$THIRD"; wait "$THIRD" 2>/dev/null || true   # the VM dies (SIGKILL) while watched
check "by pid: VM exited" wait_for 'VM exited'
check "by pid: final state kept" wait_for 'in 1 regions?'
check "by pid: no waiting" absent_for 'waiting for' 1
check "by pid: not also 'finished'" absent_for 'finished' 1
T send-keys -t "$S" q
check "by pid: q exits 0" wait_for '\[exit=0\]'
check "by pid: no instance left" test -n "$P" -a -z "$(instances)"
cleanup; trap - EXIT
check "uprobe removed" not grep -q "$GROUP/$EVENT" "$TRACEFS/uprobe_events"
echo "$pass passed, $fail failed"
exit $(( fail > 0 ))
