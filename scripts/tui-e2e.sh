#!/usr/bin/env bash
# End-to-end test of encmon's full-screen view: runs the built binary in a private tmux server at
# a fixed size, drives it with keys, resizes and signals, and reads the screen back.
#   scripts/tui-e2e.sh BIN FIXTURE      (BIN: the encmon binary; FIXTURE: an ftrace text trace)
# Prints one line per check and "N passed, M failed"; exits non-zero when a check failed.
# Pattern (docs: swift-ncurses-notes §4, G7, G8): private socket, -f /dev/null, poll with timeouts
# instead of fixed sleeps, a wrapper shell that prints [exit=N] and stays alive so the restored
# terminal can be inspected, kill-server + rm of the socket on exit.
set -euo pipefail
BIN=${1:?usage: tui-e2e.sh BIN FIXTURE}
FIXTURE=${2:?usage: tui-e2e.sh BIN FIXTURE}
BIN=$(realpath -- "$BIN"); FIXTURE=$(realpath -- "$FIXTURE")
[[ -x $BIN ]] || { echo "tui-e2e: binary '$BIN' not found or not executable"; exit 2; }
[[ -r $FIXTURE ]] || { echo "tui-e2e: fixture '$FIXTURE' not readable"; exit 2; }
command -v tmux >/dev/null || { echo "tui-e2e: tmux is not installed (apt-get install -y tmux)"; exit 2; }
export LANG=C.UTF-8 LC_ALL=C.UTF-8    # CI may have no locale: wc -m, grep and tmux need UTF-8
unset NO_COLOR TMUX
. "$(dirname "$0")/lib/tmux-pane.sh"
. "$(dirname "$0")/lib/checks.sh"
SOCK=$(mktemp -u /tmp/encmon-e2e.XXXXXX)
WORK=$(mktemp -d /tmp/encmon-e2e-work.XXXXXX)
cleanup() { T kill-server 2>/dev/null || true; rm -f "$SOCK"; rm -rf "$WORK"; }
trap cleanup EXIT

S=e2e   # the session the helpers act on
HISTORY=""   # "-S -": wait_for also searches lines scrolled off the pane (batch output)
# Everything below the header line (the header may show a clock or the replay position).
body() { screen | tail -n +2; }
wait_change() {  # wait_change FILE [timeout_s]: poll until body() differs from FILE
  local old=$1 deadline=$(( $(date +%s) + ${2:-5} ))
  until ! body | cmp -s - "$old"; do
    (( $(date +%s) < deadline )) || { echo "  TIMEOUT: screen did not change"; return 1; }
    sleep 0.1
  done
}
wait_same() {  # wait_same FILE [timeout_s]: poll until body() equals FILE again
  local old=$1 deadline=$(( $(date +%s) + ${2:-5} ))
  until body | cmp -s - "$old"; do
    (( $(date +%s) < deadline )) || { echo "  TIMEOUT: screen did not return to:"; sed 's/^/  | /' "$old" | grep -v '^  | $'; return 1; }
    sleep 0.1
  done
}
wait_stable() {  # wait until two captures 0.2 s apart are identical (the replay has settled)
  local deadline=$(( $(date +%s) + ${2:-10} )) a b
  a=$(body); sleep 0.2; b=$(body)
  until [[ $a == "$b" ]]; do
    (( $(date +%s) < deadline )) || { echo "  TIMEOUT: screen never settled"; return 1; }
    a=$b; sleep 0.2; b=$(body)
  done
}
has_colour() { screen -e | grep -qE $'\e\\[([0-9]+;)*3[0-7]m'; }   # an SGR foreground colour
has_non_ascii() { screen | LC_ALL=C grep -q $'[\x80-\xff]'; }
restored() { [[ "$(T display -p -t "$S" '#{alternate_on} #{cursor_flag} #{keypad_cursor_flag}')" == "0 1 0" ]]; }
tty_same() { screen -S - | grep -q '\[tty=same\]'; }
app_pid() { pgrep -P "$(T display -p -t "$S" '#{pane_pid}')" -x "$(basename "$BIN")" | head -1; }
# start NAME ARGS...: run BIN ARGS in a new 120x40 session NAME, wrapped in a shell that records
# the tty modes, prints the exit status and whether the modes came back, then stays alive.
# `trap : INT` keeps the wrapper alive through C-c (the app still gets the default disposition).
start() {
  S=$1; shift
  local cmd; cmd=$(printf '%q ' "$BIN" "$@")
  # The Swift runtime's crash reporter is interactive on a terminal; the crash check wants the
  # plain default action after encmon's own handler restored the terminal.
  T new-session -d -s "$S" -x 120 -y 40 -e LANG=C.UTF-8 -e LC_ALL=C.UTF-8 -e SWIFT_BACKTRACE=enable=no \
    "trap : INT; before=\$(stty -g); $cmd; echo \"[exit=\$?]\"; [ \"\$(stty -g)\" = \"\$before\" ] && echo '[tty=same]'; exec sleep 300"
}
finish() { T kill-session -t "$S" 2>/dev/null || true; }

NAME=$(basename "$FIXTURE")
# A session that outlives the others: killing the last session makes the server exit, and the
# next new-session would race with it ("server exited unexpectedly").
T new-session -d -s keeper -x 20 -y 5 "exec sleep 600"

# 1. Full-screen view, keys, resize, q.  --speed 4096: the 30 s fixture ends at once, so the
#    screen is static afterwards and every change below comes from a key.
start main replay "$FIXTURE" --speed 4096
check "header shows the source"          wait_for "$NAME"
check "alternate screen on, cursor off"  test "$(T display -p -t main '#{alternate_on} #{cursor_flag}')" = "1 0"
check "replay reaches the end (finished)" wait_for '[Ff]inished|100%' 10
check "map panel present"                wait_for '[Mm]ap' 2
check "regions panel present"            wait_for '[Rr]egions' 2
check "colours drawn (SGR 30-37)"        has_colour
wait_stable || true
body > "$WORK/before-sort"
T send-keys -t main s
check "s changes the region sort"        wait_change "$WORK/before-sort"
wait_stable || true; body > "$WORK/before-zoom"
T send-keys -t main +
check "+ zooms the map"                  wait_change "$WORK/before-zoom"
wait_stable || true; body > "$WORK/before-help"
T send-keys -t main '?'
check "? shows the help overlay"         wait_for '[Hh]elp|[Kk]eys' 5
body > "$WORK/help"
T send-keys -t main '?'
check "? again closes the help"          wait_same "$WORK/before-help"

# Each check below fails if the app did not redraw for the new size: tmux alone only crops the
# old frame (which keeps the 120-column header, cell size and row order).
wait_stable || true; body > "$WORK/at-120x40"
# The map title says "cell = 8.00 MiB", or "cell 8.00 MiB" where it is short of room for the legend.
cell_size() { screen | grep -oE 'cell (= )?[0-9.]+ [KMGTP]?i?B' | head -1 | sed -E 's/^cell (= )?//'; }
cell_before=$(cell_size)
new_cell_size() { local c; c=$(cell_size); [[ -n $c && $c != "$cell_before" ]]; }
header_without_span() { screen | head -1 | grep -q "$NAME" && ! screen | head -1 | grep -q 'span '; }
key_line_on_row() { screen | sed -n "${1}p" | grep -q '?Help'; }
header_starts_with_source() { screen | head -1 | grep -q "^replay: $NAME"; }
wait_until() {  # wait_until CMD...: poll until CMD succeeds (5 s)
  local deadline=$(( $(date +%s) + 5 ))
  until "$@"; do (( $(date +%s) < deadline )) || return 1; sleep 0.1; done
}
T resize-window -t main -x 80 -y 24
check "80x24: re-laid out (map cell size changed from $cell_before)" wait_until new_cell_size
check "80x24: header refitted to 80 columns (span dropped)"  wait_until header_without_span
check "80x24: key line on row 24"        wait_until key_line_on_row 24
T resize-window -t main -x 40 -y 12
check "40x12: header refitted (source first)" wait_until header_starts_with_source
T resize-window -t main -x 20 -y 5
check "20x5: says the terminal is too small"   wait_for 'too small' 5
T resize-window -t main -x 1 -y 1
sleep 0.3
T resize-window -t main -x 120 -y 40
check "1x1 and back to 120x40: same screen as before" wait_same "$WORK/at-120x40"

T send-keys -t main q
check "q exits with status 0"            wait_for '\[exit=0\]'
check "q: terminal restored"             restored
check "q: tty modes restored"            tty_same
finish

# 2. Idle CPU: a finished replay waiting for keys must not spin.
start idle replay "$FIXTURE" --speed 4096
wait_for "$NAME" >/dev/null
wait_for '[Ff]inished|100%' 10 >/dev/null || true
pid=$(app_pid)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
t0=$(ticks "$pid"); sleep 1; t1=$(ticks "$pid")
check "idle: under 5% CPU ($((t1 - t0)) ticks in 1 s)" test $((t1 - t0)) -le 5
T send-keys -t idle q
wait_for '\[exit=' >/dev/null || true
finish

# 3. SIGTERM, C-c and SIGHUP restore the terminal; so does a crash (SIGSEGV); the exit status is reported.
for sig in TERM INT HUP SEGV; do
  start "sig$sig" replay "$FIXTURE"
  wait_for "$NAME" >/dev/null || true
  if [[ $sig == INT ]]; then T send-keys -t "$S" C-c; else kill -"$sig" "$(app_pid)"; fi
  check "SIG$sig: exits and reports a status" wait_for '\[exit=[0-9]+\]'
  echo "  (SIG$sig: $(screen | grep -oE '\[exit=[0-9]+\]'))"
  signo=$(kill -l "$sig")
  check "SIG$sig: exit status 128+$signo"    grep -q "\[exit=$((128 + signo))\]" <(screen)
  check "SIG$sig: terminal restored"     restored
  check "SIG$sig: tty modes restored"    tty_same
  finish
done

# 4. NO_COLOR and --ascii.
S=nocolor
T new-session -d -s nocolor -x 120 -y 40 "env NO_COLOR=1 $(printf '%q ' "$BIN" replay "$FIXTURE" --speed 4096 --ascii); exec sleep 300"
wait_for "$NAME" >/dev/null || true
wait_stable || true
check "NO_COLOR: no colours"             not has_colour
check "--ascii: only ASCII on screen"    not has_non_ascii
finish

# 5. --iterations (top -n; the CLI spells it -i today): the view stops by itself after N frames.
start iter replay "$FIXTURE" --iterations 2 -d 0.2
check "--iterations 2: exits with status 0"        wait_for '\[exit=0\]'
check "--iterations 2: terminal restored"          restored
finish

# 6. Batch output when stdout is a pipe: text frames, no escape codes, fast.
( timeout 30 "$BIN" replay "$FIXTURE" 2>"$WORK/pipe.err" | cat >"$WORK/pipe.out"; echo "${PIPESTATUS[0]}" >"$WORK/pipe.rc" ) || true
check "pipe: exit status 0"              test "$(cat "$WORK/pipe.rc")" = 0
check "pipe: text on stdout"             test -s "$WORK/pipe.out"
check "pipe: no escape codes"            not grep -q $'\e' "$WORK/pipe.out"
timeout 30 "$BIN" replay "$FIXTURE" -b --iterations 3 -d 5 >"$WORK/n3.out" 2>"$WORK/n3.err" </dev/null || true
# Frames start with the same header word (the first word of the output).
first=$(head -n 1 "$WORK/n3.out" | awk '{ print $1 }')
check "-b --iterations 3: three frames"            test "$(grep -c "^${first:-no-output}" "$WORK/n3.out")" -eq 3
check "-b: no batch-mode notice"         not grep -q 'using batch mode' "$WORK/n3.err"
check "-b: no escape codes"              not grep -q $'\e' "$WORK/n3.out"

# 7. stdin not a terminal (stdout is): batch mode, with the reason on stderr. The frame is
#    taller than the pane, so these checks search the pane's history too.
HISTORY="-S -"
S=nostdin
T new-session -d -s nostdin -x 120 -y 40 -e LANG=C.UTF-8 \
  "$(printf '%q ' "$BIN" replay "$FIXTURE") </dev/null; echo \"[exit=\$?]\"; exec sleep 300"
check "stdin </dev/null: exits with status 0"  wait_for '\[exit=0\]'
check "stdin </dev/null: says batch mode"      wait_for 'stdin is not a terminal; using batch mode' 2
check "stdin </dev/null: no alternate screen"  test "$(T display -p -t nostdin '#{alternate_on}')" = 0
finish

# 8. TERM=dumb in a real terminal: batch mode, with the reason.
S=dumb
T new-session -d -s dumb -x 120 -y 40 -e LANG=C.UTF-8 \
  "env TERM=dumb $(printf '%q ' "$BIN" replay "$FIXTURE"); echo \"[exit=\$?]\"; exec sleep 300"
check "TERM=dumb: exits with status 0"   wait_for '\[exit=0\]'
check "TERM=dumb: says batch mode"       wait_for 'TERM=dumb.*using batch mode' 2
check "TERM=dumb: prints the frame"      wait_for "$NAME" 2
check "TERM=dumb: no alternate screen"   test "$(T display -p -t dumb '#{alternate_on}')" = 0
finish

# 9. What encmon is for, at every common size: a paused migration (pass 2 or later) shows its
#    resync figures (the per-pass table with the re-sent and changed columns) and the map legend.
HISTORY=""
start sizes demo --scenario migrate --speed 16
check "demo: migration reaches pass 3"   wait_for 'pass [3-9]' 20
T send-keys -t sizes p
wait_for 'PAUSED' 3 >/dev/null || true
for size in 80x24 100x30 120x40 200x60; do
  T resize-window -t sizes -x "${size%x*}" -y "${size#*x}"
  sleep 0.4
  wait_stable 3 >/dev/null || true
  check "$size: no line wider than the screen" test "$(screen | wc -L)" -le "${size%x*}"
  check "$size: per-pass table with re-sent/changed" grep -qE 're-sent +changed' <(screen)
  # A pass row: the pass number (or "stop"), then counts such as 1.0M, 16.6k, 5000.
  check "$size: at least two pass rows"   test "$(screen | grep -cE '(^| )([0-9]+|stop) +([0-9.]+[kM]? +){3}')" -ge 2
  check "$size: RAM progress line"        grep -qE 'RAM .*[0-9]+%.*sent [0-9.]+ [KMG]iB in [0-9]+ passes' <(screen)
  check "$size: map legend"               grep -qE 'priv.*shared|priv.*shr' <(screen)
  check "$size: region list still there"  grep -q 'Shared regions' <(screen)
done
T resize-window -t sizes -x 80 -y 24
sleep 0.3
check "80x24: sent explained"            grep -qE 'sent [0-9.]+ [KMG]iB in [0-9]+ passes' <(screen)
# 10. / filters the region list; g jumps to an address.
T send-keys -t sizes / 's' 'i' 'z' 'e' '>' '1' 'M' Enter
check "/size>1M: the title counts matches" wait_for '/ size>1M: [0-9]+ match' 3
T send-keys -t sizes g
check "g: asks for an address"            wait_for 'Go to address' 3
T send-keys -t sizes '0' 'x' '7' 'a' 'e' '0' '0' '0' '0' '0' Enter
check "g: jumps (table by address)"       wait_for 'by address' 3
T send-keys -t sizes Escape
check "Esc clears the filter"             wait_for 'Shared regions [0-9]+  by address. *$' 3
T send-keys -t sizes q
check "sizes: q exits with status 0"      wait_for '\[exit=0\]'
finish

# 11. Batch text follows the terminal's width (TERM=dumb in a 100-column pane), not a fixed 120.
HISTORY="-S - -J"
S=width
T new-session -d -s width -x 100 -y 40 -e LANG=C.UTF-8 \
  "env -u COLUMNS TERM=dumb $(printf '%q ' "$BIN" replay "$FIXTURE"); echo \"[exit=\$?]\"; exec sleep 300"
check "tty width: exits with status 0"   wait_for '\[exit=0\]'
check "tty width: lines as wide as the pane" test "$(screen -S - -J | wc -L)" -eq 100
finish

echo "$pass passed, $fail failed"
exit $(( fail > 0 ))
