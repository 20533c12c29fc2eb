#!/usr/bin/env python3
# Integration: MTA-STS (RFC 8461) against the testbed's policy host (nginx, 127.0.28.1:443) and
# the sts-* domains of insecure.example, with a fresh or pre-seeded policy cache per test.
"""Policies: STS_POLICIES in tests/testbed/testbed.py; TXT ids: tests/testbed/zones/
insecure.example.zone. mxsts.insecure.example has a test-CA certificate, mxsts-self a
self-signed one. Cache files: see seed_sts_cache() in mxtest.py."""

import tempfile
import time

import mxtest
from mxtest import (CA_PEM, EX_TEMPFAIL, MxTestCase, address, read_sts_cache, received_with,
                    seed_sts_cache, sts_policy_text)

mxtest.require_options("--tls-policy", "--ca-file", "--sts-cache", env_keys=("mta_sts",))

MSG = b"Subject: mta-sts\r\nFrom: sender@client.example\r\n\r\nMTA-STS test\r\n"

PKIX_OK = r"PKIX-verified TLSv1\.[23]"
UNAUTHENTICATED = r"unauthenticated TLSv1\.[0-3]"
MXSTS = "mxsts.insecure.example"

# The ids of the _mta-sts TXT records (insecure.example.zone).
IDS = {"sts-enforce": "enforce1", "sts-mismatch": "mismatch1", "sts-badcert": "badcert1",
       "sts-testing": "testing1", "sts-nofetch": "nofetch1", "sts-idchange": "new2"}
# sts-dane.secure.example: id dane1 (secure.example.zone); sts-redirect: redirect1; sts-404: nf1.


def domain(name):
    return f"{name}.insecure.example"


class MtaStsTest(MxTestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mxclient-sts-")
        self.cache = self._tmp.name + "/cache"

    def tearDown(self):
        self._tmp.cleanup()

    def options(self):
        return {"extra": ["--ca-file", CA_PEM, "--sts-cache", self.cache]}

    def deliver(self, name, security=PKIX_OK, host=MXSTS):
        rcpt = address(name, domain(name))
        r = self.send([rcpt], MSG, **self.options())
        added = self.assert_delivered(rcpt, MSG, run=r, via=host)
        self.assert_delivery_line(r, rcpt, host=host, security=security)
        self.assertIn("ESMTPS", received_with(added), added)
        return r

    def refuse(self, name, expect=EX_TEMPFAIL):
        rcpt = address(name, domain(name))
        r = self.send([rcpt], MSG, expect=expect, **self.options())
        self.assert_nothing_delivered(rcpt)
        self.assertNotIn(b"delivered to", r.stdout, r.describe())
        return r

    def seed(self, name, policy_id, policy, **kw):
        return seed_sts_cache(self.cache, domain(name), policy_id, policy, **kw)

    # -- fetched policies ---------------------------------------------------------------------

    def test_enforce(self):
        r = self.deliver("sts-enforce")
        self.assert_note(r, r"MTA-STS enforce")

    def test_policy_is_cached_after_fetch(self):
        # Also checks that mxtest's cache reader/writer still match src/mtasts/cache.cpp.
        before = int(time.time())
        self.deliver("sts-enforce")
        entry = read_sts_cache(self.cache, domain("sts-enforce"))
        self.assertIsNotNone(entry, "no cache file written")
        self.assertEqual(entry["id"], IDS["sts-enforce"])
        self.assertEqual(entry["policy"], mxtest.ENV["mta_sts"]["policies"][domain("sts-enforce")])
        self.assertGreaterEqual(entry["fetched"], before - 1)
        self.assertEqual(entry["expires"] - entry["fetched"], 86400)  # max_age

    def test_mx_not_in_policy(self):
        r = self.refuse("sts-mismatch")
        self.assertIn(b"MTA-STS", r.stdout + r.stderr, r.describe())

    def test_mx_certificate_not_trusted(self):
        # RFC 8461 section 4.2: in enforce mode the MX certificate must verify (PKIX).
        self.refuse("sts-badcert")

    def test_testing_mode_delivers_with_note(self):
        # Section 5: testing mode reports failures but delivers as if there were no policy.
        r = self.deliver("sts-testing", security=f"{PKIX_OK}|{UNAUTHENTICATED}")
        self.assert_note(r, r"MTA-STS.*testing")

    def test_enforce_without_ca_file_cannot_fetch(self):
        # Without --ca-file the policy host's certificate is untrusted: the fetch fails, there is
        # no cached policy, so the delivery is opportunistic (section 5.1).
        rcpt = address("sts-noca", domain("sts-enforce"))
        r = self.send([rcpt], MSG, extra=["--sts-cache", self.cache])
        self.assert_delivered(rcpt, MSG, run=r, via=MXSTS)
        self.assert_delivery_line(r, rcpt, security=UNAUTHENTICATED)
        self.assertIsNone(read_sts_cache(self.cache, domain("sts-enforce")))

    def test_dane_takes_precedence(self):
        # RFC 8461 section 2: with DANE TLSA records for the MX, DANE is used, not MTA-STS; the
        # served policy (mx: mx.elsewhere.invalid) would otherwise refuse d311.
        rcpt = address("sts-dane", "sts-dane.secure.example")
        r = self.send([rcpt], MSG, **self.options())
        self.assert_delivered(rcpt, MSG, run=r, via="mx1.secure.example")
        self.assert_delivery_line(r, rcpt, host="d311.secure.example",
                                  security=r"DANE-(verified|trusted) TLSv1\.[23]")

    def test_redirect_not_followed(self):
        # Section 3.3: redirects must not be followed; the target (sts-mismatch's enforce policy)
        # would refuse mxsts-self. No policy -> opportunistic delivery, nothing cached.
        self.deliver("sts-redirect", security=UNAUTHENTICATED, host="mxsts-self.insecure.example")
        self.assertIsNone(read_sts_cache(self.cache, domain("sts-redirect")))

    def test_policy_not_found(self):
        # Only HTTP 200 is a policy (section 3.3); a 404 means none.
        self.deliver("sts-404", security=UNAUTHENTICATED, host="mxsts-self.insecure.example")
        self.assertIsNone(read_sts_cache(self.cache, domain("sts-404")))

    # -- policy host unreachable --------------------------------------------------------------

    def test_no_fetch_no_cache_is_opportunistic(self):
        self.deliver("sts-nofetch", security=f"{UNAUTHENTICATED}|{PKIX_OK}")

    def test_no_fetch_cached_enforce_policy_applies(self):
        # Section 5.1 (downgrade resistance): the id changed, the refetch fails, so the unexpired
        # cached policy stays in force; its mx pattern does not match -> no delivery.
        self.seed("sts-nofetch", "older1", sts_policy_text("enforce", "mx.elsewhere.invalid"))
        self.refuse("sts-nofetch")

    def test_no_fetch_cached_policy_with_current_id(self):
        # The id is unchanged: the cache is used without any fetch.
        self.seed("sts-nofetch", IDS["sts-nofetch"],
                  sts_policy_text("enforce", "mx.elsewhere.invalid"))
        self.refuse("sts-nofetch")

    def test_no_fetch_expired_cache_ignored(self):
        now = int(time.time())
        self.seed("sts-nofetch", "older1", sts_policy_text("enforce", "mx.elsewhere.invalid"),
                  fetched_at=now - 7200, expires_at=now - 3600)
        self.deliver("sts-nofetch", security=f"{UNAUTHENTICATED}|{PKIX_OK}")

    def test_cached_matching_policy_enforced(self):
        self.seed("sts-nofetch", "older1", sts_policy_text("enforce", MXSTS))
        self.deliver("sts-nofetch")

    # -- cache and id changes -----------------------------------------------------------------

    def test_id_change_refetches(self):
        # Section 3.1/5.1: a new TXT id means a new policy: it is fetched and replaces the cached
        # one (which would not have matched the MX).
        self.seed("sts-idchange", "old1", sts_policy_text("enforce", "mx.elsewhere.invalid"))
        self.deliver("sts-idchange")
        entry = read_sts_cache(self.cache, domain("sts-idchange"))
        self.assertEqual(entry["id"], IDS["sts-idchange"])
        self.assertIn("mx: *.insecure.example", entry["policy"])

    def test_same_id_uses_cache_without_fetch(self):
        # The cached entry has the current id, so the served (matching) policy is not fetched
        # and the cached, non-matching one applies.
        self.seed("sts-enforce", IDS["sts-enforce"],
                  sts_policy_text("enforce", "mx.elsewhere.invalid"))
        self.refuse("sts-enforce")

    def test_corrupt_cache_file_ignored(self):
        path = self.seed("sts-enforce", IDS["sts-enforce"],
                         sts_policy_text("enforce", "mx.elsewhere.invalid"))
        path.write_bytes(path.read_bytes()[:-5])  # length no longer matches
        self.deliver("sts-enforce")


if __name__ == "__main__":
    mxtest.main()
