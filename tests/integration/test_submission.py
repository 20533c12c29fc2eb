#!/usr/bin/env python3
# Integration: delivery through a submission smarthost (RFC 6409, RFC 8314) with SASL AUTH
# (RFC 4954), configured by a --config file's transport and routes.
"""The smarthost is the testbed's submit.secure.example (Postfix with Dovecot SASL, SUBMISSION
in tests/testbed/testbed.py): 587 STARTTLS, 465 implicit TLS, 1587 STARTTLS with AUTH PLAIN
only; users alice/alice-secret and bob/bob-secret. Mail it accepts lands in the same maildirs as
direct delivery, so every check names the host in the Received header (submit.secure.example
with ESMTPSA and "(Authenticated sender: alice)" versus an MX)."""

import base64
import json
import os
import re
import tempfile
from pathlib import Path

import mxtest
from mxtest import EX_OK, MxTestCase, address, received_with

mxtest.require_options("--config", "--attempt", env_keys=("submission",))

EX_NOPERM = 77  # sysexits.h: authentication refused (535)
EX_CONFIG = 78  # sysexits.h: bad local configuration

SUB = mxtest.SUBMISSION
SUBMIT_HOST = SUB["host"]
PASSWORD = SUB["users"]["alice"]
MSG = b"Subject: submission\r\nFrom: sender@client.example\r\n\r\nsubmission test\r\n"

# A client command line of the transcript (">>> AUTH ..."); test_cli.py relies on ">>> ".
AUTH_LINE = re.compile(rb"(?m)^>>> AUTH (\S+)")


def toml(value):
    """A TOML value: JSON's strings, integers, booleans and arrays are valid TOML."""
    return json.dumps(value)


class SubmissionCase(MxTestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mxtest-submission-")
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def config(self, port=None, tls="starttls", mechanisms=None, password_file=None,
               password_env=None, username="alice", ca_file=None,
               recipient_domains=("secure.example",), min_attempt=None):
        """Writes a config with transport "sub" (submission to submit.secure.example) and one
        route to it; returns its path."""
        port = port if port is not None else SUB["ports"]["implicit" if tls == "implicit"
                                                          else "starttls"]
        lines = ["[transports.sub]", 'type = "submission"', f"host = {toml(SUBMIT_HOST)}",
                 f"port = {port}", f"tls = {toml(tls)}", f"username = {toml(username)}",
                 f"ca_file = {toml(ca_file or SUB['ca_file'])}"]
        if password_env is not None:
            lines.append(f"password_env = {toml(password_env)}")
        else:
            lines.append(f"password_file = {toml(str(password_file or SUB['password_file']))}")
        if mechanisms is not None:
            lines.append(f"auth_mechanisms = {toml(list(mechanisms))}")
        lines += ["", "[[routes]]", f"recipient_domains = {toml(list(recipient_domains))}",
                  'transport = "sub"']
        if min_attempt is not None:
            lines.append(f"min_attempt = {min_attempt}")
        path = self.tmp / "config.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def send_with(self, rcpts, config, expect=EX_OK, extra=(), **kw):
        return self.send(rcpts, MSG, expect=expect, extra=["--config", str(config), *extra],
                         **kw)

    def assert_via_submission(self, rcpt, run, user="alice"):
        added = self.assert_delivered(rcpt, MSG, run=run, via=SUBMIT_HOST)
        self.assertEqual(received_with(added), "ESMTPSA", added)  # authenticated, under TLS
        self.assertIn(f"(Authenticated sender: {user})".encode(), added)
        return added

    def assert_direct(self, rcpt, run, via):
        added = self.assert_delivered(rcpt, MSG, run=run, via=via)
        self.assertNotIn(b"Authenticated sender", added)
        return added

    def auth_mechanisms_sent(self, run):
        return [m.decode() for m in AUTH_LINE.findall(run.stdout)]

    def assert_no_secret(self, run, secret=PASSWORD, user="alice"):
        """Neither the password nor its base64 forms (LOGIN's response, PLAIN's
        "\\0user\\0password") appear in stdout or stderr."""
        out = run.stdout + run.stderr
        forms = [secret.encode(), base64.b64encode(secret.encode()),
                 base64.b64encode(f"\0{user}\0{secret}".encode()),
                 base64.b64encode(f"{user}\0{user}\0{secret}".encode())]
        for f in forms:
            self.assertNotIn(f, out, f"secret form {f!r} in the output{run.describe()}")


class MechanismTest(SubmissionCase):
    """Each mechanism the server offers, chosen explicitly, delivers (port 587, STARTTLS)."""

    def deliver_with(self, mech, tag):
        rcpt = address(tag)
        r = self.send_with([rcpt], self.config(mechanisms=[mech]))
        self.assert_via_submission(rcpt, r)
        self.assertEqual(self.auth_mechanisms_sent(r), [mech], r.describe())
        self.assert_no_secret(r)
        return r

    def test_plain(self):
        self.deliver_with("PLAIN", "sub-plain")

    def test_login(self):
        self.deliver_with("LOGIN", "sub-login")

    def test_scram_sha_256(self):
        self.deliver_with("SCRAM-SHA-256", "sub-scram256")

    def test_scram_sha_1(self):
        self.deliver_with("SCRAM-SHA-1", "sub-scram1")

    def test_cram_md5(self):
        self.deliver_with("CRAM-MD5", "sub-crammd5")

    def test_default_is_strongest_common(self):
        # The server offers PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 and no -PLUS
        # variant (Dovecot 2.3), so the strongest common mechanism is SCRAM-SHA-256.
        rcpt = address("sub-default")
        r = self.send_with([rcpt], self.config())
        self.assert_via_submission(rcpt, r)
        self.assertEqual(self.auth_mechanisms_sent(r), ["SCRAM-SHA-256"], r.describe())

    def test_default_with_plain_only_server(self):
        # Port 1587 announces AUTH PLAIN alone: the default choice falls back to it.
        rcpt = address("sub-default-plain")
        r = self.send_with([rcpt], self.config(port=SUB["ports"]["plain_only"]))
        self.assert_via_submission(rcpt, r)
        self.assertEqual(self.auth_mechanisms_sent(r), ["PLAIN"], r.describe())
        self.assert_no_secret(r)

    def test_implicit_tls_465(self):
        rcpt = address("sub-implicit")
        r = self.send_with([rcpt], self.config(tls="implicit"))
        self.assert_via_submission(rcpt, r)
        self.assertEqual(self.auth_mechanisms_sent(r), ["SCRAM-SHA-256"], r.describe())
        self.assertNotIn(b">>> STARTTLS", r.stdout, r.describe())

    def test_implicit_tls_465_login(self):
        rcpt = address("sub-implicit-login")
        r = self.send_with([rcpt], self.config(tls="implicit", mechanisms=["LOGIN"]))
        self.assert_via_submission(rcpt, r)
        self.assert_no_secret(r)

    def test_other_user(self):
        rcpt = address("sub-bob")
        r = self.send_with([rcpt], self.config(username="bob",
                                               password_file=SUB["password_files"]["bob"]))
        self.assert_via_submission(rcpt, r, user="bob")

    def test_password_env(self):
        rcpt = address("sub-env")
        r = self.send_with([rcpt], self.config(password_env="MXTEST_SUBMISSION_PASSWORD"),
                           env={"MXTEST_SUBMISSION_PASSWORD": PASSWORD})
        self.assert_via_submission(rcpt, r)
        self.assert_no_secret(r)


class RefusalTest(SubmissionCase):
    def test_wrong_password(self):
        # 535 5.7.8 (RFC 4954 section 6): permanent, EX_NOPERM.
        wrong = "not-alices-password"
        pw = self.tmp / "wrong.pass"
        pw.write_text(wrong + "\n")
        os.chmod(pw, 0o600)
        for mech in ("PLAIN", "SCRAM-SHA-256"):
            with self.subTest(mech=mech):
                rcpt = address("sub-wrongpw")
                r = self.send_with([rcpt], self.config(password_file=pw, mechanisms=[mech]),
                                   expect=EX_NOPERM)
                self.assertRegex((r.stdout + r.stderr).decode(errors="replace").lower(),
                                 "authentication failed", r.describe())
                self.assertEqual(self.auth_mechanisms_sent(r), [mech], r.describe())
                self.assert_nothing_delivered(rcpt)
                self.assertNotIn(b"delivered to", r.stdout, r.describe())
                self.assert_no_secret(r, secret=wrong)
                self.assert_no_secret(r)

    def test_no_common_mechanism(self):
        # Port 1587 offers AUTH PLAIN only; the config allows SCRAM-SHA-256 alone. Nothing the
        # server refused and nothing a retry can change: the local configuration does not fit
        # this server, so EX_CONFIG (78), not EX_NOPERM (77, a refusal of our credentials).
        # mxclient must not try the mechanism anyway (Postfix would accept AUTH SCRAM-SHA-256
        # there: the filter only hides it in EHLO), so a client that ignores the list delivers
        # and fails this test.
        rcpt = address("sub-nocommon")
        r = self.send_with([rcpt], self.config(port=SUB["ports"]["plain_only"],
                                               mechanisms=["SCRAM-SHA-256"]),
                           expect=EX_CONFIG)
        self.assertEqual(self.auth_mechanisms_sent(r), [], r.describe())
        self.assertIn(b"SCRAM-SHA-256", r.stdout + r.stderr, r.describe())
        self.assert_nothing_delivered(rcpt)

    def test_password_never_in_output(self):
        # PLAIN and LOGIN put the password on the wire (base64); the transcript must redact it.
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech=mech):
                rcpt = address("sub-redact")
                r = self.send_with([rcpt], self.config(mechanisms=[mech]))
                self.assertIn(b">>> AUTH " + mech.encode(), r.stdout, r.describe())
                self.assert_no_secret(r)
                self.assert_via_submission(rcpt, r)

    def test_password_file_readable_by_others(self):
        # Mode 0644: refused before any connection (EX_CONFIG), and the file is not echoed.
        rcpt = address("sub-0644")
        r = self.send_with([rcpt], self.config(password_file=SUB["password_file_0644"]),
                           expect=EX_CONFIG)
        self.assertNotIn(b">>> AUTH", r.stdout, r.describe())
        self.assert_no_secret(r)
        self.assert_nothing_delivered(rcpt)

    def test_missing_password_file(self):
        rcpt = address("sub-nofile")
        r = self.send_with([rcpt], self.config(password_file=self.tmp / "absent.pass"),
                           expect=EX_CONFIG)
        self.assert_nothing_delivered(rcpt)
        self.assertNotIn(b">>> AUTH", r.stdout, r.describe())

    def test_server_certificate_is_verified(self):
        # A ca_file that did not issue submit.secure.example's certificate: no AUTH may be
        # sent (the credentials would go to an unauthenticated server) and nothing delivered.
        # The exit code is not pinned (a TLS failure at the smarthost: temporary, 75, is the
        # likely mapping); only "not delivered" is.
        rcpt = address("sub-badca")
        other_ca = mxtest.ENV["smtp"]["mx1"]["cert"]  # self-signed, unrelated
        r = mxtest.run_mxclient([rcpt], MSG, extra=["--config",
                                                    str(self.config(ca_file=other_ca))])
        self.assertNotEqual(r.returncode, EX_OK, r.describe())
        self.assertNotIn(b">>> AUTH", r.stdout, r.describe())
        self.assert_no_secret(r)
        self.assert_nothing_delivered(rcpt)


class RouteTest(SubmissionCase):
    def test_by_recipient_domain(self):
        # The route names secure.example exactly (no leading dot): its subdomains and other
        # domains go directly to their MX, in the same run.
        routed, outside, sub = (address("route-in"), address("route-out", "insecure.example"),
                                address("route-subdomain", "two.secure.example"))
        r = self.send_with([routed, outside, sub], self.config())
        self.assert_via_submission(routed, r)
        self.assert_direct(outside, r, via="mx1.secure.example")
        self.assert_direct(sub, r, via="mx2.secure.example")

    def test_subdomain_form(self):
        # ".secure.example" matches any subdomain, not secure.example itself.
        sub, apex = address("route-dot-sub", "two.secure.example"), address("route-dot-apex")
        r = self.send_with([sub, apex], self.config(recipient_domains=[".secure.example"]))
        self.assert_via_submission(sub, r)
        self.assert_direct(apex, r, via="mx1.secure.example")

    def test_by_attempt(self):
        # min_attempt = 2: the first attempt goes direct, later ones (a queue's retries) use
        # the smarthost.
        cfg = self.config(min_attempt=2)
        for attempt, routed in ((1, False), (2, True), (3, True)):
            with self.subTest(attempt=attempt):
                rcpt = address(f"route-attempt{attempt}")
                r = self.send_with([rcpt], cfg, extra=["--attempt", str(attempt)])
                if routed:
                    self.assert_via_submission(rcpt, r)
                else:
                    self.assert_direct(rcpt, r, via="mx1.secure.example")
                    self.assertEqual(self.auth_mechanisms_sent(r), [], r.describe())

    def test_without_attempt_option_is_first_attempt(self):
        rcpt = address("route-noattempt")
        r = self.send_with([rcpt], self.config(min_attempt=2))
        self.assert_direct(rcpt, r, via="mx1.secure.example")

    def test_without_config_goes_direct(self):
        rcpt = address("route-noconfig")
        r = self.send([rcpt], MSG)
        self.assert_direct(rcpt, r, via="mx1.secure.example")


if __name__ == "__main__":
    mxtest.main()
