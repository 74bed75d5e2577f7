#!/usr/bin/env bash
# Terminal faults: whatever ends `encmon demo`, the terminal is given back; a SIGWINCH storm does
# not crash or garble the screen.   scripts/terminal-faults-e2e.sh BIN
# 1. SIGTERM, SIGINT (C-c), SIGHUP: exit 128+N, alternate screen off, cursor on, and the pane is a
#    working shell again (typed text echoes, a command runs).
# 2. SIGWINCH storm: hundreds of resizes and raw SIGWINCHs in a burst; the program lives, and the
#    frame at the final size has the right width and height, its header and its footer.
# Same tmux pattern as tui-e2e.sh (private server, poll with timeouts, wrapper shell).
set -euo pipefail
BIN=$(realpath -- "${1:?usage: terminal-faults-e2e.sh BIN}")
[[ -x $BIN ]] || { echo "terminal-faults: '$BIN' is not executable"; exit 2; }
command -v tmux >/dev/null || { echo "terminal-faults: tmux is not installed"; exit 2; }
export LANG=C.UTF-8 LC_ALL=C.UTF-8
unset NO_COLOR TMUX
. "$(dirname "$0")/lib/tmux-pane.sh"
. "$(dirname "$0")/lib/checks.sh"
SOCK=$(mktemp -u /tmp/encmon-faults.XXXXXX)
cleanup() { T kill-server 2>/dev/null || true; rm -f "$SOCK"; }
trap cleanup EXIT
S=x
pane() { T display -p -t "$S" "$1"; }
app_pid() { pgrep -P "$(pane '#{pane_pid}')" -x "$(basename "$BIN")" | head -1; }
# start NAME ARGS...: BIN ARGS in a 120x40 pane; afterwards the exit status, then a plain `read`
# (the tty's own echo and line discipline, no readline), then an interactive shell.
start() {
  S=$1; shift
  T new-session -d -s "$S" -x 120 -y 40 -e LANG=C.UTF-8 -e LC_ALL=C.UTF-8 -e SWIFT_BACKTRACE=enable=no \
    "trap : INT; $(printf '%q ' "$BIN" "$@"); echo \"[exit=\$?]\"; printf 'type> '; read -r line; echo \"[read=\$line]\"; exec env PS1='$ ' bash --norc --noprofile -i"
}
T new-session -d -s keeper -x 20 -y 5 "exec sleep 600"

for sig in TERM INT HUP; do
  start "sig$sig" demo --speed 4
  wait_for 'demo:' >/dev/null || true
  wait_for '\?Help' 5 >/dev/null || true
  check "SIG$sig: demo on the alternate screen" test "$(pane '#{alternate_on}')" = 1
  if [[ $sig == INT ]]; then T send-keys -t "$S" C-c; else kill -"$sig" "$(app_pid)"; fi
  signo=$(kill -l "$sig")
  check "SIG$sig: exit status 128+$signo"  wait_for "\[exit=$((128 + signo))\]"
  wait_for '^type> ' 5 >/dev/null || true
  check "SIG$sig: alternate screen off, cursor on" test "$(pane '#{alternate_on} #{cursor_flag}')" = "0 1"
  T send-keys -t "$S" -l "echo typed-$sig-ok"
  check "SIG$sig: typed text echoes"       wait_for "^type> echo typed-$sig-ok$" 5
  T send-keys -t "$S" Enter
  check "SIG$sig: Enter ends the line"     wait_for "^\\[read=echo typed-$sig-ok\\]$" 5
  T send-keys -t "$S" -l "echo shell-$sig-ok"; T send-keys -t "$S" Enter
  check "SIG$sig: back to a shell"         wait_for "^shell-$sig-ok$" 5
  T kill-session -t "$S"
done

start storm demo --speed 4
wait_for '\?Help' >/dev/null || true
pid=$(app_pid)
for i in $(seq 1 150); do
  T resize-window -t storm -x $(( 20 + (i * 37) % 180 )) -y $(( 3 + (i * 11) % 60 ))
  kill -WINCH "$pid" 2>/dev/null || true
done
for i in $(seq 1 500); do kill -WINCH "$pid" 2>/dev/null || break; done
T resize-window -t storm -x 100 -y 30
check "SIGWINCH storm: still running"        test -n "$(app_pid)"
check "SIGWINCH storm: redrawn with footer"  wait_for '^\?Help' 10
# Under load the frames drawn for earlier sizes may still be on the pane for a while: wait (bounded)
# for the frame at the final size rather than sleeping a fixed time.
final_frame() { grep -qE "^encmon +t [0-9.]+s .*demo:" <(screen | head -1) && grep -q '^?Help' <(screen | tail -1); }
until_ok() { local deadline=$(( $(date +%s) + $1 )); shift; until "$@"; do (( $(date +%s) < deadline )) || return 1; sleep 0.1; done; }
check "SIGWINCH storm: header on line 1"     until_ok 10 final_frame
check "SIGWINCH storm: no line over 100"     test "$(screen | wc -L)" -le 100
check "SIGWINCH storm: 30 rows"              test "$(screen | wc -l)" -eq 30
check "SIGWINCH storm: footer on the last row" grep -q '^?Help' <(screen | tail -1)
T send-keys -t storm q
check "SIGWINCH storm: q exits with status 0" wait_for '\[exit=0\]'
check "SIGWINCH storm: terminal restored"    test "$(pane '#{alternate_on} #{cursor_flag}')" = "0 1"
T kill-session -t storm

echo "$pass passed, $fail failed"
exit $(( fail > 0 ))
