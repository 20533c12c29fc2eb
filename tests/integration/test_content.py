#!/usr/bin/env python3
# Integration: the message arrives byte for byte (line endings, dots, long lines, 8-bit, empty).
import mxtest
from mxtest import MxTestCase, address


class ContentTest(MxTestCase):
    """Through mx1, which offers CHUNKING: the message goes in one BDAT, unstuffed."""
    DOMAIN, VIA, COMMAND = "secure.example", "mx1.secure.example", b">>> BDAT "

    def roundtrip(self, tag, data):
        rcpt = address(tag, self.DOMAIN)
        r = self.send([rcpt], data)
        if data:  # an empty message always goes by DATA (nothing to chunk)
            self.assertIn(self.COMMAND, r.stdout)
        return self.assert_delivered(rcpt, data, run=r, via=self.VIA)

    def test_crlf(self):
        self.roundtrip("crlf", b"Subject: crlf\r\nFrom: a@client.example\r\n\r\nline 1\r\n"
                               b"line 2\r\n")

    def test_lf(self):
        self.roundtrip("lf", b"Subject: lf\nFrom: a@client.example\n\nline 1\nline 2\n")

    def test_mixed_line_endings_with_bare_cr(self):
        self.roundtrip("mixed", b"Subject: mixed\r\n\nCRLF\r\nLF\nbare CR\rCR CR\r\rend\r\n")

    def test_bare_cr_at_end(self):
        self.roundtrip("trailing-cr", b"Subject: cr\r\n\r\nends with CR\r")

    def test_long_line_10000_bytes(self):
        line = bytes(ord("a") + i % 26 for i in range(10000))
        self.roundtrip("longline", b"Subject: long\r\n\r\n" + line + b"\r\nafter\r\n")

    def test_long_line_without_final_newline(self):
        self.roundtrip("longline-nonl", b"Subject: long\n\n" + b"x" * 10000)

    def test_leading_dots_and_lone_dot(self):
        # A lone "." line is content, not the end of input (only EOF ends it).
        self.roundtrip("dots", b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n...three\r\n"
                               b".\r\nlast\r\n")

    def test_lone_dot_as_last_line(self):
        self.roundtrip("dot-last", b"Subject: dot last\n\nbody\n.\n")

    def test_lone_dot_without_newline(self):
        self.roundtrip("dot-nonl", b"Subject: dot\n\nbody\n.")

    def test_headers_only(self):
        self.roundtrip("hdronly", b"Subject: headers only\r\nFrom: a@client.example\r\n")

    def test_headers_and_empty_body(self):
        self.roundtrip("emptybody", b"Subject: empty body\r\n\r\n")

    def test_truly_empty_input(self):
        self.roundtrip("empty", b"")

    def test_no_trailing_newline(self):
        self.roundtrip("nonl", b"Subject: no newline\r\n\r\nlast line without newline")

    def test_body_without_headers(self):
        self.roundtrip("noheaders", b"no header here\r\njust text\r\n")

    def test_utf8(self):
        self.roundtrip("utf8", "Subject: Grüße\r\n\r\nÄÖÜ äöü ß € 日本語 🙂\r\n".encode())

    def test_raw_8bit_bytes(self):
        self.roundtrip("raw8bit", b"Subject: raw\r\n\r\n\xff\xfe\x80 bytes \xc3\x28 invalid\r\n"
                                  b"\xff\r\n")

    def test_nul_free_binary_like_body(self):
        body = bytes(b for b in range(1, 256) if b not in (10, 13))
        self.roundtrip("allbytes", b"Subject: all bytes\r\n\r\n" + body + b"\r\n")

    def test_many_lines(self):
        body = b"".join(b"line %06d\r\n" % i for i in range(20000))
        self.roundtrip("manylines", b"Subject: many\r\n\r\n" + body)

    def test_starttls_used_with_mx1(self):
        added = self.roundtrip("tls", b"Subject: tls\r\n\r\nover TLS\r\n")
        self.assertIn("ESMTPS", mxtest.received_with(added), added)


class ContentViaDataTest(ContentTest):
    """The same messages through mx13 (Postfix without CHUNKING and PIPELINING): DATA with
    dot-stuffing, each command sent after the reply to the one before."""
    DOMAIN, VIA, COMMAND = "nochunk.secure.example", "mx13.secure.example", b">>> DATA"

    def test_commands_wait_for_replies(self):
        rcpt = address("lockstep", self.DOMAIN)
        r = self.send([rcpt], b"Subject: lock-step\r\n\r\nbody\r\n")
        self.assert_delivered(rcpt, b"Subject: lock-step\r\n\r\nbody\r\n", run=r, via=self.VIA)
        lines = [l for l in r.stdout.splitlines() if l.startswith((b">>> ", b"<<< "))]
        start = next(i for i, l in enumerate(lines) if l.startswith(b">>> MAIL FROM"))
        # MAIL, RCPT and DATA each get their reply before the next command goes out.
        self.assertTrue(lines[start + 1].startswith(b"<<< 250"), lines[start:start + 6])
        self.assertTrue(lines[start + 2].startswith(b">>> RCPT TO"), lines[start:start + 6])
        self.assertTrue(lines[start + 3].startswith(b"<<< 250"), lines[start:start + 6])
        self.assertEqual(lines[start + 4], b">>> DATA", lines[start:start + 6])


if __name__ == "__main__":
    mxtest.main()
