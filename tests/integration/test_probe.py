#!/usr/bin/env python3
"""mxclient --probe DOMAIN against the testbed: the posture table, the verdict and its exit
code, the JSON report, and that no mail is ever sent."""
import json
import os
import tempfile

import mxtest
from mxtest import MxTestCase

mxtest.require_options("--probe")

EX_OK, EX_NOHOST, EX_UNAVAILABLE = 0, 68, 69


def probe(domain, *extra):
    return mxtest.run_mxclient([], extra=["--probe", domain, *extra])


class ProbeTest(MxTestCase):
    def test_dane_domain_is_secure(self):
        r = probe("dane-311.secure.example")
        out = r.stdout.decode()
        self.assertEqual(r.returncode, EX_OK, r.describe())
        self.assertIn("MX records (DNSSEC-secure)", out)
        self.assertIn("TLSA: found", out)
        self.assertIn("DANE-verified by TLSA 3 1 1", out)
        self.assertIn("EHLO: ", out)
        self.assertIn("Verdict: every MX accepts mail securely", out)

    def test_dane_mismatch_is_not_secure(self):
        r = probe("dane-mismatch-only.secure.example")
        self.assertEqual(r.returncode, EX_UNAVAILABLE, r.describe())
        self.assertIn("no matching DANE TLSA records", r.stdout.decode())

    def test_plaintext_mx_is_not_secure(self):
        r = probe("plain.secure.example")
        self.assertEqual(r.returncode, EX_UNAVAILABLE, r.describe())
        self.assertIn("no TLS", r.stdout.decode())

    def test_every_address_of_every_mx_is_probed(self):
        # two.secure.example: the first MX has nobody listening, the second works.
        r = probe("two.secure.example")
        out = r.stdout.decode()
        self.assertEqual(r.returncode, EX_UNAVAILABLE, r.describe())
        self.assertIn("127.0.25.250: failed", out)
        self.assertIn("127.0.25.2: TLSv1", out)

    def test_mta_sts_enforce_with_pkix(self):
        r = probe("sts-enforce.insecure.example", "--ca-file", mxtest.CA_PEM)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, EX_OK, r.describe())
        self.assertIn("MTA-STS: enforce", out)
        self.assertIn("PKIX-valid certificate", out)

    def test_no_such_domain(self):
        r = probe("nonexistent.secure.example")
        self.assertEqual(r.returncode, EX_NOHOST, r.describe())

    def test_json_report_and_no_mail_sent(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "probe.json")
            r = probe("dane-311.secure.example", "--json", path)
            self.assertEqual(r.returncode, EX_OK, r.describe())
            with open(path) as f:
                doc = json.load(f)
        self.assertEqual(doc["recipients"], [])
        attempts = doc["domains"][0]["attempts"]
        self.assertTrue(attempts)
        self.assertTrue(all(not a["delivered"] for a in attempts))
        self.assertNotIn(b"MAIL FROM", r.stdout)


if __name__ == "__main__":
    mxtest.main()
