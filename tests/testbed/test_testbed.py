#!/usr/bin/env python3
# Self-test of the running testbed (no mxclient needed): DNS data and DNSSEC outcomes, TLS
# certificates, Postfix refusals and byte-exact maildir delivery, SASL submission, and the
# helper scripts.
"""Run through ctest (testbed.selftest) or: TESTBED_DIR=<dir> python3 test_testbed.py"""

import base64
import hashlib
import hmac
import json
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import testbed  # noqa: E402

_dir = os.environ.get("TESTBED_DIR")
if not _dir or not (Path(_dir) / "env.json").exists():
    print(f"test_testbed: SKIPPED: no running testbed (TESTBED_DIR={_dir!r} has no env.json)",
          file=sys.stderr)
    sys.exit(77)
ENV = json.loads((Path(_dir) / "env.json").read_text())
RESOLVER = ENV["dns"]["resolver"]["addr"]
AUTH = ENV["dns"]["authoritative"]["addr"]


def drill(name, qtype, server=RESOLVER):
    """(rcode, flags, answer records as lists of fields) for a DO-bit query."""
    rcode, flags, out = testbed.drill(server, name, qtype)
    answers, section = [], None
    for line in out.splitlines():
        if line.startswith(";;"):
            section = "answer" if line.startswith(";; ANSWER SECTION") else None
        elif section == "answer" and line.strip():
            f = line.split()
            if f[3] != "RRSIG":
                answers.append(f[3:])
    return rcode, flags, answers


class DnsTest(unittest.TestCase):
    def assert_answer(self, name, qtype, want, ad=True):
        rcode, flags, answers = drill(name, qtype)
        self.assertEqual(rcode, "NOERROR", (name, qtype))
        self.assertEqual("ad" in flags, ad, (name, qtype, flags))
        for w in want:
            self.assertIn(w.split(), answers, (name, qtype))
        return answers

    def test_secure_mx(self):
        self.assert_answer("secure.example.", "MX", ["MX 10 mx1.secure.example."])
        self.assert_answer("mx1.secure.example.", "A", ["A 127.0.25.1"])

    def test_two_mx(self):
        self.assert_answer("two.secure.example.", "MX",
                           ["MX 10 down.secure.example.", "MX 20 mx2.secure.example."])
        self.assert_answer("down.secure.example.", "A", ["A 127.0.25.250"])
        self.assert_answer("mx2.secure.example.", "A", ["A 127.0.25.2"])

    def test_null_mx(self):
        self.assert_answer("nullmx.secure.example.", "MX", ["MX 0 ."])

    def test_implicit_mx(self):
        rcode, flags, answers = drill("implicit.secure.example.", "MX")
        self.assertEqual((rcode, "ad" in flags, answers), ("NOERROR", True, []))
        self.assert_answer("implicit.secure.example.", "A", ["A 127.0.25.1"])

    def test_cname_domain(self):
        self.assert_answer("alias.secure.example.", "MX",
                           ["CNAME secure.example.", "MX 10 mx1.secure.example."])

    def test_plain_and_v6(self):
        self.assert_answer("plain.secure.example.", "MX", ["MX 10 mx3.secure.example."])
        self.assert_answer("mx3.secure.example.", "A", ["A 127.0.25.3"])
        self.assert_answer("v6.secure.example.", "MX", ["MX 10 mx6.secure.example."])
        self.assert_answer("mx6.secure.example.", "AAAA", ["AAAA ::1"])

    def test_cname_mx_and_insecure_mx(self):
        self.assert_answer("cname-mx.secure.example.", "MX", ["MX 10 mxalias.secure.example."])
        self.assert_answer("mxalias.secure.example.", "A",
                           ["CNAME mx1.secure.example.", "A 127.0.25.1"])
        self.assert_answer("insecure-mx.secure.example.", "MX", ["MX 10 mx.insecure.example."])

    def test_insecure_zone_has_no_ad(self):
        self.assert_answer("insecure.example.", "MX", ["MX 10 mx.insecure.example."], ad=False)
        self.assert_answer("mx.insecure.example.", "A", ["A 127.0.25.1"], ad=False)

    def test_bogus_zone_servfail(self):
        self.assertEqual(drill("bogus.example.", "MX")[0], "SERVFAIL")
        self.assertEqual(drill("mx.bogus.example.", "A")[0], "SERVFAIL")
        # The data itself is there (authoritative answer without validation).
        rcode, flags, answers = drill("bogus.example.", "MX", server=AUTH)
        self.assertEqual(rcode, "NOERROR")
        self.assertIn("MX 10 mx.bogus.example.".split(), answers)

    def test_nxdomain_is_secure(self):
        rcode, flags, _ = drill("nonexistent.secure.example.", "MX")
        self.assertEqual((rcode, "ad" in flags), ("NXDOMAIN", True))

    def test_tlsa_matches_mx1_certificate(self):
        spki = testbed.spki_der(ENV["smtp"]["mx1"]["cert"])
        answers = self.assert_answer("_25._tcp.mx1.secure.example.", "TLSA", [])
        self.assertEqual(answers, [["TLSA", "3", "1", "1", hashlib.sha256(spki).hexdigest()]])

    def test_nothing_outside_our_root(self):
        self.assertEqual(drill("example.com.", "A")[0], "NXDOMAIN")

    def test_trust_anchor_and_hints_files(self):
        key = Path(ENV["dns"]["root_key"]).read_text().split()
        self.assertEqual(key[:6], [".", "3600", "IN", "DNSKEY", "257", "3"])
        self.assertEqual(key[6], "13")
        hints = Path(ENV["dns"]["root_hints"]).read_text()
        self.assertRegex(hints, r"(?m)^\.\s+\d+\s+IN\s+NS\s+ns\.$")
        self.assertRegex(hints, r"(?m)^ns\.\s+\d+\s+IN\s+A\s+127\.0\.53\.1$")


def tls_context(ca=None, hostname=None):
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = hostname is not None
    if not ca:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def smtp(name):
    mx = ENV["smtp"][name]
    s = smtplib.SMTP(mx["addr"], 25, local_hostname="client.example", timeout=10)
    s._host = mx["host"]  # starttls() sends this as SNI and checks the certificate against it
    return s


class SmtpTest(unittest.TestCase):
    def test_banners(self):
        for name, mx in ENV["smtp"].items():
            self.assertTrue(testbed.smtp_greeting(mx["addr"]).startswith(
                f"220 {mx['host']} ESMTP"), name)

    def test_starttls_offered_only_where_configured(self):
        for name, mx in ENV["smtp"].items():
            with smtp(name) as s:
                s.ehlo()
                self.assertEqual(s.has_extn("starttls"), mx["tls"] != "none", name)
                for ext in ("8bitmime", "smtputf8"):
                    self.assertTrue(s.has_extn(ext), (name, ext))
                # mx13 exists to be the one server without CHUNKING and PIPELINING.
                for ext in ("pipelining", "chunking"):
                    self.assertEqual(s.has_extn(ext), name != "mx13", (name, ext))

    def test_self_signed_certificate_is_served(self):
        with smtp("mx1") as s:
            s.starttls(context=tls_context())
            der = s.sock.getpeercert(binary_form=True)
        self.assertEqual(der, testbed.pem_der(ENV["smtp"]["mx1"]["cert"]))

    def test_ca_signed_certificate_verifies(self):
        with smtp("mx2") as s:
            s.ehlo("client.example")
            s.starttls(context=tls_context(ENV["ca_pem"], "mx2.secure.example"))
            s.ehlo("client.example")
            self.assertEqual(s.noop()[0], 250)

    def test_self_signed_does_not_verify_against_ca(self):
        with smtp("mx1") as s:
            with self.assertRaises(ssl.SSLCertVerificationError):
                s.starttls(context=tls_context(ENV["ca_pem"], "mx1.secure.example"))

    def rcpt_reply(self, rcpt):
        with smtp("mx3") as s:
            s.ehlo()
            s.mail("sender@client.example")
            return s.rcpt(rcpt)

    def test_scripted_refusals(self):
        cases = {"unknown-x@secure.example": (550, b"5.1.1"),
                 "tempfail-x@secure.example": (451, b"4.3.0"),
                 "reject-x@secure.example": (554, b"5.7.1"),
                 "ok-x@secure.example": (250, b"2.1.5")}
        for rcpt, (code, enhanced) in cases.items():
            got = self.rcpt_reply(rcpt)
            self.assertEqual(got[0], code, (rcpt, got))
            self.assertTrue(got[1].startswith(enhanced), (rcpt, got))

    def test_no_relaying_and_no_odd_paths(self):
        self.assertEqual(self.rcpt_reply("x@[192.0.2.1]")[0], 554)
        for rcpt in ("../x@secure.example", ".x@secure.example", "a/b@secure.example"):
            self.assertEqual(self.rcpt_reply(rcpt)[0], 550, rcpt)

    def test_delivery_is_byte_exact(self):
        local = f"selftest-{uuid.uuid4().hex[:8]}"
        body = (b"Subject: selftest\r\n\r\n" + b"x" * 10000 + b"\r\n..dot\r\n\xff\xc3\xa4\r\n")
        with smtp("mx2") as s:
            s.starttls(context=tls_context())
            s.sendmail("sender@client.example", [f"{local}@two.secure.example"], body)
        new = Path(ENV["mail_dir"]) / "two.secure.example" / local / "new"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (new.is_dir() and any(new.iterdir())):
            time.sleep(0.05)
        files = list(new.iterdir())
        self.assertEqual(len(files), 1)
        content = files[0].read_bytes()
        m = re.match(rb"Return-Path: <sender@client.example>\n"
                     rb"Delivered-To: " + local.encode() + rb"@two.secure.example\n"
                     rb"Received: from client.example \(unknown \[127.0.0.1\]\)\n"
                     rb"\tby mx2.secure.example \(Postfix\) with ESMTPS id \w+\n"
                     rb"\tfor <[^>]+>; [^\n]+\n", content)
        self.assertIsNotNone(m, content[:400])
        # Postfix (smtpd, "."-unstuffing and CRLF -> LF) kept everything else as sent.
        self.assertEqual(content[m.end():], body.replace(b"\r\n", b"\n"))


def tlsa_rrdata(host):
    """The TLSA records at _25._tcp.<host> as "u s m hex" strings (validated resolver)."""
    rcode, flags, answers = drill(f"_25._tcp.{host}.", "TLSA")
    return [" ".join(a[1:4] + ["".join(a[4:]).lower()]) for a in answers if a[0] == "TLSA"]


def dane_check(host, addr, records=None):
    """Runs openssl s_client with DANE (records, default: the host's published TLSA) against a
    listener; returns (verified, output). DANE-EE skips name checks (RFC 7672 section 3.1.1)."""
    records = tlsa_rrdata(host) if records is None else records
    args = ["openssl", "s_client", "-brief", "-starttls", "smtp", "-connect", f"{addr}:25",
            "-servername", host, "-dane_tlsa_domain", host, "-dane_ee_no_namechecks",
            "-verify_return_error"]
    for r in records:
        args += ["-dane_tlsa_rrdata", r]
    p = subprocess.run(args, input=b"QUIT\r\n", capture_output=True, timeout=15)
    out = (p.stdout + p.stderr).decode(errors="replace")
    return "Verification: OK" in out and "DANE TLSA" in out, out


class DaneScenarioTest(unittest.TestCase):
    """The DANE scenarios of tests/integration/test_dane.py, checked with OpenSSL's own DANE
    code and drill, without mxclient."""

    def test_matching_records_verify(self):
        for host, addr in [("d311", "127.0.25.1"), ("d301", "127.0.25.1"),
                           ("d312", "127.0.25.1"), ("d300", "127.0.25.1"),
                           ("dexpired", "127.0.25.7"), ("ta201", "127.0.25.8"),
                           ("ta211", "127.0.25.8"), ("ta200", "127.0.25.9"),
                           ("dtarget", "127.0.25.1"), ("dalias2", "127.0.25.1")]:
            ok, out = dane_check(f"{host}.secure.example", addr)
            self.assertTrue(ok, f"{host}: {out}")

    def test_record_shapes(self):
        want = {"d311": "3 1 1", "d301": "3 0 1", "d312": "3 1 2", "d300": "3 0 0",
                "ta201": "2 0 1", "ta211": "2 1 1", "ta200": "2 0 0", "tawrong": "2 0 1"}
        for host, prefix in want.items():
            recs = tlsa_rrdata(f"{host}.secure.example")
            self.assertEqual(len(recs), 1, host)
            self.assertTrue(recs[0].startswith(prefix + " "), (host, recs))
        self.assertEqual(sorted(r[:5] for r in tlsa_rrdata("dunusable.secure.example")),
                         ["0 0 1", "1 1 1"])

    def test_failing_records_do_not_verify(self):
        for host, addr in [("ta211n", "127.0.25.9"),   # digest of a TA that is not sent
                           ("tawrong", "127.0.25.10"),  # TA fine, name wrong
                           ("dbad", "127.0.25.7"),      # digest of another key
                           ("dalias", "127.0.25.1")]:   # the alias's own (ignored) record
            ok, out = dane_check(f"{host}.secure.example", addr)
            self.assertFalse(ok, f"{host}: {out}")

    def test_expired_cert_is_expired_and_misnamed(self):
        text = subprocess.run(["openssl", "x509", "-in", ENV["smtp"]["mx7"]["cert"], "-noout",
                               "-enddate", "-ext", "subjectAltName"], capture_output=True,
                              check=True).stdout.decode()
        self.assertIn("notAfter=Feb  1 00:00:00 2020 GMT", text)
        self.assertIn("DNS:expired.wrong.invalid", text)

    def test_chains(self):
        def count(path):
            return Path(path).read_text().count("BEGIN CERTIFICATE")
        self.assertEqual(count(ENV["smtp"]["mx8"]["chain"]), 2)
        self.assertEqual(count(ENV["smtp"]["mx9"]["chain"]), 1)

    def test_dns_status(self):
        # secure NODATA/NXDOMAIN at the expanded name: fallback to the alias's records.
        rcode, flags, _ = drill("_25._tcp.dtarget2.secure.example.", "TLSA")
        self.assertIn(rcode, ("NOERROR", "NXDOMAIN"))
        self.assertIn("ad", flags)
        # TLSA in the unsigned zone: present, not secure.
        rcode, flags, answers = drill("_25._tcp.mxtlsa.insecure.example.", "TLSA")
        self.assertEqual((rcode, "ad" in flags, len(answers)), ("NOERROR", False, 1))
        # Only the TLSA answers of bogustlsa.example are bogus.
        self.assertEqual(drill("_25._tcp.mx.bogustlsa.example.", "TLSA")[0], "SERVFAIL")
        for name, qtype in [("mx.bogustlsa.example.", "A"), ("bogustlsa.example.", "MX"),
                            ("two.bogustlsa.example.", "MX")]:
            rcode, flags, _ = drill(name, qtype)
            self.assertEqual((rcode, "ad" in flags), ("NOERROR", True), name)
        rcode, _, answers = drill("_25._tcp.mx.bogustlsa.example.", "TLSA", server=AUTH)
        self.assertEqual((rcode, len(answers)), ("NOERROR", 1))

    def test_no_starttls_hosts_have_tlsa(self):
        for host in ("dnotls", "dunusablenotls"):
            self.assertEqual(drill(f"{host}.secure.example.", "A")[2], [["A", "127.0.25.3"]])
            self.assertTrue(tlsa_rrdata(f"{host}.secure.example"))


class MtaStsScenarioTest(unittest.TestCase):
    """The MTA-STS policy host and DNS data of tests/integration/test_mtasts.py."""

    def get(self, domain, path="/.well-known/mta-sts.txt"):
        sts = ENV["mta_sts"]
        return testbed.https_get(sts["addr"], f"mta-sts.{domain}", path, ENV["ca_pem"])

    def test_policies_served(self):
        for domain, text in ENV["mta_sts"]["policies"].items():
            self.assertEqual(self.get(domain), (200, text.encode()), domain)

    def test_policy_text(self):
        self.assertEqual(ENV["mta_sts"]["policies"]["sts-enforce.insecure.example"],
                         "version: STSv1\r\nmode: enforce\r\nmx: mxsts.insecure.example\r\n"
                         "max_age: 86400\r\n")

    def test_other_paths_404(self):
        self.assertEqual(self.get("sts-enforce.insecure.example", "/")[0], 404)
        self.assertEqual(self.get("sts-enforce.insecure.example", "/.well-known/x")[0], 404)

    def test_redirect_and_missing_policy(self):
        for src, dst in ENV["mta_sts"]["redirects"].items():
            status, _ = self.get(src)
            self.assertEqual(status, 301, src)
            raw = self.raw_get(src)
            self.assertIn(f"Location: https://mta-sts.{dst}/.well-known/mta-sts.txt", raw)
        for d in ENV["mta_sts"]["no_policy"]:
            self.assertEqual(self.get(d)[0], 404, d)

    def raw_get(self, domain):
        ctx = ssl.create_default_context(cafile=ENV["ca_pem"])
        with socket.create_connection((ENV["mta_sts"]["addr"], 443), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=f"mta-sts.{domain}") as s:
                s.sendall(f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.{domain}\r\n"
                          "Connection: close\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
        return data.decode(errors="replace")

    def test_policy_cert_needs_the_ca(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            with socket.create_connection((ENV["mta_sts"]["addr"], 443), timeout=5) as raw:
                ssl.create_default_context().wrap_socket(
                    raw, server_hostname="mta-sts.sts-enforce.insecure.example")

    def test_nofetch_host_refuses(self):
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((ENV["mta_sts"]["dead_addr"], 443), timeout=5).close()

    def test_dns(self):
        ids = {"sts-enforce": "enforce1", "sts-mismatch": "mismatch1", "sts-badcert": "badcert1",
               "sts-testing": "testing1", "sts-nofetch": "nofetch1", "sts-idchange": "new2",
               "sts-redirect": "redirect1", "sts-404": "nf1"}
        for d, sts_id in ids.items():
            rcode, flags, answers = drill(f"_mta-sts.{d}.insecure.example.", "TXT")
            self.assertEqual(answers, [["TXT", '"v=STSv1;', f'id={sts_id};"']], d)
            self.assertNotIn("ad", flags)
            addr = ENV["mta_sts"]["dead_addr" if d == "sts-nofetch" else "addr"]
            self.assertEqual(drill(f"mta-sts.{d}.insecure.example.", "A")[2], [["A", addr]])
        rcode, flags, answers = drill("_mta-sts.sts-dane.secure.example.", "TXT")
        self.assertEqual((answers, "ad" in flags), ([["TXT", '"v=STSv1;', 'id=dane1;"']], True))
        self.assertEqual(tlsa_rrdata("d311.secure.example")[0][:5], "3 1 1")

    def test_mx_certificates(self):
        with smtp("mx11") as s:
            s.starttls(context=tls_context(ENV["ca_pem"], "mxsts.insecure.example"))
            self.assertEqual(s.noop()[0], 250)
        with smtp("mx12") as s:
            with self.assertRaises(ssl.SSLCertVerificationError):
                s.starttls(context=tls_context(ENV["ca_pem"], "mxsts-self.insecure.example"))


def scram_auth(client, mech, user, password):
    """A minimal SCRAM client (RFC 5802 section 3, no channel binding: GS2 header "n,,") over
    an smtplib connection. Returns the final (code, text); raises AssertionError when the
    server's signature (server-final "v=") is wrong."""
    hname = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-1": "sha1"}[mech]
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    cnonce = b64(os.urandom(18))
    first_bare = f"n={user},r={cnonce}"
    code, text = client.docmd("AUTH", f"{mech} {b64(('n,,' + first_bare).encode())}")
    if code != 334:
        return code, text
    server_first = base64.b64decode(text).decode()
    attrs = dict(a.split("=", 1) for a in server_first.split(","))
    if not attrs["r"].startswith(cnonce):
        raise AssertionError(f"server nonce does not extend ours: {server_first}")
    salted = hashlib.pbkdf2_hmac(hname, password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    hm = lambda k, m: hmac.new(k, m, hname).digest()  # noqa: E731
    client_key = hm(salted, b"Client Key")
    final_bare = f"c={b64(b'n,,')},r={attrs['r']}"
    auth_msg = f"{first_bare},{server_first},{final_bare}".encode()
    proof = bytes(a ^ b for a, b in zip(client_key,
                                        hm(hashlib.new(hname, client_key).digest(), auth_msg)))
    code, text = client.docmd(b64(f"{final_bare},p={b64(proof)}".encode()))
    if code == 334:  # server-final as a challenge; an empty response completes (RFC 4954)
        server_final = base64.b64decode(text).decode()
        want = "v=" + b64(hm(hm(salted, b"Server Key"), auth_msg))
        if server_final != want:
            raise AssertionError(f"bad server signature {server_final!r}, want {want!r}")
        code, text = client.docmd("")
    return code, text


class SubmissionTest(unittest.TestCase):
    """Postfix submission listeners with Dovecot SASL (testbed.SUBMISSION)."""

    def setUp(self):
        self.sub = ENV["submission"]
        self.ctx = tls_context(self.sub["ca_file"], self.sub["host"])

    def client(self, listener="starttls"):
        return testbed.submission_client(listener, self.ctx, timeout=10)

    def auth(self, c, mech, user="alice", password=None):
        password = self.sub["users"][user] if password is None else password
        if mech.startswith("SCRAM-"):
            return scram_auth(c, mech, user, password)
        c.user, c.password = user, password
        method = {"PLAIN": c.auth_plain, "LOGIN": c.auth_login,
                  "CRAM-MD5": c.auth_cram_md5}[mech]
        try:
            return c.auth(mech, method, initial_response_ok=(mech == "PLAIN"))
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code, e.smtp_error

    def test_dns(self):
        rcode, flags, answers = drill(f"{self.sub['host']}.", "A")
        self.assertEqual(rcode, "NOERROR")
        self.assertIn("ad", flags)
        self.assertIn(["A", self.sub["addr"]], answers)

    def test_env(self):
        self.assertEqual(self.sub["ports"], {"starttls": 587, "implicit": 465,
                                             "plain_only": 1587})
        self.assertEqual(self.sub["addresses"], [self.sub["addr"]])
        self.assertEqual(self.sub["users"]["alice"], "alice-secret")

    def test_no_auth_and_no_mail_before_starttls(self):
        for name in ("starttls", "plain_only"):
            with testbed.submission_client(name, self.ctx, starttls=False) as c:
                c.ehlo()
                self.assertTrue(c.has_extn("starttls"), name)
                self.assertFalse(c.has_extn("auth"), name)
                self.assertEqual(c.docmd("AUTH", "PLAIN")[0], 530, name)
                self.assertEqual(c.docmd("MAIL", "FROM:<a@client.example>")[0], 530, name)

    def test_certificate_verifies_on_every_listener(self):
        for name in self.sub["ports"]:
            with self.client(name) as c:
                der = c.sock.getpeercert(binary_form=True)
                self.assertEqual(der, testbed.pem_der(self.sub["cert"]), name)

    def test_certificate_fails_for_another_name(self):
        with socket.create_connection((self.sub["addr"], 465), timeout=10) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                self.ctx.wrap_socket(raw, server_hostname="mx1.secure.example")

    def test_mechanisms_offered(self):
        want = {"starttls": self.sub["mechanisms"], "implicit": self.sub["mechanisms"],
                "plain_only": self.sub["plain_only_mechanisms"]}
        for name, mechs in want.items():
            with self.client(name) as c:
                self.assertEqual(sorted(c.esmtp_features["auth"].upper().split()),
                                 sorted(mechs), name)
                self.assertFalse(any(m.endswith("-PLUS") for m in mechs))

    def test_every_mechanism_every_user(self):
        for mech in self.sub["mechanisms"]:
            for user in self.sub["users"]:
                with self.subTest(mech=mech, user=user), self.client() as c:
                    code, text = self.auth(c, mech, user)
                    self.assertEqual(code, 235, text)

    def test_wrong_password_refused(self):
        for mech in ("PLAIN", "LOGIN", "SCRAM-SHA-256", "CRAM-MD5"):
            with self.subTest(mech=mech), self.client("implicit") as c:
                code, text = self.auth(c, mech, password="wrong-secret")
                self.assertEqual(code, 535, text)
                self.assertTrue(text.startswith(b"5.7.8"), text)
        with self.client() as c:
            self.assertEqual(self.auth(c, "PLAIN", "mallory", "x")[0], 535)

    def test_unauthenticated_client_may_not_send(self):
        with self.client() as c:
            self.assertEqual(c.docmd("MAIL", "FROM:<a@client.example>")[0], 250)
            code, text = c.rcpt("someone@secure.example")
            self.assertEqual(code, 554, text)
            self.assertIn(b"Access denied", text)

    def test_authenticated_mail_is_stored(self):
        local = f"subselftest-{uuid.uuid4().hex[:8]}"
        body = b"Subject: submission selftest\r\n\r\nhello\r\n"
        with self.client("implicit") as c:
            self.assertEqual(self.auth(c, "SCRAM-SHA-256", "bob")[0], 235)
            c.sendmail("sender@client.example", [f"{local}@secure.example"], body)
        new = Path(ENV["mail_dir"]) / "secure.example" / local / "new"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (new.is_dir() and any(new.iterdir())):
            time.sleep(0.05)
        files = list(new.iterdir())
        self.assertEqual(len(files), 1)
        content = files[0].read_bytes()
        m = re.match(rb"Return-Path: <sender@client.example>\n"
                     rb"Delivered-To: " + local.encode() + rb"@secure.example\n"
                     rb"Received: from testbed.check \(unknown \[127.0.0.1\]\)\n"
                     rb"\t\(Authenticated sender: bob\)\n"
                     rb"\tby submit.secure.example \(Postfix\) with ESMTPSA id \w+\n"
                     rb"\tfor <[^>]+>; [^\n]+\n", content)
        self.assertIsNotNone(m, content[:400])
        self.assertEqual(content[m.end():], body.replace(b"\r\n", b"\n"))

    def test_password_files(self):
        for user, path in self.sub["password_files"].items():
            st = os.stat(path)
            self.assertEqual(st.st_mode & 0o777, 0o600, path)
            self.assertEqual(Path(path).read_text(), self.sub["users"][user] + "\n")
        self.assertEqual(self.sub["password_file"], self.sub["password_files"]["alice"])
        loose = self.sub["password_file_0644"]
        self.assertEqual(os.stat(loose).st_mode & 0o777, 0o644)
        self.assertEqual(Path(loose).read_text(), "alice-secret\n")

    def test_dovecot_runs_only_auth(self):
        mechs = testbed.dovecot_mechanisms(self.sub["dovecot"]["auth_socket"])
        self.assertEqual(sorted(mechs), sorted(self.sub["mechanisms"]))
        for port in (110, 143, 993, 995, 4190):
            with socket.socket() as s:
                s.settimeout(2)
                self.assertNotEqual(s.connect_ex(("127.0.0.1", port)), 0, port)
                self.assertNotEqual(s.connect_ex((self.sub["addr"], port)), 0, port)


class ScriptTest(unittest.TestCase):
    def deliver(self, root, rcpt, data=b"hello\n"):
        return subprocess.run([sys.executable, str(HERE / "deliver.py"), root, rcpt],
                              input=data, capture_output=True).returncode

    def test_deliver_writes_maildir(self):
        with tempfile.TemporaryDirectory() as root:
            self.assertEqual(self.deliver(root, "Bob@Secure.Example", b"abc\n"), 0)
            files = list(Path(root, "secure.example", "bob", "new").iterdir())
            self.assertEqual([f.read_bytes() for f in files], [b"abc\n"])
            self.assertEqual(list(Path(root, "secure.example", "bob", "tmp").iterdir()), [])

    def test_deliver_rejects_path_tricks(self):
        with tempfile.TemporaryDirectory() as root:
            for rcpt in ("../x@secure.example", "x@../etc", ".x@a", "a/b@c", "x@.a", "nodomain"):
                self.assertEqual(self.deliver(root, rcpt), 67, rcpt)
            self.assertEqual(list(Path(root).iterdir()), [])

    def test_unknown_placeholder_is_an_error(self):
        with self.assertRaises(testbed.TestbedError):
            testbed.fill_template("x TXT {{NO_SUCH}}\n", {"SERIAL": "1"}, "x.")
        self.assertEqual(testbed.fill_template("{{A}} {{A}}", {"A": "1"}, "x."), "1 1")

    def test_ds_placeholder_names(self):
        self.assertEqual(testbed.ds_key("secure.example."), "DS_SECURE_EXAMPLE")
        self.assertEqual(testbed.ds_key("."), "DS_ROOT")

    def test_status(self):
        p = subprocess.run([sys.executable, str(HERE / "testbed.py"), "status", _dir],
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_start_refuses_foreign_nonempty_dir(self):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "precious").write_text("keep me")
            with self.assertRaises(testbed.TestbedError):
                testbed.prepare_dir(Path(d))
            self.assertTrue(Path(d, "precious").exists())

    def test_busy_port_is_reported(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            with self.assertRaises(testbed.TestbedError):
                testbed.check_free("127.0.0.1", s.getsockname()[1], udp_too=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
