#!/usr/bin/env bash
# What a test run may leave on the machine, before and after, compared.
#   scripts/leftovers.sh snapshot > before.txt
#   ... run the tests ...
#   scripts/leftovers.sh compare before.txt     # exit 1, listing each difference
# Looked at: every entry under netwrap's run dir (/run/netwrap; the tests use their own),
# every name in /var/run/netns, every link of this machine's own netns, and every
# sandbox process (NETWRAP_SANDBOX in its environment, whatever run dir it names).
# Docker's own objects come and go while scripts/with-docker.sh runs dockerd and the
# Docker tests start containers: docker0, veth + 7 hex digits and br- + 12 hex digits
# are not counted. Anything else that appeared or went away (and is still so after a
# few seconds) fails the compare. Meant for a machine where only this run works: a
# test run of someone else at the same time shows up as a difference.
set -u
run_dir=${NETWRAP_MACHINE_RUN_DIR:-/run/netwrap}
netns_dir=/var/run/netns

snapshot() {
  {
    if [ -d "$run_dir" ]; then
      find "$run_dir" -mindepth 1 -printf 'run-dir %p\n'
    fi
    if [ -d "$netns_dir" ]; then
      find "$netns_dir" -mindepth 1 -maxdepth 1 -printf 'netns %f\n'
    fi
    ip -o link show | awk -F': ' '{ split($2, n, "@"); print "link " n[1] }' |
      grep -Ev '^link (docker0|veth[0-9a-f]{7}|br-[0-9a-f]{12})$'
    grep -azH '^NETWRAP_SANDBOX=' /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' |
      sed -n 's|^/proc/\([0-9]*\)/environ:NETWRAP_SANDBOX=\(.*\)$|sandbox-process \1 \2|p'
  } | sort -u
}

compare() {
  local before=$1 now left gone tries=${LEFTOVERS_TRIES:-3}
  now=$(mktemp)
  # A difference must last: what is still being removed (a veth whose netns is going,
  # a sandbox being reaped) gets a few seconds.
  for try in $(seq 1 "$tries"); do
    snapshot >"$now"
    left=$(comm -13 "$before" "$now")
    gone=$(comm -23 "$before" "$now")
    { [ -z "$left" ] && [ -z "$gone" ]; } || [ "$try" -eq "$tries" ] && break
    sleep 2
  done
  rm -f "$now"
  if [ -z "$left" ] && [ -z "$gone" ]; then
    echo "leftovers: none (run dir, /var/run/netns, links and sandbox processes as before)"
    return 0
  fi
  if [ -n "$left" ]; then
    echo "leftovers: left behind by the run:" >&2
    sed 's/^/  /' <<<"$left" >&2
  fi
  if [ -n "$gone" ]; then
    echo "leftovers: gone, though there before the run:" >&2
    sed 's/^/  /' <<<"$gone" >&2
  fi
  return 1
}

case "${1:-}" in
  snapshot) snapshot ;;
  compare) [ -n "${2:-}" ] || { echo "usage: $0 compare BEFORE" >&2; exit 2; }; compare "$2" ;;
  *) echo "usage: $0 snapshot | compare BEFORE" >&2; exit 2 ;;
esac
