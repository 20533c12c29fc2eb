#!/usr/bin/env python3
# Integration: MX selection and DNSSEC outcomes, and the exit code each refusal maps to.
import mxtest
from mxtest import EX_NOHOST, EX_NOUSER, EX_TEMPFAIL, EX_UNAVAILABLE, MxTestCase, address

MSG = b"Subject: routing\r\nFrom: sender@client.example\r\n\r\nrouting test\r\n"


class RoutingTest(MxTestCase):
    def deliver(self, tag, domain, via):
        rcpt = address(tag, domain)
        r = self.send([rcpt], MSG)
        return self.assert_delivered(rcpt, MSG, run=r, via=via)

    def test_secure_domain_single_mx(self):
        self.deliver("secure", "secure.example", "mx1.secure.example")

    def test_first_mx_down_second_used(self):
        # two.secure.example: MX 10 down (nothing listens) / MX 20 mx2.
        self.deliver("fallback", "two.secure.example", "mx2.secure.example")

    def test_implicit_mx_from_a_record(self):
        # RFC 5321 section 5.1: no MX, so the domain's own address is the MX.
        self.deliver("implicit", "implicit.secure.example", "mx1.secure.example")

    def test_cname_domain(self):
        # alias.secure.example is a CNAME of secure.example; the envelope keeps the alias.
        self.deliver("alias", "alias.secure.example", "mx1.secure.example")

    def test_insecure_domain_delivered_opportunistically(self):
        self.deliver("insecure", "insecure.example", "mx1.secure.example")

    def test_mx_without_starttls(self):
        added = self.deliver("plain", "plain.secure.example", "mx3.secure.example")
        self.assertNotIn("ESMTPS", mxtest.received_with(added), added)

    def test_ipv6_only_mx(self):
        if not mxtest.ENV.get("ipv6"):
            self.skipTest("testbed has no ::1 listener")
        added = self.deliver("v6", "v6.secure.example", "mx6.secure.example")
        self.assertIn(b"[IPv6:::1]", added)

    def test_two_recipients_same_domain(self):
        a, b = address("multi-a"), address("multi-b")
        r = self.send([a, b], MSG)
        self.assert_delivered(a, MSG, run=r, via="mx1.secure.example")
        self.assert_delivered(b, MSG, run=r, via="mx1.secure.example")

    def test_nxdomain(self):
        rcpt = address("nx", "nonexistent.secure.example")
        self.send([rcpt], MSG, expect=EX_NOHOST)

    def test_null_mx(self):
        # RFC 7505: "MX 0 ." means the domain accepts no mail.
        rcpt = address("null", "nullmx.secure.example")
        self.send([rcpt], MSG, expect=EX_NOHOST)
        self.assert_nothing_delivered(rcpt)

    def test_bogus_dnssec_is_temporary(self):
        rcpt = address("bogus", "bogus.example")
        self.send([rcpt], MSG, expect=EX_TEMPFAIL)
        self.assert_nothing_delivered(rcpt)

    def test_unknown_user_at_rcpt(self):
        rcpt = address("unknown")
        r = self.send([rcpt], MSG, expect=EX_NOUSER)
        self.assertIn(b"5.1.1", r.stdout + r.stderr, r.describe())
        self.assert_nothing_delivered(rcpt)

    def test_tempfail_at_rcpt(self):
        rcpt = address("tempfail")
        self.send([rcpt], MSG, expect=EX_TEMPFAIL)
        self.assert_nothing_delivered(rcpt)

    def test_other_permanent_refusal_at_rcpt(self):
        rcpt = address("reject")
        self.send([rcpt], MSG, expect=EX_UNAVAILABLE)
        self.assert_nothing_delivered(rcpt)


if __name__ == "__main__":
    mxtest.main()
