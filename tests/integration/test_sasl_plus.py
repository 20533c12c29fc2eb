#!/usr/bin/env python3
# Integration: mxclient's submission transport against mx_sasl_server (tests/sasl_server), for
# what the testbed's Dovecot 2.3 cannot do: SCRAM-*-PLUS channel binding and AUTH EXTERNAL.
"""Each test starts its own mx_sasl_server (GNU SASL's server side) on 127.0.25.30:25587 with a
self-signed certificate for IP:127.0.25.30 made here, runs the real mxclient with a --config
whose submission transport names that IP literal (ca_file = that certificate, so PKIX checks
the IP SAN), and reads what the server stored: DIR/msg-N.eml (the message) and DIR/msg-N.env
(mech=, authid=, binding=, client-cert-sha256=, client-spki-sha256= ...). The server is
stopped by its pid.

Environment: MX_SASL_SERVER (set by tests/integration/CMakeLists.txt; default: the
mx_sasl_server next to MXCLIENT's build tree). Without that binary the module is skipped (77).
The testbed must be up only for mxtest's DNS options, which mxclient gets on every run so that
it never uses the system resolver (the relay is an IP literal, so it needs no DNS)."""

import os
import re
import smtplib
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

import mxtest
from mxtest import EX_OK, MxTestCase

EX_NOPERM = 77  # sysexits.h: authentication refused (535)

mxtest.require_options("--config")


def _server_binary():
    path = os.environ.get("MX_SASL_SERVER")
    if not path:
        path = str(Path(mxtest.MXCLIENT).parent / "tests" / "sasl_server" / "mx_sasl_server")
    if not os.access(path, os.X_OK):
        print(f"test_sasl_plus: SKIPPED: no mx_sasl_server binary at {path!r} "
              "(build the mx_sasl_server target or set MX_SASL_SERVER)", file=sys.stderr)
        sys.exit(mxtest.SKIP)
    return path


SERVER = _server_binary()
# Fixed, outside the testbed's addresses (tests/testbed/README.md); ctest RESOURCE_LOCK sasl_plus.
HOST, PORT = "127.0.25.30", 25587
SERVER_NAME = "sasl.test.example"
USER, PASSWORD = "alice", "alice-plus-secret"
RCPT_DOMAIN = "sasl-plus.example"
MSG = (b"Subject: sasl plus\r\nFrom: sender@client.example\r\n\r\nchannel binding test\r\n"
       b".a line with a leading dot\r\n")
AUTH_LINE = re.compile(rb"(?m)^>>> AUTH (\S+)")
ALL_MECHS = ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN",
             "EXTERNAL")

_PKI = tempfile.TemporaryDirectory(prefix="mxtest-saslplus-pki-")
PKI = Path(_PKI.name)
# The server certificate mxclient must verify for the IP literal it connects to.
SERVER_CERT, SERVER_KEY = mxtest.make_self_signed(PKI, "server", SERVER_NAME,
                                                  f"IP:{HOST},DNS:{SERVER_NAME}")
# The same name without the IP SAN: PKIX for the IP literal must fail.
DNS_ONLY_CERT, DNS_ONLY_KEY = mxtest.make_self_signed(PKI, "server-dns-only", SERVER_NAME,
                                                      f"DNS:{SERVER_NAME}")
# Client identities for EXTERNAL: two certificates, and a bare Ed25519 key.
CLIENT_CERT, CLIENT_KEY = mxtest.make_self_signed(PKI, "client", "alice client")
OTHER_CERT, OTHER_KEY = mxtest.make_self_signed(PKI, "other", "someone else")
BARE_ED25519 = mxtest.make_key(PKI / "bare-ed25519.key", "ed25519")


class SaslServer:
    """One mx_sasl_server process writing into out_dir; stop() ends it by its pid."""

    def __init__(self, workdir, *options, cert=SERVER_CERT, key=SERVER_KEY):
        own = Path(tempfile.mkdtemp(prefix="server-", dir=workdir))
        self.out_dir = own / "out"
        self.out_dir.mkdir()
        self.log_path = own / "server.log"
        argv = [SERVER, "--listen", f"{HOST}:{PORT}", "--cert", str(cert), "--key", str(key),
                "--out-dir", str(self.out_dir), "--user", USER, "--password", PASSWORD,
                *options]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        try:
            mxtest.wait_listening(HOST, PORT, proc=self.proc)
        except AssertionError as e:
            self.stop()
            raise AssertionError(f"{e}\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # by pid: Popen signals only its own child
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def log(self):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"--- mx_sasl_server log ---\n{text[-3000:]}"

    def messages(self):
        return sorted(self.out_dir.glob("msg-*.eml"))

    def session(self, n=1):
        """The msg-N.env facts as a dict (rcpt= lines as a list)."""
        facts = {"rcpt": []}
        for line in (self.out_dir / f"msg-{n}.env").read_text().splitlines():
            k, _, v = line.partition("=")
            if k == "rcpt":
                facts["rcpt"].append(v)
            else:
                facts[k] = v
        return facts


class SaslPlusCase(MxTestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mxtest-saslplus-")
        self.tmp = Path(self._tmp.name)
        self.addCleanup(self._tmp.cleanup)
        self.password_file = self.tmp / "alice.pass"
        self.password_file.write_text(PASSWORD + "\n")
        os.chmod(self.password_file, 0o600)

    def start_server(self, *options, **kw):
        server = SaslServer(self.tmp, *options, **kw)
        self.addCleanup(server.stop)
        return server

    def config(self, mechanisms=None, client_cert=None, client_key=None, password_file=None,
               ca_file=SERVER_CERT):
        """A config with submission transport "plus" to HOST:PORT (STARTTLS) and a route for
        RCPT_DOMAIN to it; client_cert/client_key are written only when given."""
        t = mxtest.toml_value
        lines = ["[transports.plus]", 'type = "submission"', f"host = {t(HOST)}",
                 f"port = {PORT}", 'tls = "starttls"', f"username = {t(USER)}",
                 f"password_file = {t(str(password_file or self.password_file))}",
                 f"ca_file = {t(str(ca_file))}"]
        if mechanisms is not None:
            lines.append(f"auth_mechanisms = {t(list(mechanisms))}")
        if client_cert is not None:
            lines.append(f"client_cert = {t(str(client_cert))}")
        if client_key is not None:
            lines.append(f"client_key = {t(str(client_key))}")
        lines += ["", "[[routes]]", f"recipient_domains = {t([RCPT_DOMAIN])}",
                  'transport = "plus"']
        path = self.tmp / "config.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def run_client(self, config, expect=EX_OK, server=None):
        """Runs mxclient with config for one fresh recipient; expect None: any failure."""
        rcpt = mxtest.address("plus", RCPT_DOMAIN)
        r = mxtest.run_mxclient([rcpt], MSG, extra=["--config", str(config)])
        hint = r.describe() + ("\n" + server.log() if server else "")
        if expect is None:
            self.assertNotEqual(r.returncode, EX_OK, f"unexpected success{hint}")
        else:
            self.assertEqual(r.returncode, expect, f"unexpected exit code{hint}")
        return r, rcpt, hint

    def auth_mechanisms_sent(self, run):
        return [m.decode() for m in AUTH_LINE.findall(run.stdout)]

    def assert_stored(self, server, run, rcpt, hint, mech):
        """Exactly one message, byte for byte MSG, accepted after AUTH mech; returns the
        session facts."""
        files = server.messages()
        self.assertEqual(len(files), 1, f"stored messages: {files}{hint}")
        self.assertEqual(files[0].read_bytes(), MSG, hint)
        facts = server.session()
        self.assertEqual(facts["mech"], mech, hint)
        self.assertEqual(facts["rcpt"], [f"TO:<{rcpt}>"], hint)
        self.assertEqual(self.auth_mechanisms_sent(run), [mech], hint)
        self.assert_delivery_line(run, rcpt, host=HOST, security="PKIX-verified TLSv1.3")
        return facts

    def assert_refused(self, server, run, hint, mech):
        self.assertEqual(server.messages(), [], hint)
        self.assertEqual(self.auth_mechanisms_sent(run), [mech], hint)
        self.assertIn(b"<<< 535", run.stdout, hint)
        self.assertRegex((run.stdout + run.stderr).decode(errors="replace").lower(),
                         "authentication failed", hint)
        self.assertNotIn(b"delivered to", run.stdout, hint)
        self.assertNotIn(b">>> MAIL", run.stdout, hint)


class ChannelBindingTest(SaslPlusCase):
    def deliver_plus(self, mech):
        server = self.start_server()
        r, rcpt, hint = self.run_client(self.config(mechanisms=[mech]), server=server)
        facts = self.assert_stored(server, r, rcpt, hint, mech)
        # RFC 9266: TLS 1.3 binds with tls-exporter (tls-unique is undefined there).
        self.assertEqual(facts["binding"], "tls-exporter", hint)
        self.assertEqual(facts["authid"], USER, hint)
        self.assertNotIn(PASSWORD.encode(), r.stdout + r.stderr, hint)
        return r

    def test_scram_sha_256_plus(self):
        r = self.deliver_plus("SCRAM-SHA-256-PLUS")
        self.assertIn(b"AUTH SCRAM-SHA-256-PLUS", r.stdout, r.describe())

    def test_scram_sha_1_plus(self):
        self.deliver_plus("SCRAM-SHA-1-PLUS")

    def test_default_prefers_plus(self):
        # No auth_mechanisms: the strongest mechanism both sides have is SCRAM-SHA-256-PLUS
        # (EXTERNAL needs a client certificate, PLAIN and non-PLUS SCRAM rank lower).
        server = self.start_server("--mechs", " ".join(reversed(ALL_MECHS)))
        r, rcpt, hint = self.run_client(self.config(), server=server)
        facts = self.assert_stored(server, r, rcpt, hint, "SCRAM-SHA-256-PLUS")
        self.assertEqual(facts["binding"], "tls-exporter", hint)

    def test_tampered_binding_fails(self):
        # The server binds to different data than the TLS channel's: if mxclient's SCRAM proof
        # really covers the channel (RFC 5802 §6, c= attribute), the server must refuse it.
        for mech in ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"):
            with self.subTest(mech=mech):
                server = self.start_server("--tamper-binding")
                r, _, hint = self.run_client(self.config(mechanisms=[mech]), expect=EX_NOPERM,
                                             server=server)
                self.assert_refused(server, r, hint, mech)
                server.stop()
                self.assertIn(f"AUTH {mech} failed", server.log(), hint)

    def test_tamper_affects_only_plus(self):
        # Control for the test above: the same tampering server accepts plain SCRAM-SHA-256,
        # so the refusal there comes from the binding and not from the password.
        server = self.start_server("--tamper-binding", "--mechs", " ".join(ALL_MECHS))
        r, rcpt, hint = self.run_client(self.config(mechanisms=["SCRAM-SHA-256"]), server=server)
        facts = self.assert_stored(server, r, rcpt, hint, "SCRAM-SHA-256")
        self.assertEqual(facts["binding"], "", hint)

    def test_wrong_password(self):
        # 535 5.7.8 (RFC 4954 §6): permanent, EX_NOPERM; nothing stored.
        wrong = self.tmp / "wrong.pass"
        wrong.write_text("not-the-password\n")
        os.chmod(wrong, 0o600)
        for mech in ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "PLAIN"):
            with self.subTest(mech=mech):
                server = self.start_server()
                r, _, hint = self.run_client(self.config(mechanisms=[mech], password_file=wrong),
                                             expect=EX_NOPERM, server=server)
                self.assert_refused(server, r, hint, mech)
                self.assertNotIn(b"not-the-password", r.stdout + r.stderr, hint)
                server.stop()


class ExternalTest(SaslPlusCase):
    """AUTH EXTERNAL (RFC 4422 App. A): the identity is the TLS client certificate, which the
    server judges by its SHA-256 (or its SPKI's) given as --expect-cert-sha256."""

    def test_client_certificate(self):
        server = self.start_server("--expect-cert-sha256", mxtest.cert_sha256(CLIENT_CERT))
        r, rcpt, hint = self.run_client(
            self.config(mechanisms=["EXTERNAL"], client_cert=CLIENT_CERT, client_key=CLIENT_KEY),
            server=server)
        facts = self.assert_stored(server, r, rcpt, hint, "EXTERNAL")
        self.assertEqual(facts["client-cert-sha256"], mxtest.cert_sha256(CLIENT_CERT), hint)
        self.assertNotIn(PASSWORD.encode(), r.stdout + r.stderr, hint)

    def test_client_certificate_by_spki(self):
        server = self.start_server("--expect-cert-sha256", mxtest.spki_sha256(CLIENT_CERT))
        r, rcpt, hint = self.run_client(
            self.config(mechanisms=["EXTERNAL"], client_cert=CLIENT_CERT, client_key=CLIENT_KEY),
            server=server)
        self.assert_stored(server, r, rcpt, hint, "EXTERNAL")

    def test_other_client_certificate_refused(self):
        server = self.start_server("--expect-cert-sha256", mxtest.cert_sha256(CLIENT_CERT))
        r, _, hint = self.run_client(
            self.config(mechanisms=["EXTERNAL"], client_cert=OTHER_CERT, client_key=OTHER_KEY),
            expect=EX_NOPERM, server=server)
        self.assert_refused(server, r, hint, "EXTERNAL")

    def test_bare_ed25519_key(self):
        # client_key alone: mxclient makes a self-signed certificate for the key in memory
        # (src/tls/context.cpp); the server knows only the key, so it matches the SPKI.
        want = mxtest.spki_sha256(BARE_ED25519, private_key=True)
        server = self.start_server("--expect-cert-sha256", want)
        r, rcpt, hint = self.run_client(
            self.config(mechanisms=["EXTERNAL"], client_key=BARE_ED25519), server=server)
        facts = self.assert_stored(server, r, rcpt, hint, "EXTERNAL")
        self.assertEqual(facts["client-spki-sha256"], want, hint)

    def test_bare_ed25519_key_other_key_refused(self):
        other = mxtest.make_key(self.tmp / "other-ed25519.key", "ed25519")
        server = self.start_server(
            "--expect-cert-sha256", mxtest.spki_sha256(BARE_ED25519, private_key=True))
        r, _, hint = self.run_client(self.config(mechanisms=["EXTERNAL"], client_key=other),
                                     expect=EX_NOPERM, server=server)
        self.assert_refused(server, r, hint, "EXTERNAL")


class ServerCertificateTest(SaslPlusCase):
    def test_ip_literal_needs_ip_san(self):
        # The relay is the IP literal: a certificate for the name alone is not PKIX-valid for
        # it (RFC 6125 §1.7.2 leaves IPs to iPAddress SANs), so no AUTH may be sent. The exit
        # code is not pinned (a TLS failure at the relay), only "nothing sent".
        server = self.start_server(cert=DNS_ONLY_CERT, key=DNS_ONLY_KEY)
        r, _, hint = self.run_client(self.config(mechanisms=["SCRAM-SHA-256-PLUS"],
                                                 ca_file=DNS_ONLY_CERT),
                                     expect=None, server=server)
        self.assertEqual(self.auth_mechanisms_sent(r), [], hint)
        self.assertEqual(server.messages(), [], hint)


class ServerSelfTest(SaslPlusCase):
    """mx_sasl_server itself, driven by Python's smtplib (AUTH PLAIN): it stores only what an
    SMTP server would have accepted, so the checks above cannot pass on a half-sent message."""

    def session(self):
        ctx = ssl.create_default_context(cafile=str(SERVER_CERT))
        s = smtplib.SMTP(HOST, PORT, timeout=10)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        s.starttls(context=ctx)
        s.ehlo("client.example")
        s.login(USER, PASSWORD)
        return s

    def sync(self):
        # The server serves one connection at a time: a greeting on a new one means the
        # previous connection is finished.
        with smtplib.SMTP(HOST, PORT, timeout=10) as s:
            s.noop()

    def test_data_cut_before_final_dot_is_not_stored(self):
        server = self.start_server()
        s = self.session()
        s.mail("a@client.example")
        s.rcpt("b@" + RCPT_DOMAIN)
        s.putcmd("data")
        self.assertEqual(s.getreply()[0], 354)
        s.send(b"Subject: cut\r\n\r\nno final dot\r\n")
        s.close()
        self.sync()
        self.assertEqual(server.messages(), [], server.log())

    def test_data_stored_dot_unstuffed(self):
        server = self.start_server()
        s = self.session()
        s.sendmail("a@client.example", ["b@" + RCPT_DOMAIN], MSG)  # smtplib dot-stuffs
        s.quit()
        self.assertEqual([f.read_bytes() for f in server.messages()], [MSG], server.log())

    def test_bdat_without_rcpt_is_discarded(self):
        server = self.start_server()
        s = self.session()
        s.mail("a@client.example")
        s.send(b"BDAT 6\r\nstray\n")
        self.assertEqual(s.getreply()[0], 503)
        s.rcpt("b@" + RCPT_DOMAIN)
        s.send(b"BDAT 4 LAST\r\nkept")
        self.assertEqual(s.getreply()[0], 250)
        s.quit()
        self.assertEqual([f.read_bytes() for f in server.messages()], [b"kept"], server.log())


if __name__ == "__main__":
    mxtest.main()
