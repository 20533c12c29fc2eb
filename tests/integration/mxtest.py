# Shared harness for the mxclient integration tests: finds the running testbed and the binary,
# runs mxclient against the testbed only, and reads back what Postfix delivered.
"""Import this first in every tests/integration/test_*.py module.

Environment (set by ctest, see tests/integration/CMakeLists.txt):
    TESTBED_DIR  state directory of a running testbed (tests/testbed/testbed.py start DIR)
    MXCLIENT     path of the mxclient binary
Without a running testbed (no TESTBED_DIR/env.json) the module exits with 77 (ctest: skipped).
"""

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

SKIP = 77

# mxclient's exit codes (sysexits.h values).
EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOUSER = 67
EX_NOHOST = 68
EX_UNAVAILABLE = 69
EX_IOERR = 74
EX_TEMPFAIL = 75

SENDER = "sender@client.example"


def _die(code, msg):
    print(f"mxtest: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def _load():
    tb = os.environ.get("TESTBED_DIR")
    if not tb:
        _die(SKIP, "SKIPPED: TESTBED_DIR is not set; run through ctest or export "
                   "TESTBED_DIR=<build>/testbed after "
                   "tests/testbed/testbed.py start <build>/testbed")
    env_file = Path(tb) / "env.json"
    if not env_file.exists():
        _die(SKIP, f"SKIPPED: testbed is not up ({env_file} missing); start it with "
                   f"`python3 tests/testbed/testbed.py start {tb}` (as root)")
    binary = os.environ.get("MXCLIENT")
    if not binary or not os.access(binary, os.X_OK):
        # Not a skip: a missing binary in a configured build is a real failure.
        _die(1, f"FAILED: MXCLIENT={binary!r} is not an executable mxclient binary")
    return json.loads(env_file.read_text()), binary


ENV, MXCLIENT = _load()
MAIL_DIR = Path(ENV["mail_dir"])
ROOT_KEY = ENV["dns"]["root_key"]
ROOT_HINTS = ENV["dns"]["root_hints"]
RESOLVER = ENV["dns"]["resolver"]["addr"]
CA_PEM = ENV.get("ca_pem")  # the test CA (DANE-TA trust anchor, PKIX trust for MTA-STS)
# The submission server (Postfix + Dovecot SASL; testbed.py SUBMISSION), None on older testbeds.
SUBMISSION = ENV.get("submission")


def help_text():
    p = subprocess.run([MXCLIENT, "--help"], capture_output=True, timeout=10)
    return (p.stdout + p.stderr).decode(errors="replace")


def require_options(*options, env_keys=()):
    """Exits with 77 (skipped) when the binary's --help lacks one of options or the testbed's
    env.json lacks one of env_keys: for modules written ahead of the feature they test."""
    text = help_text()
    missing = [o for o in options if o not in text]
    if missing:
        _die(SKIP, f"SKIPPED: {MXCLIENT} --help does not mention {', '.join(missing)}")
    missing = [k for k in env_keys if k not in ENV]
    if missing:
        _die(SKIP, f"SKIPPED: the running testbed predates {', '.join(missing)}; restart it")


def is_sanitized_build():
    """ASan/UBSan builds use far more memory; memory limits do not apply to them."""
    with open(MXCLIENT, "rb") as f:
        return b"__asan_init" in f.read()


def address(tag, domain="secure.example"):
    """A fresh recipient so that every test has its own maildir. tag must be [a-z0-9-]."""
    return f"{tag}-{uuid.uuid4().hex[:12]}@{domain}"


def mxclient_argv(rcpts, sender=SENDER, mode="resolver", quiet=False, extra=()):
    """Testbed options always: our HELO name, our trust anchor and our DNS (never the system
    resolver). mode: "resolver" (stub to the testbed's unbound) or "root-hints" (libunbound
    recursing from the testbed's fake root)."""
    argv = [MXCLIENT]
    if quiet:
        argv.append("-q")
    argv += ["--helo", "client.example", "--trust-anchor", ROOT_KEY]
    if mode == "resolver":
        argv += ["--resolver", RESOLVER]
    elif mode == "root-hints":
        argv += ["--root-hints", ROOT_HINTS]
    else:
        raise ValueError(mode)
    argv += list(extra)
    argv += ["-f", sender]
    argv += list(rcpts)
    return argv


class Run:
    def __init__(self, argv, returncode, stdout, stderr):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr

    def describe(self):
        return (f"\n$ {' '.join(self.argv)}\nexit {self.returncode}\n--- stdout ---\n"
                f"{self.stdout.decode(errors='replace')[-4000:]}\n--- stderr ---\n"
                f"{self.stderr.decode(errors='replace')[-4000:]}")


# Caches mxclient keeps under $XDG_CACHE_HOME (the MTA-STS policy cache) go to a directory of
# this test process, never to the user's own cache; tests that care pass --sts-cache. Likewise
# $XDG_CONFIG_HOME points to an empty directory, so that a user's
# ~/.config/mxclient/config.toml never applies; tests that want a config pass --config.
_CACHE_HOME = tempfile.TemporaryDirectory(prefix="mxtest-cache-")
_CONFIG_HOME = tempfile.TemporaryDirectory(prefix="mxtest-config-")


def run_mxclient(rcpts, data=b"", stdin=None, timeout=60, env=None, **kw):
    """Runs mxclient with data (bytes) on stdin, or with the given stdin file object/fd; env
    adds (or, with value None, removes) environment variables."""
    argv = mxclient_argv(rcpts, **kw)
    extra_env = env or {}
    env = dict(os.environ, XDG_CACHE_HOME=_CACHE_HOME.name, XDG_CONFIG_HOME=_CONFIG_HOME.name)
    for k, v in extra_env.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    try:
        if stdin is None:
            p = subprocess.run(argv, input=data, capture_output=True, timeout=timeout, env=env)
        else:
            p = subprocess.run(argv, stdin=stdin, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"mxclient did not finish within {timeout} s: {' '.join(argv)}\n"
                             f"{(e.stdout or b'').decode(errors='replace')[-4000:]}")
    return Run(argv, p.returncode, p.stdout, p.stderr)


# "delivered to <rcpt> via <host> [<ip>] (<security>): <reply>"; the security part is optional
# so that the parser also reads lines of builds without it.
_DELIVERED = re.compile(r"^delivered to <?(?P<rcpt>[^<>\s]+)>? via (?P<host>\S+) "
                        r"\[(?P<ip>[^\]]+)\](?: \((?P<security>.*?)\))?: (?P<reply>.*)$")


def delivery_lines(run):
    """{recipient (lowercase): {host, ip, security, reply}} from a run's stdout."""
    out = {}
    for line in run.stdout.decode(errors="replace").splitlines():
        m = _DELIVERED.match(line)
        if m:
            out[m["rcpt"].lower()] = m.groupdict()
    return out


def notes(run):
    """The transcript's notes: stdout lines starting with "*** ", without that prefix."""
    return [line[4:] for line in run.stdout.decode(errors="replace").splitlines()
            if line.startswith("*** ")]


# ---------------------------------------------------------------------------------------------
# MTA-STS policy cache files, as src/mtasts/cache.cpp writes them (format version 1):
#     mxclient-mta-sts-cache 1\n
#     id: <TXT id>\n  fetched: <unix time>\n  expires: <unix time>\n  length: <bytes>\n
#     \n<policy text exactly as served>
# one file per policy domain, named by the lower-case domain. KEEP IN SYNC with cache.cpp:
# the seeding helper below writes that format directly; test_mtasts.py's
# test_policy_is_cached_after_fetch reads a file mxclient wrote, so a format change shows there.
STS_CACHE_MAGIC = b"mxclient-mta-sts-cache 1\n"


def sts_policy_text(mode, *mx, max_age=86400):
    """A policy file body (RFC 8461 section 3.2) with CRLF line endings."""
    lines = [("version", "STSv1"), ("mode", mode), *[("mx", m) for m in mx],
             ("max_age", str(max_age))]
    return "".join(f"{k}: {v}\r\n" for k, v in lines)


def seed_sts_cache(cache_dir, domain, policy_id, policy_text, fetched_at=None, expires_at=None):
    """Writes a cache entry for domain (default: fetched an hour ago, expires in a day)."""
    now = int(time.time())
    fetched_at = now - 3600 if fetched_at is None else int(fetched_at)
    expires_at = now + 86400 if expires_at is None else int(expires_at)
    body = policy_text.encode()
    data = (STS_CACHE_MAGIC + f"id: {policy_id}\nfetched: {fetched_at}\nexpires: {expires_at}\n"
            f"length: {len(body)}\n\n".encode() + body)
    Path(cache_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    path = Path(cache_dir) / domain.lower()
    path.write_bytes(data)
    return path


def read_sts_cache(cache_dir, domain):
    """{id, fetched, expires, policy} of a cache file, or None when there is none."""
    path = Path(cache_dir) / domain.lower()
    if not path.exists():
        return None
    data = path.read_bytes()
    if not data.startswith(STS_CACHE_MAGIC):
        raise AssertionError(f"{path}: not an mxclient MTA-STS cache file: {data[:80]!r}")
    head, _, body = data[len(STS_CACHE_MAGIC):].partition(b"\n\n")
    fields = dict(line.split(": ", 1) for line in head.decode().splitlines())
    return {"id": fields["id"], "fetched": int(fields["fetched"]),
            "expires": int(fields["expires"]), "policy": body.decode()}


def maildir(addr):
    local, domain = addr.rsplit("@", 1)
    return MAIL_DIR / domain.lower() / local.lower()


def delivered_files(addr):
    new = maildir(addr) / "new"
    return sorted(new.iterdir()) if new.is_dir() else []


def wait_for_mail(addr, count=1, timeout=20.0):
    """Polls the recipient's maildir until count messages are there; returns their paths."""
    deadline = time.monotonic() + timeout
    while True:
        files = delivered_files(addr)
        if len(files) >= count or time.monotonic() > deadline:
            return files
        time.sleep(0.05)


def normalize(data):
    """What the message must look like after transport: every line ending (CRLF, bare LF,
    bare CR) as LF, and a final LF when the input did not end with one."""
    out = re.sub(rb"\r\n|\r|\n", b"\n", data)
    if out and not out.endswith(b"\n"):
        out += b"\n"
    return out


# A header field line (RFC 5322 section 2.2: printable ASCII except ":" then ":").
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")


def postfix_view(data):
    """The stored form Postfix produces from a message we sent: normalize(), and when the message
    is not empty and starts with neither a header field nor an empty line, Postfix's cleanup(8)
    puts an empty line between its Received header and our text (else our first line would
    become a header)."""
    out = normalize(data)
    if not out or _HEADER_LINE.match(out) or out.startswith(b"\n"):
        return out  # an empty message stays empty
    return b"\n" + out


def split_delivered(content):
    """Splits a delivered file into (Postfix's added headers, the rest). Postfix prepends exactly
    Return-Path (pipe R flag), Delivered-To (D flag) and one Received header (smtpd)."""
    pos = 0
    for name in (b"Return-Path: ", b"Delivered-To: ", b"Received: "):
        if not content.startswith(name, pos):
            raise AssertionError(f"delivered file lacks {name!r} at offset {pos}: "
                                 f"{content[:600]!r}")
        pos = content.index(b"\n", pos) + 1
    while content[pos:pos + 1] in (b" ", b"\t"):  # Received continuation lines
        pos = content.index(b"\n", pos) + 1
    return content[:pos], content[pos:]


def received_by(added_headers):
    """Host name of the MX that accepted the message, from the Received header."""
    m = re.search(rb"\bby (\S+) \(Postfix\)", added_headers)
    return m.group(1).decode() if m else None


def received_with(added_headers):
    """Protocol of the Received header: ESMTP, ESMTPS (TLS), UTF8ESMTPS, ..."""
    m = re.search(rb"\bwith (\S+)", added_headers)
    return m.group(1).decode() if m else None


def toml_value(value):
    """A TOML value for a config file: JSON's strings, integers, booleans and arrays are valid
    TOML (paths with backslashes or quotes included)."""
    return json.dumps(value)


def wait_listening(host, port, timeout=10.0, proc=None):
    """Polls until a TCP connection to host:port succeeds (loopback only); raises
    AssertionError on timeout or when proc (a subprocess.Popen) has exited meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before listening on "
                                 f"{host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on {host}:{port} after {timeout} s")
            time.sleep(0.05)


def _openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: "
                             f"{p.stderr.decode(errors='replace')}")
    return p.stdout


def make_key(path, key_type="ec"):
    """A PEM private key (PKCS#8) at path: "ec" (P-256), "ed25519" or "rsa" (2048 bits)."""
    if key_type == "ec":
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", str(path))
    elif key_type == "ed25519":
        _openssl("genpkey", "-algorithm", "ED25519", "-out", str(path))
    elif key_type == "rsa":
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", str(path))
    else:
        raise ValueError(key_type)
    os.chmod(path, 0o600)
    return Path(path)


def make_self_signed(directory, name, cn, san=None, key_type="ec", days=2):
    """A fresh key and a self-signed certificate for it (openssl CLI): directory/name.key and
    directory/name.pem; san is a subjectAltName value such as "IP:127.0.0.1,DNS:x.example".
    Returns (cert path, key path)."""
    key = make_key(Path(directory) / f"{name}.key", key_type)
    cert = Path(directory) / f"{name}.pem"
    args = ["req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", str(days),
            "-subj", f"/CN={cn}"]
    if san:
        args += ["-addext", f"subjectAltName={san}"]
    _openssl(*args)
    return cert, key


def cert_sha256(cert_pem):
    """Hex SHA-256 of a PEM certificate's DER encoding (DANE matching type 1, selector 0)."""
    der = _openssl("x509", "-in", str(cert_pem), "-outform", "DER")
    return hashlib.sha256(der).hexdigest()


def spki_sha256(pem, private_key=False):
    """Hex SHA-256 of the DER SubjectPublicKeyInfo of a PEM certificate or, with
    private_key=True, of a PEM private key (DANE selector 1, matching type 1)."""
    if private_key:
        der = _openssl("pkey", "-in", str(pem), "-pubout", "-outform", "DER")
    else:
        pub = _openssl("x509", "-in", str(pem), "-noout", "-pubkey")
        p = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                           capture_output=True, timeout=30, check=True)
        der = p.stdout
    return hashlib.sha256(der).hexdigest()


class MxTestCase(unittest.TestCase):
    maxDiff = 2000

    def send(self, rcpts, data=b"", expect=EX_OK, **kw):
        r = run_mxclient(rcpts, data, **kw)
        self.assertEqual(r.returncode, expect, f"unexpected exit code{r.describe()}")
        return r

    def assert_delivered(self, addr, data, run=None, via=None, timeout=20.0):
        """Waits for exactly one message for addr and checks it byte for byte; via names the
        MX host that must have received it. Returns the added Postfix headers."""
        files = wait_for_mail(addr, timeout=timeout)
        hint = run.describe() if run else ""
        self.assertEqual(len(files), 1, f"expected one message in {maildir(addr)}{hint}")
        added, rest = split_delivered(files[0].read_bytes())
        want = postfix_view(data)
        if rest != want:
            self.fail(f"delivered content differs ({files[0]}):\nwant {len(want)} bytes "
                      f"{want[:300]!r}...\ngot  {len(rest)} bytes {rest[:300]!r}...{hint}")
        if via is not None:
            self.assertEqual(received_by(added), via, f"Received header: {added!r}")
        return added

    def assert_delivery_line(self, run, rcpt, host=None, security=None):
        """The stdout line for rcpt exists; host is the MX host name mxclient names, security
        a regular expression the "(<security>)" part must match from its start."""
        lines = delivery_lines(run)
        line = lines.get(rcpt.lower())
        self.assertIsNotNone(line, f"no 'delivered to' line for {rcpt}{run.describe()}")
        if host is not None:
            self.assertEqual(line["host"], host, run.describe())
        if security is not None:
            self.assertIsNotNone(line["security"], f"no (security) in the line{run.describe()}")
            self.assertRegex(line["security"], "^(?:" + security + ")", run.describe())
        return line

    def assert_note(self, run, pattern):
        """Some "*** " note matches the regular expression pattern (searched, any case)."""
        found = [n for n in notes(run) if re.search(pattern, n, re.I)]
        self.assertTrue(found, f"no note matching {pattern!r}{run.describe()}")
        return found

    def assert_nothing_delivered(self, addr):
        self.assertEqual(delivered_files(addr), [], f"unexpected mail in {maildir(addr)}")


def main():
    unittest.main(verbosity=2)
