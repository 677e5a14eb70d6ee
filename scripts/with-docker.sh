#!/usr/bin/env bash
# Run a command with a Docker engine available, then put things back as they were.
#   scripts/with-docker.sh python -m pytest -q tests
# If no dockerd is running, start Debian's (log in a temp file), wait until it
# answers, and stop that one dockerd, by its PID, when the command ends. A dockerd
# that was already running is left alone. The tests' image is made if missing
# (scripts/make-image.sh). The exit status is the command's.
set -u
here=$(cd "$(dirname "$0")" && pwd)
docker=${DOCKER:-docker}
dockerd=${DOCKERD:-/usr/sbin/dockerd}
started_pid=""
log=""

stop_ours() {
  [ -n "$started_pid" ] || return 0
  if kill -0 "$started_pid" 2>/dev/null; then
    kill -TERM "$started_pid" 2>/dev/null
    for _ in $(seq 1 300); do
      kill -0 "$started_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$started_pid" 2>/dev/null; then
      echo "with-docker: dockerd $started_pid did not stop in 30 s; killing it" >&2
      kill -KILL "$started_pid" 2>/dev/null
    fi
  fi
  echo "with-docker: stopped the dockerd it started (PID $started_pid)" >&2
  rm -f "$log"
  started_pid=""
}

if ! pgrep -x dockerd >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "with-docker: starting dockerd needs root" >&2; exit 1; }
  log=$(mktemp /tmp/netwrap-dockerd.XXXXXX.log)
  "$dockerd" >"$log" 2>&1 &
  started_pid=$!
  trap stop_ours EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  echo "with-docker: started dockerd (PID $started_pid; log $log)" >&2
  for _ in $(seq 1 300); do
    "$docker" version >/dev/null 2>&1 && break
    if ! kill -0 "$started_pid" 2>/dev/null; then
      echo "with-docker: dockerd exited at once; end of its log:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if ! "$docker" version >/dev/null 2>&1; then
    echo "with-docker: dockerd did not answer within 30 s (log $log)" >&2
    exit 1
  fi
fi

"$here/make-image.sh" || { echo "with-docker: could not make the test image" >&2; exit 1; }

"$@"
status=$?
exit "$status"
