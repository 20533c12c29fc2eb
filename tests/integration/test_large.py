#!/usr/bin/env python3
# Integration: a 200 MB message streams through mxclient in bounded memory and arrives intact.
import hashlib
import os
import subprocess
import tempfile
import threading
import time

import mxtest
from mxtest import MxTestCase, address

BLOCKS = 210  # about 207 MB after CRLF -> LF
RSS_LIMIT_KIB = 32 * 1024


def base_block():
    """About 1 MB of CRLF lines of varying length and content."""
    lines, size, i = [], 0, 0
    while size < 1_000_000:
        line = b"%08d " % i + bytes(ord("A") + (i + j) % 58 for j in range(i % 150)) + b"\r\n"
        lines.append(line)
        size += len(line)
        i += 1
    return b"".join(lines)


BASE = base_block()
HEADER = b"Subject: large\r\nFrom: sender@client.example\r\n\r\n"


def blocks():
    """The message: header, then BLOCKS numbered copies of BASE (numbering catches reordering
    or dropped blocks)."""
    yield HEADER
    for n in range(BLOCKS):
        yield b"block %06d\r\n" % n + BASE


class LargeTest(MxTestCase):
    def test_200mb_message_bounded_memory(self):
        rcpt = address("large")
        want = hashlib.sha256()
        size = 0
        for chunk in blocks():
            norm = mxtest.normalize(chunk)  # chunks end at line boundaries
            want.update(norm)
            size += len(norm)
        self.assertGreater(size, 200_000_000)

        argv = mxtest.mxclient_argv([rcpt], quiet=True)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err)
            write_error = []

            def feed():
                try:
                    for chunk in blocks():
                        proc.stdin.write(chunk)
                    proc.stdin.close()
                except BrokenPipeError as e:  # mxclient gave up; its exit code says why
                    write_error.append(e)

            writer = threading.Thread(target=feed, daemon=True)
            watchdog = threading.Timer(150, proc.kill)  # a hang must not block wait4 forever
            start = time.monotonic()
            writer.start()
            watchdog.start()
            # wait4 rather than Popen.wait: it reports this child's own peak RSS.
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            elapsed = time.monotonic() - start
            watchdog.cancel()
            writer.join(10)
            out.seek(0)
            err.seek(0)
            run = mxtest.Run(argv, proc.returncode, out.read()[-4000:], err.read()[-4000:])
        self.assertEqual(proc.returncode, mxtest.EX_OK, run.describe())
        self.assertFalse(write_error, run.describe())
        print(f"\n200 MB sent in {elapsed:.1f} s, mxclient peak RSS {usage.ru_maxrss} KiB")
        if mxtest.is_sanitized_build():
            print("sanitizer build: RSS limit not checked")
        else:
            self.assertLess(usage.ru_maxrss, RSS_LIMIT_KIB,
                            f"mxclient peak RSS {usage.ru_maxrss} KiB >= 32 MiB")

        files = mxtest.wait_for_mail(rcpt, timeout=90)
        self.assertEqual(len(files), 1, f"no delivery in {mxtest.maildir(rcpt)}")
        try:
            got = hashlib.sha256()
            got_size = 0
            with open(files[0], "rb") as f:
                head = f.read(64 * 1024)
                added, rest = mxtest.split_delivered(head)
                self.assertEqual(mxtest.received_by(added), "mx1.secure.example", added)
                got.update(rest)
                got_size += len(rest)
                while chunk := f.read(1 << 20):
                    got.update(chunk)
                    got_size += len(chunk)
            self.assertEqual(got_size, size)
            self.assertEqual(got.hexdigest(), want.hexdigest(), "content differs")
        finally:
            os.unlink(files[0])  # 200 MB we do not need to keep


if __name__ == "__main__":
    mxtest.main()
