#!/usr/bin/env python3
# Integration: DANE for SMTP (RFC 7672) against the testbed's TLSA scenarios, --tls-policy and
# REQUIRETLS (RFC 8689) with the real mxclient binary.
"""Scenario domains: tests/testbed/zones/secure.example.zone (DANE section), insecure.example.zone
and bogustlsa.example.zone; listeners: MXS in tests/testbed/testbed.py."""

import unittest

import mxtest
from mxtest import (CA_PEM, EX_TEMPFAIL, EX_UNAVAILABLE, EX_USAGE, MxTestCase, address,
                    received_with)

mxtest.require_options("--tls-policy", "--require-tls", env_keys=("mta_sts",))

MSG = b"Subject: dane\r\nFrom: sender@client.example\r\n\r\nDANE test\r\n"

# The "(<security>)" part of the "delivered to" line, as regular expressions.
DANE_OK = r"DANE-(verified|trusted) TLSv1\.[23]"
UNAUTHENTICATED = r"unauthenticated TLSv1\.[0-3]"
PKIX_OK = r"PKIX-verified"
NO_TLS = r"no TLS"


class DaneCase(MxTestCase):
    def deliver(self, tag, domain, via, host=None, security=DANE_OK, data=MSG, **kw):
        """Delivers one message and checks where it went and how it was protected."""
        rcpt = address(tag, domain)
        r = self.send([rcpt], data, **kw)
        added = self.assert_delivered(rcpt, data, run=r, via=via)
        self.assert_delivery_line(r, rcpt, host=host, security=security)
        if security == NO_TLS:
            self.assertNotIn("ESMTPS", received_with(added), added)
        else:
            self.assertIn("ESMTPS", received_with(added), added)
        return r

    def refuse(self, tag, domain, expect=EX_TEMPFAIL, data=MSG, **kw):
        rcpt = address(tag, domain)
        r = self.send([rcpt], data, expect=expect, **kw)
        self.assert_nothing_delivered(rcpt)
        self.assertNotIn(b"delivered to", r.stdout, r.describe())
        return r


class DaneEeTest(DaneCase):
    """DANE-EE(3): the server's own key or certificate (RFC 7672 section 3.1.1)."""

    def test_311(self):
        r = self.deliver("d311", "dane-311.secure.example", "mx1.secure.example",
                         host="d311.secure.example")
        self.assert_note(r, r"DANE: 1 usable TLSA record")

    def test_301(self):
        self.deliver("d301", "dane-301.secure.example", "mx1.secure.example")

    def test_312(self):
        self.deliver("d312", "dane-312.secure.example", "mx1.secure.example")

    def test_300_full_certificate(self):
        self.deliver("d300", "dane-300.secure.example", "mx1.secure.example")

    def test_expired_cert_with_wrong_name_passes(self):
        # Section 3.1.1: with DANE-EE, neither the names nor the validity period matter.
        self.deliver("dexpired", "dane-expired.secure.example", "dexpired.secure.example")

    def test_root_hints_mode(self):
        self.deliver("d311rh", "dane-311.secure.example", "mx1.secure.example",
                     mode="root-hints")

    def test_existing_plain_domain_is_dane_verified(self):
        # secure.example's mx1 has had a 3 1 1 record from the start.
        self.deliver("secure", "secure.example", "mx1.secure.example")


class DaneTaTest(DaneCase):
    """DANE-TA(2): the test CA as trust anchor; names are checked (section 3.2.2)."""

    def test_201(self):
        self.deliver("ta201", "dane-ta-201.secure.example", "ta.secure.example",
                     host="ta201.secure.example")

    def test_211(self):
        self.deliver("ta211", "dane-ta-211.secure.example", "ta.secure.example")

    def test_200_trust_anchor_not_sent_by_server(self):
        # RFC 7671 section 5.2.2: a full TA certificate in the record works without the chain.
        self.deliver("ta200", "dane-ta-200.secure.example", "ta-leaf.secure.example")

    def test_digest_of_trust_anchor_the_server_does_not_send(self):
        # RFC 7672 section 3.2.2: servers must send the TA for digest records; without it
        # nothing can match.
        self.refuse("ta211n", "dane-ta-211-nochain.secure.example")

    def test_wrong_name_fails(self):
        r = self.refuse("tawrong", "dane-ta-wrongname.secure.example")
        self.assertIn(b"DANE", r.stdout + r.stderr, r.describe())


class DaneFailureTest(DaneCase):
    def test_mismatch_first_mx_then_second(self):
        # dbad's record names another key: that host is skipped, the next MX delivers.
        self.deliver("mismatch", "dane-mismatch.secure.example", "mx1.secure.example",
                     host="d311.secure.example")

    def test_mismatch_single_mx_is_temporary(self):
        r = self.refuse("mismatchonly", "dane-mismatch-only.secure.example")
        self.assertIn(b"DANE", r.stdout + r.stderr, r.describe())

    def test_tlsa_but_no_starttls(self):
        # Section 2.2: with TLSA records TLS is mandatory; never fall back to plaintext.
        self.refuse("nostarttls", "dane-nostarttls.secure.example")

    def test_bogus_tlsa_is_temporary(self):
        # Section 2.2: a failed TLSA lookup makes the host unusable (no downgrade).
        self.refuse("bogustlsa", "bogustlsa.example")

    def test_bogus_tlsa_host_skipped(self):
        self.deliver("bogustlsa2", "two.bogustlsa.example", "mx1.secure.example",
                     host="mx1.secure.example")


class DaneNotApplicableTest(DaneCase):
    def test_only_unusable_records_tls_without_authentication(self):
        # Sections 2.2 and 3.1.3: usages 0/1 are unusable; a non-empty secure TLSA RRset still
        # makes TLS mandatory, but unauthenticated.
        r = self.deliver("unusable", "dane-unusable.secure.example", "mx1.secure.example",
                         security=UNAUTHENTICATED)
        self.assert_note(r, r"TLSA records published but none usable")

    def test_only_unusable_records_and_no_starttls(self):
        self.refuse("unusablenotls", "dane-unusable-notls.secure.example")

    def test_tlsa_in_unsigned_zone_ignored(self):
        # Insecure TLSA records must not be used (section 2.2); they would not match anyway.
        self.deliver("insecuretlsa", "dane-insecure.insecure.example", "mx1.secure.example",
                     security=UNAUTHENTICATED)

    def test_secure_mx_into_unsigned_zone(self):
        # Section 2.2.2: the MX host's address records are insecure, so no DANE.
        self.deliver("insecuremx", "insecure-mx.secure.example", "mx1.secure.example",
                     security=UNAUTHENTICATED)


class DaneCnameTest(DaneCase):
    def test_expanded_name_first(self):
        # Section 2.2.3: the alias's own record would not match; the expanded name's does.
        self.deliver("cname", "dane-cname.secure.example", "mx1.secure.example")

    def test_fallback_to_alias_records(self):
        self.deliver("cnamefb", "dane-cname-fallback.secure.example", "mx1.secure.example")

    def test_existing_cname_mx(self):
        # mxalias CNAME mx1, whose 3 1 1 record is found through the expansion.
        self.deliver("cnamemx", "cname-mx.secure.example", "mx1.secure.example")


class TlsPolicyTest(DaneCase):
    def policy(self, name, *more):
        return {"extra": ["--tls-policy", name, *more]}

    def test_none_sends_in_plaintext(self):
        self.deliver("pnone", "dane-311.secure.example", "mx1.secure.example", security=NO_TLS,
                     **self.policy("none"))

    def test_may_ignores_dane(self):
        self.deliver("pmay", "dane-mismatch-only.secure.example", "dexpired.secure.example",
                     security=UNAUTHENTICATED, **self.policy("may"))

    def test_encrypt_without_starttls(self):
        self.refuse("pencrypt", "plain.secure.example", **self.policy("encrypt"))

    def test_encrypt_unauthenticated(self):
        self.deliver("pencrypt2", "insecure.example", "mx1.secure.example",
                     security=UNAUTHENTICATED, **self.policy("encrypt"))

    def test_dane_only_refuses_domain_without_dane(self):
        # Like Postfix's dane-only: no usable TLSA means the delivery is deferred.
        self.refuse("pdaneonly", "insecure.example", **self.policy("dane-only"))

    def test_dane_only_delivers_with_dane(self):
        self.deliver("pdaneonly2", "dane-311.secure.example", "mx1.secure.example",
                     **self.policy("dane-only"))

    def test_verify_with_ca_file(self):
        # two.secure.example: MX 10 has nobody listening, MX 20 is mx2 (test-CA certificate).
        self.deliver("pverify", "two.secure.example", "mx2.secure.example", security=PKIX_OK,
                     **self.policy("verify", "--ca-file", CA_PEM))

    def test_verify_fails_without_tls_or_trusted_cert(self):
        verify = self.policy("verify", "--ca-file", CA_PEM)
        self.refuse("pverify2", "plain.secure.example", **verify)  # no STARTTLS
        self.refuse("pverify3", "insecure.example", **verify)  # mx1: self-signed, no TLSA

    def test_unknown_policy_is_usage_error(self):
        self.refuse("pbad", "secure.example", expect=EX_USAGE, **self.policy("sometimes"))


class RequireTlsTest(DaneCase):
    """REQUIRETLS (RFC 8689). Postfix 3.7 does not offer the extension."""

    def test_server_without_requiretls(self):
        # Section 4.2.1: no MX supports REQUIRETLS -> non-delivery, permanent.
        r = self.refuse("rtls", "dane-311.secure.example", expect=EX_UNAVAILABLE,
                        extra=["--require-tls"])
        self.assertIn(b"REQUIRETLS", r.stderr, r.describe())

    # RFC 8689 section 6: the failure carries the enhanced status code 5.7.30.
    def test_server_without_requiretls_reports_5_7_30(self):
        r = self.refuse("rtls3", "dane-311.secure.example", expect=EX_UNAVAILABLE,
                        extra=["--require-tls"])
        self.assertIn(b"5.7.30", r.stdout + r.stderr, r.describe())

    def test_opportunistic_domain(self):
        # Neither DANE nor MTA-STS: REQUIRETLS cannot be honoured, permanently.
        self.refuse("rtls2", "insecure.example", expect=EX_UNAVAILABLE,
                    extra=["--require-tls"])

    def test_tls_required_no_relaxes_dane(self):
        # Section 5: "TLS-Required: No" asks to ignore DANE/MTA-STS verification failures; the
        # header field stays in the message.
        data = (b"Subject: relaxed\r\nFrom: sender@client.example\r\nTLS-Required: No\r\n\r\n"
                b"relaxed\r\n")
        self.deliver("tlsreqno", "dane-mismatch-only.secure.example", "dexpired.secure.example",
                     security=UNAUTHENTICATED, data=data)


if __name__ == "__main__":
    mxtest.main()
