#!/usr/bin/env python3
# Testbed Postfix delivery agent (pipe(8), runs as nobody): stores the message from stdin in the
# maildir MAILROOT/<domain>/<localpart>/. Used because virtual(8) forbids $n in regexp maps.
"""usage: deliver.py MAILROOT RECIPIENT < message"""

import os
import re
import socket
import sys
import time

EX_NOUSER = 67
EX_TEMPFAIL = 75

# Same shapes as the testbed's virtual_mailboxes map: no "/" and no leading dot in any part.
ADDRESS = re.compile(r"^([A-Za-z0-9_+=-][A-Za-z0-9._+=-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)$")


def unique_name():
    # Maildir naming: time.unique.host (https://cr.yp.to/proto/maildir.html).
    now = time.time()
    return f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}.{socket.gethostname()}"


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return EX_TEMPFAIL
    root, recipient = argv[1], argv[2].lower()
    m = ADDRESS.match(recipient)
    if not m:
        print(f"bad recipient {recipient!r}", file=sys.stderr)
        return EX_NOUSER
    maildir = os.path.join(root, m.group(2), m.group(1))
    try:
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(maildir, sub), mode=0o755, exist_ok=True)
        name = unique_name()
        tmp = os.path.join(maildir, "tmp", name)
        with open(tmp, "xb") as out:
            while chunk := sys.stdin.buffer.read(1 << 20):
                out.write(chunk)
        # Readers poll new/: the rename makes the complete file appear at once.
        os.rename(tmp, os.path.join(maildir, "new", name))
    except OSError as e:
        print(f"cannot deliver to {maildir}: {e}", file=sys.stderr)
        return EX_TEMPFAIL
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
