#!/bin/sh
# Example for mxclient(1): send a password-reset mail from a shell script and act on the exit
# code (0 sent, 75 try again later, anything else: the address cannot receive this mail).
#
# Usage: password-reset.sh ADDRESS RESET-LINK
# Environment: MXCLIENT (default mxclient), FROM (default noreply@example.org),
#              HELO (default: mxclient's own choice, the host's FQDN).
set -u

to=${1:?usage: password-reset.sh ADDRESS RESET-LINK}
link=${2:?usage: password-reset.sh ADDRESS RESET-LINK}
from=${FROM:-noreply@example.org}
mxclient=${MXCLIENT:-mxclient}

# The address goes into a header field: refuse line breaks (header injection) and leading dashes
# (option injection; "--" below also stops option parsing). mxclient checks the syntax itself.
case $to in
  *"
"* | *"$(printf '\r')"* | -*)
    echo "refusing address with a line break or a leading dash" >&2
    exit 65
    ;;
esac

set -- -q -f "$from"
[ -n "${HELO:-}" ] && set -- "$@" --helo "$HELO"

# mxclient reads the whole message before connecting, turns LF into CRLF, and never treats a
# lone "." as the end of input, so a here-document is enough.
"$mxclient" "$@" -- "$to" <<MSG
From: Example Accounts <$from>
To: <$to>
Subject: Reset your password
Date: $(date -R)
Message-ID: <$(date +%s).$$.$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')@${from#*@}>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Someone asked to reset the password of the account for $to.
To choose a new password, open this link within one hour:

  $link

If it was not you, ignore this message.
MSG
rc=$?

case $rc in
  0)
    echo "reset mail sent to $to"
    ;;
  75)
    # Temporary: DNS failure, no MX reachable, 4xx reply, TLS policy not met (yet).
    # Keep the request and run this script again later (see queue.sh for a retry loop).
    echo "reset mail to $to deferred; try again later" >&2
    ;;
  65 | 67 | 68)
    # Bad address, unknown user, no such domain or null MX: tell the user to check the address.
    echo "cannot mail $to: check the address (exit $rc)" >&2
    ;;
  *)
    # Any other permanent failure (69 refused, 77 auth, 64/70/74/78 local problems): give up.
    echo "reset mail to $to failed (exit $rc)" >&2
    ;;
esac
exit $rc
