#!/usr/bin/env python3
# Integration: the --json run report (docs/report.md) for real runs against the testbed: DANE
# success and failure, MTA-STS, a DNS failure; every document must validate against
# docs/report-schema.json (JSON Schema draft 2020-12, python3-jsonschema).
"""Scenario domains as in test_dane.py and test_mtasts.py."""

import json
import sys
import tempfile
from pathlib import Path

import mxtest
from mxtest import (CA_PEM, EX_NOHOST, EX_OK, EX_TEMPFAIL, MxTestCase, address)

mxtest.require_options("--json", "--tls-policy", "--ca-file", "--sts-cache",
                       env_keys=("mta_sts",))

try:
    import jsonschema
except ImportError:  # scripts/install-deps.sh installs python3-jsonschema
    print("test_report: FAILED: python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(1)

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "report-schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
jsonschema.Draft202012Validator.check_schema(SCHEMA)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

MSG = b"Subject: report\r\nFrom: sender@client.example\r\n\r\nJSON report test\r\n"


class ReportTest(MxTestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mxclient-report-")
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def run_with_report(self, rcpts, expect, extra=()):
        """Runs mxclient with --json <file>; returns (run, document) after checking that the
        document validates and agrees with the process (exit code, recipients)."""
        path = self.dir / "report.json"
        r = self.send(rcpts, MSG, expect=expect, extra=["--json", str(path), *extra])
        self.assertTrue(path.exists(), f"no report written{r.describe()}")
        doc = json.loads(path.read_text())
        self.assert_valid(doc, r)
        self.assertEqual(doc["format"], "mxclient-report")
        self.assertEqual(doc["run"]["exit_code"], r.returncode, r.describe())
        self.assertEqual(doc["run"]["sender"], mxtest.SENDER)
        self.assertEqual(doc["run"]["recipients"], list(rcpts))
        self.assertEqual([x["address"] for x in doc["recipients"]], list(rcpts))
        return r, doc

    def assert_valid(self, doc, run):
        errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]
            self.fail("report does not validate against docs/report-schema.json:\n" +
                      "\n".join(lines) + run.describe())

    @staticmethod
    def domain(doc, name):
        for d in doc["domains"]:
            if d["domain"] == name:
                return d
        raise AssertionError(f"no domain {name} in {[d['domain'] for d in doc['domains']]}")

    @staticmethod
    def policies(doc, domain, policy_type=None):
        return [p for p in doc["tlsrpt"]["policies"]
                if p["policy"]["policy-domain"] == domain and
                (policy_type is None or p["policy"]["policy-type"] == policy_type)]

    def test_dane_verified_delivery(self):
        rcpt = address("jsondane", "dane-311.secure.example")
        r, doc = self.run_with_report([rcpt], EX_OK)
        self.assert_delivered(rcpt, MSG, run=r, via="mx1.secure.example")
        out = doc["recipients"][0]
        self.assertEqual(out["outcome"], "delivered")
        self.assertRegex(out["delivered_via"], r"^d311\.secure\.example \[127\.0\.25\.1\]$")
        self.assertRegex(out["security"], r"^DANE-verified TLSv1\.[23]")
        self.assertIsNone(out["stage"])

        d = self.domain(doc, "dane-311.secure.example")
        self.assertIsNone(d["dns_error"])
        self.assertTrue(d["dns"]["domain_secure"])
        self.assertFalse(d["dns"]["implicit_mx"])
        [mx] = d["dns"]["mx"]
        self.assertEqual((mx["preference"], mx["name"]), (10, "d311.secure.example"))
        self.assertTrue(mx["addresses_secure"])
        self.assertEqual(mx["addresses"], [{"ip": "127.0.25.1", "family": "ipv4"}])
        self.assertEqual(mx["tlsa"]["state"], "found")
        self.assertEqual(mx["tlsa"]["owner"], "_25._tcp.d311.secure.example")
        [rec] = mx["tlsa"]["records"]
        self.assertEqual((rec["usage"], rec["selector"], rec["mtype"], rec["usable"]),
                         (3, 1, 1, True))

        [host] = d["hosts"]
        self.assertEqual(host["authentication"], "dane")
        self.assertFalse(host["skipped"])
        [att] = d["attempts"]
        self.assertEqual(att["address"], "127.0.25.1")
        self.assertIsNone(att["error"])
        self.assertEqual(att["delivered"], [rcpt])
        tls = att["tls"]
        self.assertTrue(tls["dane_verified"])
        self.assertEqual(tls["dane_depth"], 0)
        # The 3 1 1 record is the SHA-256 of the server's SubjectPublicKeyInfo.
        self.assertEqual(tls["spki_sha256"], rec["data"])
        self.assertEqual(tls["dane_record"], f"3 1 1 {rec['data']}")
        self.assertGreater(att["round_trips"], 0)
        self.assertGreaterEqual(doc["totals"]["round_trips"], att["round_trips"])
        self.assertEqual(doc["totals"]["delivered"], 1)

        [pol] = self.policies(doc, "dane-311.secure.example")
        self.assertEqual(pol["policy"]["policy-type"], "tlsa")
        self.assertEqual(pol["policy"]["mx-host"], "d311.secure.example")
        self.assertEqual(pol["policy"]["policy-string"],
                         [f"_25._tcp.d311.secure.example. IN TLSA 3 1 1 {rec['data']}"])
        self.assertEqual(pol["summary"], {"total-successful-session-count": 1,
                                          "total-failure-session-count": 0})
        self.assertEqual(pol["failure-details"], [])

    def test_dane_mismatch_is_tlsa_invalid(self):
        rcpt = address("jsonmismatch", "dane-mismatch-only.secure.example")
        r, doc = self.run_with_report([rcpt], EX_TEMPFAIL)
        self.assert_nothing_delivered(rcpt)
        out = doc["recipients"][0]
        self.assertEqual(out["outcome"], "temporary")
        self.assertEqual(out["stage"], "dane")
        d = self.domain(doc, "dane-mismatch-only.secure.example")
        self.assertTrue(d["attempts"], r.describe())
        for att in d["attempts"]:
            self.assertEqual(att["tlsrpt_result"], "tlsa-invalid")
            self.assertEqual(att["error"]["stage"], "dane")
            self.assertEqual(att["delivered"], [])
        [pol] = self.policies(doc, "dane-mismatch-only.secure.example")
        self.assertEqual(pol["policy"]["policy-type"], "tlsa")
        self.assertEqual(pol["policy"]["mx-host"], "dbad.secure.example")
        self.assertEqual(pol["summary"]["total-successful-session-count"], 0)
        self.assertEqual(pol["summary"]["total-failure-session-count"], len(d["attempts"]))
        [fail] = pol["failure-details"]
        self.assertEqual(fail["result-type"], "tlsa-invalid")
        self.assertEqual(fail["receiving-mx-hostname"], "dbad.secure.example")
        self.assertEqual(fail["receiving-ip"], "127.0.25.7")
        self.assertNotIn("sending-mta-ip", fail)

    def sts_options(self):
        return ["--ca-file", CA_PEM, "--sts-cache", str(self.dir / "sts-cache")]

    def test_sts_enforce_policy(self):
        rcpt = address("jsonsts", "sts-enforce.insecure.example")
        r, doc = self.run_with_report([rcpt], EX_OK, extra=self.sts_options())
        self.assert_delivered(rcpt, MSG, run=r, via="mxsts.insecure.example")
        d = self.domain(doc, "sts-enforce.insecure.example")
        self.assertFalse(d["dns"]["domain_secure"])
        sts = d["mta_sts"]
        self.assertIsNotNone(sts, r.describe())
        self.assertEqual(sts["source"], "fresh")
        self.assertEqual(sts["mode"], "enforce")
        self.assertEqual(sts["mx"], ["mxsts.insecure.example"])
        self.assertEqual(sts["id"], "enforce1")
        self.assertIsNotNone(sts["expires"])
        self.assertIsNone(sts["failure"])
        [host] = d["hosts"]
        self.assertEqual(host["authentication"], "pkix")
        [att] = d["attempts"]
        self.assertTrue(att["tls"]["pkix_valid"], att)
        self.assertFalse(att["tls"]["dane_verified"])
        [pol] = self.policies(doc, "sts-enforce.insecure.example")
        self.assertEqual(pol["policy"]["policy-type"], "sts")
        self.assertNotIn("mx-host", pol["policy"])
        lines = pol["policy"]["policy-string"]
        self.assertEqual(lines[:2], ["version: STSv1", "mode: enforce"])
        self.assertIn("mx: mxsts.insecure.example", lines)
        self.assertTrue(lines[-1].startswith("max_age: "), lines)
        self.assertEqual(pol["summary"], {"total-successful-session-count": 1,
                                          "total-failure-session-count": 0})

    def test_sts_mx_not_in_policy(self):
        rcpt = address("jsonstsmm", "sts-mismatch.insecure.example")
        r, doc = self.run_with_report([rcpt], EX_TEMPFAIL, extra=self.sts_options())
        d = self.domain(doc, "sts-mismatch.insecure.example")
        self.assertTrue(all(h["skipped"] for h in d["hosts"]), d["hosts"])
        self.assertEqual(d["attempts"], [])
        [pol] = self.policies(doc, "sts-mismatch.insecure.example", "sts")
        self.assertEqual({f["result-type"] for f in pol["failure-details"]},
                         {"validation-failure"})

    def test_sts_testing_reports_what_enforce_would_refuse(self):
        # RFC 8461 section 5: delivered anyway, but the unlisted MX is a reported failure.
        rcpt = address("jsonststest", "sts-testing.insecure.example")
        r, doc = self.run_with_report([rcpt], EX_OK, extra=self.sts_options())
        self.assert_delivered(rcpt, MSG, run=r, via="mxsts.insecure.example")
        self.assertEqual(self.domain(doc, "sts-testing.insecure.example")["mta_sts"]["mode"],
                         "testing")
        [pol] = self.policies(doc, "sts-testing.insecure.example", "sts")
        self.assertEqual(pol["summary"], {"total-successful-session-count": 0,
                                          "total-failure-session-count": 1})
        [fail] = pol["failure-details"]
        self.assertEqual(fail["result-type"], "validation-failure")
        self.assertEqual(fail["receiving-mx-hostname"], "mxsts.insecure.example")

    def test_nonexistent_domain_is_a_dns_error(self):
        rcpt = address("jsonnx", "nonexistent.secure.example")
        r, doc = self.run_with_report([rcpt], EX_NOHOST)
        out = doc["recipients"][0]
        self.assertEqual(out["outcome"], "permanent")
        self.assertEqual(out["stage"], "dns")
        self.assertEqual(out["reason"], "no_such_domain")
        d = self.domain(doc, "nonexistent.secure.example")
        self.assertIsNone(d["dns"])
        self.assertEqual(d["dns_error"]["stage"], "dns")
        self.assertEqual(d["dns_error"]["permanence"], "permanent")
        self.assertEqual((d["hosts"], d["attempts"]), ([], []))
        self.assertEqual(self.policies(doc, "nonexistent.secure.example"), [])
        self.assertEqual(doc["totals"]["permanent"], 1)

    def test_two_domains_in_one_document(self):
        good = address("jsontwo", "dane-311.secure.example")
        bad = address("jsontwonx", "nonexistent.secure.example")
        r, doc = self.run_with_report([good, bad], EX_NOHOST)
        self.assertEqual([x["outcome"] for x in doc["recipients"]], ["delivered", "permanent"])
        self.assertEqual(sorted(d["domain"] for d in doc["domains"]),
                         ["dane-311.secure.example", "nonexistent.secure.example"])

    def test_report_to_stdout(self):
        # With -q nothing else goes to stdout, so it is exactly one JSON document.
        rcpt = address("jsonstdout", "dane-311.secure.example")
        r = self.send([rcpt], MSG, quiet=True, extra=["--json", "-"])
        doc = json.loads(r.stdout.decode())
        self.assert_valid(doc, r)
        self.assertEqual(doc["recipients"][0]["outcome"], "delivered")

    def test_unwritable_report_path(self):
        rcpt = address("jsonbadpath", "dane-311.secure.example")
        r = mxtest.run_mxclient([rcpt], MSG,
                                extra=["--json", str(self.dir / "missing" / "r.json")])
        self.assertNotEqual(r.returncode, EX_OK, r.describe())
        self.assertIn(b"JSON report", r.stderr, r.describe())


if __name__ == "__main__":
    mxtest.main()
