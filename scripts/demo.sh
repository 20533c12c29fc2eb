#!/usr/bin/env bash
# Newcomer demo of mxclient's main job: start the loopback testbed, deliver one message to
# someone@secure.example (DNSSEC-validated MX, STARTTLS), show the delivered file, stop the testbed.
# Needs root and a build in build/ (cmake --preset dev && cmake --build --preset dev);
# BUILD_DIR=... picks another build directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
testbed_dir=$build/testbed
mxclient=$build/mxclient
testbed=("${PYTHON:-python3}" "$root/tests/testbed/testbed.py")

if [ ! -x "$mxclient" ]; then
  echo "demo: $mxclient not found; build first: cmake --preset dev && cmake --build --preset dev" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root (the testbed binds ports 25 and 53 on loopback)" >&2
  exit 1
fi

stop_testbed() { "${testbed[@]}" stop "$testbed_dir" >/dev/null || true; }
trap stop_testbed EXIT

echo "== Starting the testbed in $testbed_dir (nsd 127.0.53.1, unbound 127.0.53.2, Postfix 127.0.25.x)"
"${testbed[@]}" start "$testbed_dir"

rcpt=someone@secure.example
echo
echo "== Sending a message to $rcpt (transcript follows)"
printf '%s\r\n' \
  "From: Demo <demo@client.example>" \
  "To: <$rcpt>" \
  "Subject: Hello from mxclient" \
  "" \
  "This message went straight to the MX of secure.example," \
  "found through DNSSEC-validated DNS." >"$testbed_dir/demo-message.txt"
rc=0
"$mxclient" --helo client.example --trust-anchor "$testbed_dir/root.key" \
  --resolver 127.0.53.2 -f demo@client.example "$rcpt" <"$testbed_dir/demo-message.txt" || rc=$?
echo "== mxclient exit code: $rc"
if [ "$rc" -ne 0 ]; then
  echo "demo: delivery failed; see $testbed_dir/postfix/maillog and $testbed_dir/unbound/unbound.log" >&2
  exit 1
fi

# Postfix delivers asynchronously into mail/<domain>/<localpart>/new/.
maildir=$testbed_dir/mail/secure.example/someone/new
file=
for _ in $(seq 1 100); do
  file=$(find "$maildir" -type f 2>/dev/null | head -n 1 || true)
  [ -n "$file" ] && break
  sleep 0.1
done
if [ -z "$file" ]; then
  echo "demo: nothing arrived in $maildir; see $testbed_dir/postfix/maillog" >&2
  exit 1
fi
echo
echo "== Delivered file $file"
cat "$file"
echo
echo "== Stopping the testbed"
