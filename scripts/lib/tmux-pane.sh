# Shared by the screen tests (sourced, not run): encmon in a private tmux server, read back by
# polling the pane with timeouts instead of fixed sleeps (swift-ncurses-notes §4, G7, G8).
# The script sets SOCK (a private socket path, from mktemp -u) and S (the session the helpers act
# on), and its exit trap runs `T kill-server` and removes $SOCK.

# tmux on the private server, ignoring the user's configuration. The client closes fd 7: the live
# scripts hold a stand-in's stdin open there, and a server that inherited it would keep the
# stand-in from ever reading end-of-file.
T() { tmux -S "$SOCK" -f /dev/null "$@" 7>&-; }
# The pane's text (extra capture-pane options pass through: -e for colours, -S - for history).
screen() { T capture-pane -p -t "$S" "$@"; }
# wait_for REGEX [SECONDS]: poll the pane until it matches (default $WAIT_SECONDS, else 10); on a
# timeout, print the pane. With HISTORY="-S -", lines scrolled off the pane count too.
wait_for() {
  local re=$1 deadline=$(( $(date +%s) + ${2:-${WAIT_SECONDS:-10}} ))
  until screen ${HISTORY:-} | grep -qE -- "$re"; do
    (( $(date +%s) < deadline )) || { echo "  TIMEOUT waiting for /$re/ in $S:"; screen | grep -v '^$' | sed 's/^/  | /'; return 1; }
    sleep 0.1
  done
}
# absent_for REGEX SECONDS: never on the pane during that time.
absent_for() {
  local re=$1 deadline=$(( $(date +%s) + $2 ))
  while (( $(date +%s) < deadline )); do screen | grep -qE -- "$re" && return 1; sleep 0.1; done; return 0
}
