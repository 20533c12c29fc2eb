#!/usr/bin/env bash
# Example for mxclient(1): a minimal mail queue around mxclient. Exit 0 removes the job, 75 retries
# it later with exponential backoff (passing --attempt N, so config routes can change transport),
# any other code, or 5 days of 75s, moves it to failed/ (where a real queue would send a bounce).
#
#   queue.sh add SENDER RECIPIENT < message   enqueue (one recipient per job: one exit code each)
#   queue.sh run                              deliver due jobs, forever (one pass a minute)
#   queue.sh once                             one pass, e.g. from cron
#
# Environment: QUEUE_DIR (default /var/spool/mxqueue), MXCLIENT (default mxclient),
# MXCLIENT_OPTS (extra options, split on spaces, e.g. "--helo mail.example.org"),
# MAX_AGE (seconds before giving up, default 432000 = 5 days; RFC 5321 §4.5.4.1 says 4-5 days).
set -euo pipefail

queue=${QUEUE_DIR:-/var/spool/mxqueue}
mxclient=${MXCLIENT:-mxclient}
read -r -a opts <<<"${MXCLIENT_OPTS:-}"
max_age=${MAX_AGE:-432000}

mkdir -p "$queue/tmp" "$queue/jobs" "$queue/failed"

# 5 min, 10, 20, 40, 80, then every 160 min; RFC 5321 §4.5.4.1 asks for at least 30 min
# between retries of a destination after the first few.
backoff() {
  local attempt=$1 delay=300
  while ((attempt > 1 && delay < 9600)); do
    delay=$((delay * 2))
    attempt=$((attempt - 1))
  done
  echo $((delay + RANDOM % 60))
}

add() {
  local sender=$1 recipient=$2 id tmp
  id=$(date +%s).$$.$RANDOM
  tmp=$queue/tmp/$id
  mkdir "$tmp"
  cat >"$tmp/message"
  printf '%s\n' "$sender" >"$tmp/sender"
  printf '%s\n' "$recipient" >"$tmp/recipient"
  echo 1 >"$tmp/attempt"
  date +%s >"$tmp/created"
  date +%s >"$tmp/next"
  mv "$tmp" "$queue/jobs/$id" # atomic: a run never sees half a job
  echo "queued $id"
}

fail_job() {
  local job=$1 why=$2
  echo "$why" >"$job/reason"
  mv "$job" "$queue/failed/"
  # A real queue sends a delivery status notification to the sender here (RFC 3464),
  # unless the sender is empty (the null reverse-path: never bounce a bounce).
  echo "failed $(basename "$job"): $why" >&2
}

deliver() {
  local job=$1 attempt sender recipient rc now
  attempt=$(<"$job/attempt")
  sender=$(<"$job/sender")
  recipient=$(<"$job/recipient")
  rc=0
  # -q: only errors, on stderr (kept per job); --json: what happened, for the operator.
  "$mxclient" -q "${opts[@]}" --attempt "$attempt" --json "$job/report.json" \
    -f "$sender" -- "$recipient" <"$job/message" 2>"$job/stderr" || rc=$?
  now=$(date +%s)
  case $rc in
    0)
      rm -rf "$job"
      echo "delivered $(basename "$job") to $recipient (attempt $attempt)"
      ;;
    75)
      # "the message may have been delivered" in stderr (or maybe_delivered in the report)
      # means the final reply was lost: a retry may duplicate the message (RFC 5321 §4.1.1.4).
      if ((now - $(<"$job/created") >= max_age)); then
        fail_job "$job" "gave up after $attempt attempts: $(tail -n 1 "$job/stderr")"
      else
        echo $((attempt + 1)) >"$job/attempt"
        echo $((now + $(backoff "$attempt"))) >"$job/next"
        echo "deferred $(basename "$job") (attempt $attempt): $(tail -n 1 "$job/stderr")" >&2
      fi
      ;;
    *)
      fail_job "$job" "exit $rc: $(tail -n 1 "$job/stderr")"
      ;;
  esac
}

once() {
  local job now
  now=$(date +%s)
  for job in "$queue"/jobs/*/; do
    [ -d "$job" ] || continue
    job=${job%/}
    (($(<"$job/next") <= now)) || continue
    deliver "$job"
  done
}

case ${1:-} in
  add)
    [ $# -eq 3 ] || { echo "usage: queue.sh add SENDER RECIPIENT < message" >&2; exit 64; }
    add "$2" "$3"
    ;;
  once | run)
    # One runner at a time.
    exec 9>"$queue/.lock"
    flock -n 9 || { echo "queue.sh: another run holds $queue/.lock" >&2; exit 75; }
    once
    while [ "$1" = run ]; do
      sleep 60
      once
    done
    ;;
  *)
    echo "usage: queue.sh add SENDER RECIPIENT < message | queue.sh run | queue.sh once" >&2
    exit 64
    ;;
esac
