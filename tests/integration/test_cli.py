#!/usr/bin/env python3
# Integration: command-line behaviour: transcript, -q, both DNS modes, usage and input errors.
import os

import mxtest
from mxtest import EX_DATAERR, EX_IOERR, EX_OK, EX_USAGE, MxTestCase, address

MSG = b"Subject: cli\r\nFrom: sender@client.example\r\n\r\ncli test\r\n"


class CliTest(MxTestCase):
    def test_transcript_on_stdout(self):
        rcpt = address("transcript")
        r = self.send([rcpt], MSG)
        self.assertIn(b">>> MAIL FROM:", r.stdout, r.describe())
        self.assert_delivered(rcpt, MSG, run=r)

    def test_quiet_makes_stdout_empty(self):
        rcpt = address("quiet")
        r = self.send([rcpt], MSG, quiet=True)
        self.assertEqual(r.stdout, b"", r.describe())
        self.assert_delivered(rcpt, MSG, run=r)

    def test_resolver_mode(self):
        rcpt = address("stub")
        r = self.send([rcpt], MSG, mode="resolver")
        self.assert_delivered(rcpt, MSG, run=r, via="mx1.secure.example")

    def test_root_hints_mode(self):
        rcpt = address("hints")
        r = self.send([rcpt], MSG, mode="root-hints")
        self.assert_delivered(rcpt, MSG, run=r, via="mx1.secure.example")

    def test_root_hints_mode_validates(self):
        # Recursion from our root with our trust anchor must also see bogus.example as bogus.
        rcpt = address("hints-bogus", "bogus.example")
        self.send([rcpt], MSG, mode="root-hints", expect=mxtest.EX_TEMPFAIL)
        self.assert_nothing_delivered(rcpt)

    def test_stdin_read_error(self):
        # read(2) on a directory fails with EISDIR.
        fd = os.open(mxtest.MAIL_DIR, os.O_RDONLY | os.O_DIRECTORY)
        try:
            rcpt = address("stdin-error")
            r = mxtest.run_mxclient([rcpt], stdin=fd)
        finally:
            os.close(fd)
        self.assertEqual(r.returncode, EX_IOERR, r.describe())
        self.assert_nothing_delivered(rcpt)

    def test_no_recipient_is_usage_error(self):
        r = mxtest.run_mxclient([], MSG)
        self.assertEqual(r.returncode, EX_USAGE, r.describe())

    def test_unknown_option_is_usage_error(self):
        r = mxtest.run_mxclient([address("badopt")], MSG, extra=["--no-such-option"])
        self.assertEqual(r.returncode, EX_USAGE, r.describe())

    def test_bad_recipient_address(self):
        r = mxtest.run_mxclient(["no-at-sign"], MSG)
        self.assertEqual(r.returncode, EX_DATAERR, r.describe())

    def test_bad_sender_address(self):
        rcpt = address("badsender")
        r = mxtest.run_mxclient([rcpt], MSG, sender="a@@b")
        self.assertEqual(r.returncode, EX_DATAERR, r.describe())
        self.assert_nothing_delivered(rcpt)

    def test_null_sender_accepted(self):
        # MAIL FROM:<> (bounces) is legal (RFC 5321 section 4.5.5).
        rcpt = address("nullsender")
        r = mxtest.run_mxclient([rcpt], MSG, sender="")
        self.assertEqual(r.returncode, EX_OK, r.describe())
        added = self.assert_delivered(rcpt, MSG, run=r)
        # Postfix's pipe(8) writes the null sender as MAILER-DAEMON.
        self.assertTrue(added.startswith(b"Return-Path: <MAILER-DAEMON>\n"), added)


if __name__ == "__main__":
    mxtest.main()
