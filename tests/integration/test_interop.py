#!/usr/bin/env python3
# Integration: mxclient against a second, independent SMTP server implementation (aiosmtpd,
# Python), so that what passes against Postfix is not just Postfix's leniency.
"""aiosmtpd (Debian python3-aiosmtpd) listens on 127.0.25.14:25, the address of
mxaio.secure.example, the MX of aio.secure.example (no TLSA: opportunistic STARTTLS). It offers
STARTTLS (a self-signed certificate made here), 8BITMIME and SMTPUTF8, and neither PIPELINING
nor CHUNKING; it keeps each message's envelope and its bytes as received (dot-unstuffed, CRLF).
aiosmtpd limits lines to 1000 octets + CRLF, so long lines are tested against Postfix only."""

import asyncio
import ssl
import tempfile
import threading
from pathlib import Path

import mxtest
from mxtest import MxTestCase, SENDER

try:
    from aiosmtpd.controller import Controller
except ImportError:
    mxtest._die(mxtest.SKIP, "SKIPPED: install python3-aiosmtpd (scripts/install-deps.sh)")

HOST, DOMAIN, MX = "127.0.25.14", "aio.secure.example", "mxaio.secure.example"


class Store:
    """aiosmtpd handler: records (mail from, rcpts, mail options, bytes, TLS?) per message."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "rcpts": list(envelope.rcpt_tos),
                                  "mail_options": list(envelope.mail_options),
                                  "data": envelope.original_content,
                                  "tls": session.ssl is not None})
        return "250 2.0.0 stored"


def crlf(data):
    """The wire form of a message: mxtest.normalize()'s lines with CRLF endings."""
    return mxtest.normalize(data).replace(b"\n", b"\r\n")


def setUpModule():
    global STORE, CONTROLLER, TMP
    TMP = tempfile.TemporaryDirectory(prefix="mx-interop-")
    cert, key = mxtest.make_self_signed(Path(TMP.name), "aio", MX, san=f"DNS:{MX}")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    STORE = Store()
    CONTROLLER = Controller(STORE, hostname=HOST, port=25, server_hostname=MX,
                            tls_context=ctx, enable_SMTPUTF8=True, decode_data=False)
    CONTROLLER.start()


def tearDownModule():
    CONTROLLER.stop()
    TMP.cleanup()


class InteropTest(MxTestCase):
    def deliver(self, rcpts, data):
        before = len(STORE.messages)
        r = self.send(rcpts, data)
        self.assertEqual(len(STORE.messages), before + 1, r.describe())
        msg = STORE.messages[-1]
        self.assertTrue(msg["tls"], "STARTTLS was offered and must have been used")
        self.assertIn(b">>> DATA", r.stdout)
        self.assertNotIn(b"BDAT", r.stdout)
        return r, msg

    def test_byte_exact_with_dots_8bit_and_mixed_line_endings(self):
        data = (b"Subject: interop\r\nFrom: a@client.example\n\n.leading dot\r\n..two dots\n"
                b".\r\nbare cr\rcaf\xc3\xa9 8-bit\n" + b"x" * 998 + b"\r\nlast line, no newline")
        rcpt = mxtest.address("bytes", DOMAIN)
        r, msg = self.deliver([rcpt], data)
        self.assertEqual(msg["data"], crlf(data))
        self.assertEqual(msg["from"], SENDER)
        self.assertEqual(msg["rcpts"], [rcpt])
        self.assertIn("BODY=8BITMIME", msg["mail_options"])
        self.assert_delivery_line(r, rcpt, host=MX)

    def test_empty_message(self):
        r, msg = self.deliver([mxtest.address("empty", DOMAIN)], b"")
        self.assertEqual(msg["data"], b"")

    def test_several_recipients_in_one_transaction(self):
        a, b = mxtest.address("one", DOMAIN), mxtest.address("two", DOMAIN)
        r, msg = self.deliver([a, b], b"Subject: two\r\n\r\nfor both\r\n")
        self.assertEqual(msg["rcpts"], [a, b])

    def test_smtputf8_recipient(self):
        rcpt = "j\u00fcrgen@" + DOMAIN
        r, msg = self.deliver([rcpt], b"Subject: utf8\r\n\r\nhi\r\n")
        self.assertEqual(msg["rcpts"], [rcpt])
        self.assertIn("SMTPUTF8", msg["mail_options"])


if __name__ == "__main__":
    mxtest.main()
