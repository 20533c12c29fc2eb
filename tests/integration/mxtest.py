# Shared harness for the mxclient integration tests: finds the running testbed and the binary,
# runs mxclient against the testbed only, and reads back what Postfix delivered.
"""Import this first in every tests/integration/test_*.py module.

Environment (set by ctest, see tests/integration/CMakeLists.txt):
    TESTBED_DIR  state directory of a running testbed (tests/testbed/testbed.py start DIR)
    MXCLIENT     path of the mxclient binary
Without a running testbed (no TESTBED_DIR/env.json) the module exits with 77 (ctest: skipped).
"""

import json
import os
import re
import subprocess
import sys
import time
import unittest
import uuid
from pathlib import Path

SKIP = 77

# mxclient's exit codes (sysexits.h values).
EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOUSER = 67
EX_NOHOST = 68
EX_UNAVAILABLE = 69
EX_IOERR = 74
EX_TEMPFAIL = 75

SENDER = "sender@client.example"


def _die(code, msg):
    print(f"mxtest: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def _load():
    tb = os.environ.get("TESTBED_DIR")
    if not tb:
        _die(SKIP, "SKIPPED: TESTBED_DIR is not set; run through ctest or export "
                   "TESTBED_DIR=<build>/testbed after "
                   "tests/testbed/testbed.py start <build>/testbed")
    env_file = Path(tb) / "env.json"
    if not env_file.exists():
        _die(SKIP, f"SKIPPED: testbed is not up ({env_file} missing); start it with "
                   f"`python3 tests/testbed/testbed.py start {tb}` (as root)")
    binary = os.environ.get("MXCLIENT")
    if not binary or not os.access(binary, os.X_OK):
        # Not a skip: a missing binary in a configured build is a real failure.
        _die(1, f"FAILED: MXCLIENT={binary!r} is not an executable mxclient binary")
    return json.loads(env_file.read_text()), binary


ENV, MXCLIENT = _load()
MAIL_DIR = Path(ENV["mail_dir"])
ROOT_KEY = ENV["dns"]["root_key"]
ROOT_HINTS = ENV["dns"]["root_hints"]
RESOLVER = ENV["dns"]["resolver"]["addr"]


def is_sanitized_build():
    """ASan/UBSan builds use far more memory; memory limits do not apply to them."""
    with open(MXCLIENT, "rb") as f:
        return b"__asan_init" in f.read()


def address(tag, domain="secure.example"):
    """A fresh recipient so that every test has its own maildir. tag must be [a-z0-9-]."""
    return f"{tag}-{uuid.uuid4().hex[:12]}@{domain}"


def mxclient_argv(rcpts, sender=SENDER, mode="resolver", quiet=False, extra=()):
    """Testbed options always: our HELO name, our trust anchor and our DNS (never the system
    resolver). mode: "resolver" (stub to the testbed's unbound) or "root-hints" (libunbound
    recursing from the testbed's fake root)."""
    argv = [MXCLIENT]
    if quiet:
        argv.append("-q")
    argv += ["--helo", "client.example", "--trust-anchor", ROOT_KEY]
    if mode == "resolver":
        argv += ["--resolver", RESOLVER]
    elif mode == "root-hints":
        argv += ["--root-hints", ROOT_HINTS]
    else:
        raise ValueError(mode)
    argv += list(extra)
    argv += ["-f", sender]
    argv += list(rcpts)
    return argv


class Run:
    def __init__(self, argv, returncode, stdout, stderr):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr

    def describe(self):
        return (f"\n$ {' '.join(self.argv)}\nexit {self.returncode}\n--- stdout ---\n"
                f"{self.stdout.decode(errors='replace')[-4000:]}\n--- stderr ---\n"
                f"{self.stderr.decode(errors='replace')[-4000:]}")


def run_mxclient(rcpts, data=b"", stdin=None, timeout=60, **kw):
    """Runs mxclient with data (bytes) on stdin, or with the given stdin file object/fd."""
    argv = mxclient_argv(rcpts, **kw)
    try:
        if stdin is None:
            p = subprocess.run(argv, input=data, capture_output=True, timeout=timeout)
        else:
            p = subprocess.run(argv, stdin=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"mxclient did not finish within {timeout} s: {' '.join(argv)}\n"
                             f"{(e.stdout or b'').decode(errors='replace')[-4000:]}")
    return Run(argv, p.returncode, p.stdout, p.stderr)


def maildir(addr):
    local, domain = addr.rsplit("@", 1)
    return MAIL_DIR / domain.lower() / local.lower()


def delivered_files(addr):
    new = maildir(addr) / "new"
    return sorted(new.iterdir()) if new.is_dir() else []


def wait_for_mail(addr, count=1, timeout=20.0):
    """Polls the recipient's maildir until count messages are there; returns their paths."""
    deadline = time.monotonic() + timeout
    while True:
        files = delivered_files(addr)
        if len(files) >= count or time.monotonic() > deadline:
            return files
        time.sleep(0.05)


def normalize(data):
    """What the message must look like after transport: every line ending (CRLF, bare LF,
    bare CR) as LF, and a final LF when the input did not end with one."""
    out = re.sub(rb"\r\n|\r|\n", b"\n", data)
    if out and not out.endswith(b"\n"):
        out += b"\n"
    return out


# A header field line (RFC 5322 section 2.2: printable ASCII except ":" then ":").
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")


def postfix_view(data):
    """The stored form Postfix produces from a message we sent: normalize(), and when the message
    is not empty and starts with neither a header field nor an empty line, Postfix's cleanup(8)
    puts an empty line between its Received header and our text (else our first line would
    become a header)."""
    out = normalize(data)
    if not out or _HEADER_LINE.match(out) or out.startswith(b"\n"):
        return out  # an empty message stays empty
    return b"\n" + out


def split_delivered(content):
    """Splits a delivered file into (Postfix's added headers, the rest). Postfix prepends exactly
    Return-Path (pipe R flag), Delivered-To (D flag) and one Received header (smtpd)."""
    pos = 0
    for name in (b"Return-Path: ", b"Delivered-To: ", b"Received: "):
        if not content.startswith(name, pos):
            raise AssertionError(f"delivered file lacks {name!r} at offset {pos}: "
                                 f"{content[:600]!r}")
        pos = content.index(b"\n", pos) + 1
    while content[pos:pos + 1] in (b" ", b"\t"):  # Received continuation lines
        pos = content.index(b"\n", pos) + 1
    return content[:pos], content[pos:]


def received_by(added_headers):
    """Host name of the MX that accepted the message, from the Received header."""
    m = re.search(rb"\bby (\S+) \(Postfix\)", added_headers)
    return m.group(1).decode() if m else None


def received_with(added_headers):
    """Protocol of the Received header: ESMTP, ESMTPS (TLS), UTF8ESMTPS, ..."""
    m = re.search(rb"\bwith (\S+)", added_headers)
    return m.group(1).decode() if m else None


class MxTestCase(unittest.TestCase):
    maxDiff = 2000

    def send(self, rcpts, data=b"", expect=EX_OK, **kw):
        r = run_mxclient(rcpts, data, **kw)
        self.assertEqual(r.returncode, expect, f"unexpected exit code{r.describe()}")
        return r

    def assert_delivered(self, addr, data, run=None, via=None, timeout=20.0):
        """Waits for exactly one message for addr and checks it byte for byte; via names the
        MX host that must have received it. Returns the added Postfix headers."""
        files = wait_for_mail(addr, timeout=timeout)
        hint = run.describe() if run else ""
        self.assertEqual(len(files), 1, f"expected one message in {maildir(addr)}{hint}")
        added, rest = split_delivered(files[0].read_bytes())
        want = postfix_view(data)
        if rest != want:
            self.fail(f"delivered content differs ({files[0]}):\nwant {len(want)} bytes "
                      f"{want[:300]!r}...\ngot  {len(rest)} bytes {rest[:300]!r}...{hint}")
        if via is not None:
            self.assertEqual(received_by(added), via, f"Received header: {added!r}")
        return added

    def assert_nothing_delivered(self, addr):
        self.assertEqual(delivered_files(addr), [], f"unexpected mail in {maildir(addr)}")


def main():
    unittest.main(verbosity=2)
