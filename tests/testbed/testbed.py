#!/usr/bin/env python3
# Loopback "internet" for mxclient's tests: DNSSEC-signed zones on nsd, a validating unbound,
# a receive-only Postfix (also a SASL submission server, with Dovecot's auth service) and an
# MTA-STS policy host, generated fresh into a state directory, run as tracked children.
"""Start, stop or inspect the mxclient testbed.

    testbed.py start DIR    generate keys, certs, zones and configs in DIR, start nsd, unbound,
                            Dovecot (auth only), Postfix and nginx, check them, then write
                            DIR/env.json (only on success)
    testbed.py stop DIR     stop exactly the processes recorded in DIR/pids.json (nsd, nginx,
                            unbound, Dovecot's and Postfix's masters and the keeper that reaps
                            them)
    testbed.py status DIR   show what runs; exit 0 only if everything recorded is alive

Addresses (all loopback): nsd 127.0.53.1:53, unbound 127.0.53.2:53, Postfix on
127.0.25.1:25 (mx1), 127.0.25.2:25 (mx2), 127.0.25.3:25 (mx3), [::1]:25 (mx6) and the DANE /
MTA-STS listeners 127.0.25.7-12:25 (see MXS), the submission server on 127.0.25.20:587/465/1587
(see SUBMISSION), nginx (MTA-STS policy host) on 127.0.28.1:443.

Zone data lives in tests/testbed/zones/*.zone. Placeholders like {{TLSA_311_MX1}} are filled by
fill_template() from the values that placeholder_values() collects: DS records of the signed
children, SOA serial and hashes of the generated certificates. To add a new record that depends on
generated material, put a placeholder in the zone file and add its value in placeholder_values().
"""

import argparse
import base64
import ctypes
import datetime
import hashlib
import json
import os
import pty
import pwd
import re
import shutil
import select
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZONE_TEMPLATES = HERE / "zones"

AUTH_ADDR = "127.0.53.1"
RESOLVER_ADDR = "127.0.53.2"
DNS_PORT = 53
SMTP_PORT = 25
MARKER = ".mxclient-testbed"  # DIR is only ever wiped when this file says it is ours

# Zones in signing order (children before parents, so their DS can go into the parent).
# kind: "signed", "unsigned" or "bogus" (signed, but the parent's DS matches no key).
# "bogus-tlsa": signed and validly delegated, but every RRSIG over a TLSA RRset is corrupted after
# signing, so only the TLSA answers are bogus (A/AAAA/MX stay secure).
ZONES = [
    ("secure.example.", "signed"),
    ("bogus.example.", "bogus"),
    ("bogustlsa.example.", "bogus-tlsa"),
    ("insecure.example.", "unsigned"),
    ("example.", "signed"),
    (".", "signed"),
]

# MTA-STS policy host (RFC 8461 section 3.3): nginx serves
# https://mta-sts.<domain>/.well-known/mta-sts.txt for the domains below. Nothing listens on
# STS_DEAD_ADDR (the policy host of sts-nofetch.insecure.example: connection refused).
STS_ADDR = "127.0.28.1"
STS_DEAD_ADDR = "127.0.28.2"
HTTPS_PORT = 443


def sts_policy(mode, *mx, max_age=86400):
    return "".join(f"{k}: {v}\r\n" for k, v in
                   [("version", "STSv1"), ("mode", mode), *[("mx", m) for m in mx],
                    ("max_age", str(max_age))])


# Keep in sync with the _mta-sts TXT records in zones/insecure.example.zone and
# secure.example.zone (ids) and with tests/integration/test_mtasts.py.
STS_POLICIES = {
    "sts-enforce.insecure.example": sts_policy("enforce", "mxsts.insecure.example"),
    "sts-mismatch.insecure.example": sts_policy("enforce", "mx.elsewhere.invalid"),
    "sts-badcert.insecure.example": sts_policy("enforce", "mxsts-self.insecure.example"),
    "sts-testing.insecure.example": sts_policy("testing", "mx.elsewhere.invalid"),
    "sts-idchange.insecure.example": sts_policy("enforce", "*.insecure.example"),
    # Signed, with DANE: DANE applies, not this (non-matching) policy (RFC 8461 section 2).
    "sts-dane.secure.example": sts_policy("enforce", "mx.elsewhere.invalid"),
}

# Policy hosts that serve no policy (names in the policy host's certificate, no file): the
# first answers with a redirect to sts-mismatch's policy (must not be followed, RFC 8461
# section 3.3), the second with 404.
STS_REDIRECT = {"sts-redirect.insecure.example": "sts-mismatch.insecure.example"}
STS_NO_POLICY = ["sts-404.insecure.example"]

# Submission server (RFC 6409 / RFC 8314) with SASL AUTH (RFC 4954): Postfix listeners whose
# SASL backend is Dovecot's auth service. Mail relayed by an authenticated client is stored like
# any other (DIR/mail/<domain>/<localpart>/), with "ESMTPSA" and "(Authenticated sender: <user>)"
# in the Received header. Listeners (same address and certificate "submit"):
#   starttls   587: STARTTLS required (smtpd_tls_security_level=encrypt), AUTH only after it
#   implicit   465: implicit TLS (smtpd_tls_wrappermode)
#   plain_only 1587: like starttls but announces AUTH PLAIN only (smtpd_sasl_mechanism_filter),
#                    for the "no common mechanism" case
# Passwords are stored in plaintext ({PLAIN}) so that every mechanism works, SCRAM included.
SUBMIT_ADDR = "127.0.25.20"
SUBMISSION = {
    "host": "submit.secure.example",
    "addr": SUBMIT_ADDR,
    "listeners": [
        {"name": "starttls", "port": 587, "tls": "starttls", "filter": None},
        {"name": "implicit", "port": 465, "tls": "implicit", "filter": None},
        {"name": "plain_only", "port": 1587, "tls": "starttls", "filter": "plain"},
    ],
    "users": {"alice": "alice-secret", "bob": "bob-secret"},
    # Dovecot's auth_mechanisms; 2.3.19 has no SCRAM-*-PLUS (channel binding came with 2.4).
    "mechanisms": ["PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5"],
}

# Certificates (ECDSA P-256), by name; the name is also the placeholder suffix (upper-cased:
# SPKI_SHA256_TA, ...). issuer "self" (self-signed) or "ca" (the test CA, DIR/ca.pem);
# expired: valid only in January 2020. The first SAN is also the CN.
CERTS = {
    "mx1": {"sans": ["mx1.secure.example"], "issuer": "self"},
    "mx2": {"sans": ["mx2.secure.example"], "issuer": "ca"},
    "mx6": {"sans": ["mx6.secure.example"], "issuer": "self"},
    # DANE-EE ignores names and expiry (RFC 7672 section 3.1.1).
    "mx7": {"sans": ["expired.wrong.invalid"], "issuer": "self", "expired": True},
    # DANE-TA scenarios check names (RFC 7672 section 3.2.2): one SAN per MX host name.
    "ta": {"sans": ["ta201.secure.example", "ta211.secure.example", "ta200.secure.example",
                    "ta211n.secure.example"], "issuer": "ca"},
    "tawrong": {"sans": ["mail.other.invalid"], "issuer": "ca"},
    # MTA-STS MX hosts (PKIX, RFC 8461 section 4.2) and the policy host (section 3.3).
    "sts": {"sans": ["mxsts.insecure.example"], "issuer": "ca"},
    "stsself": {"sans": ["mxsts-self.insecure.example"], "issuer": "self"},
    "policy": {"sans": [f"mta-sts.{d}" for d in [*STS_POLICIES, *STS_REDIRECT,
                                                   *STS_NO_POLICY]], "issuer": "ca"},
    # The submission server (PKIX-verified against DIR/ca.pem by submission clients).
    "submit": {"sans": [SUBMISSION["host"]], "issuer": "ca"},
}

# The SMTP listeners; tls is "self-signed", "ca-signed" or "none"; cert names an entry of CERTS
# (default: the listener's name); send_ca False serves the leaf alone (default: leaf + CA).
MXS = [
    {"name": "mx1", "host": "mx1.secure.example", "addr": "127.0.25.1", "tls": "self-signed"},
    {"name": "mx2", "host": "mx2.secure.example", "addr": "127.0.25.2", "tls": "ca-signed"},
    {"name": "mx3", "host": "mx3.secure.example", "addr": "127.0.25.3", "tls": "none"},
    {"name": "mx6", "host": "mx6.secure.example", "addr": "::1", "tls": "self-signed"},
    {"name": "mx7", "host": "dexpired.secure.example", "addr": "127.0.25.7",
     "tls": "self-signed"},
    {"name": "mx8", "host": "ta.secure.example", "addr": "127.0.25.8", "tls": "ca-signed",
     "cert": "ta"},
    {"name": "mx9", "host": "ta-leaf.secure.example", "addr": "127.0.25.9", "tls": "ca-signed",
     "cert": "ta", "send_ca": False},
    {"name": "mx10", "host": "tawrong.secure.example", "addr": "127.0.25.10",
     "tls": "ca-signed", "cert": "tawrong"},
    {"name": "mx11", "host": "mxsts.insecure.example", "addr": "127.0.25.11",
     "tls": "ca-signed", "cert": "sts"},
    {"name": "mx12", "host": "mxsts-self.insecure.example", "addr": "127.0.25.12",
     "tls": "self-signed", "cert": "stsself"},
    # Like mx1 (same certificate and TLSA) but without CHUNKING and PIPELINING: clients must use
    # DATA and wait for each reply, so dot-stuffing and the lock-step dialogue meet a real server.
    {"name": "mx13", "host": "mx13.secure.example", "addr": "127.0.25.13", "tls": "self-signed",
     "cert": "mx1", "smtpd": ["smtpd_discard_ehlo_keywords=chunking,pipelining"]},
]

REQUIRED_TOOLS = ["nsd", "nsd-checkconf", "unbound", "unbound-checkconf", "ldns-keygen",
                  "ldns-signzone", "ldns-key2ds", "drill", "openssl", "postfix", "postconf",
                  "nginx", "dovecot", "doveconf", "/usr/bin/python3"]

# Limits for Postfix: the suite sends a 200 MB message.
SIZE_LIMIT = 400 * 1024 * 1024


class TestbedError(Exception):
    """A reason why the testbed cannot start, shown to the user as is."""

    exit_code = 1


class NotRoot(TestbedError):
    # 77: ctest's SKIP_RETURN_CODE, so a non-root `ctest` reports skips, not failures.
    exit_code = 77


def log(msg):
    print(f"testbed: {msg}", flush=True)


def run(cmd, cwd=None, check=True, timeout=60):
    """Runs a short command, returning its stdout; stderr goes into the error on failure."""
    proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise TestbedError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                           f"{proc.stdout.decode(errors='replace')}"
                           f"{proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode()


# ---------------------------------------------------------------------------------------------
# Process bookkeeping: pids.json holds {name: {pid, start, comm}}; start time guards against
# signalling a recycled pid.


def proc_stat(pid):
    """Returns (state, start_time, comm) of pid, or None when it does not exist."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[19]), comm


def alive(rec):
    st = proc_stat(rec["pid"])
    return st is not None and st[1] == rec["start"] and st[0] not in ("Z", "X")


def make_record(pid):
    st = proc_stat(pid)
    if st is None:
        raise TestbedError(f"process {pid} vanished right after it started")
    return {"pid": pid, "start": st[1], "comm": st[2]}


def children_of(pid):
    """Direct children of pid (Postfix's master forks its daemons; we wait for them too)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            data = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            kids.append(make_record_quiet(int(entry)))
    return [k for k in kids if k]


def make_record_quiet(pid):
    try:
        return make_record(pid)
    except TestbedError:
        return None


class Pids:
    def __init__(self, state_dir):
        self.path = state_dir / "pids.json"
        self.recs = json.loads(self.path.read_text()) if self.path.exists() else {}

    def add(self, name, pid):
        self.recs[name] = make_record(pid)
        self.path.write_text(json.dumps(self.recs, indent=2) + "\n")

    def stop_all(self, except_keeper=False):
        # Reverse start order: nginx, Postfix, Dovecot, unbound, nsd, then the keeper, which
        # exits by itself once it has reaped them all.
        for name in reversed(list(self.recs)):
            if name == "keeper":
                if not except_keeper:
                    stop_process(name, self.recs[name], wait_first=True)
            else:
                stop_process(name, self.recs[name])
        self.recs = {}
        if self.path.exists():
            self.path.unlink()


def stop_process(name, rec, timeout=10.0, wait_first=False):
    if not alive(rec):
        return
    kids = children_of(rec["pid"])
    deadline = time.monotonic() + (timeout if wait_first else 0)
    while time.monotonic() < deadline and alive(rec):
        time.sleep(0.05)
    if not alive(rec):
        return
    log(f"stopping {name} (pid {rec['pid']})")
    os.kill(rec["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(rec):
        time.sleep(0.05)
    if alive(rec):
        log(f"{name} (pid {rec['pid']}) ignored SIGTERM, sending SIGKILL")
        os.kill(rec["pid"], signal.SIGKILL)
        while alive(rec):
            time.sleep(0.05)
    # The daemon's own workers (nsd servers, Postfix services) exit with it; wait for them.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(k) for k in kids):
        time.sleep(0.05)
    for k in kids:
        if alive(k):
            log(f"{name} child {k['pid']} ({k['comm']}) still alive, sending SIGKILL")
            os.kill(k["pid"], signal.SIGKILL)


def stop_strays(state_dir):
    """Stops daemons of an earlier run in this DIR whose pid never reached pids.json (a start
    that died half-way). Only processes whose pid file is in DIR and whose cwd or command line
    points into DIR are touched."""
    candidates = [
        ("nginx", state_dir / "nginx/nginx.pid", "nginx"),
        ("postfix", state_dir / "postfix-queue/pid/master.pid", "master"),
        ("dovecot", state_dir / "dovecot/run/master.pid", "dovecot"),
        ("unbound", state_dir / "unbound/unbound.pid", "unbound"),
        ("nsd", state_dir / "nsd/nsd.pid", "nsd"),
    ]
    for name, pidfile, comm in candidates:
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        rec = make_record_quiet(pid)
        if rec is None or rec["comm"] != comm:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if str(state_dir) in cmdline or cwd.startswith(str(state_dir)):
            stop_process(name, rec)


# ---------------------------------------------------------------------------------------------
# Preflight


def preflight(state_dir):
    if os.geteuid() != 0:
        raise NotRoot("must run as root (nsd/unbound bind port 53, Postfix port 25 and "
                      "Postfix's master needs root)")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None and
               not Path("/usr/sbin", t).exists()]
    if missing:
        raise TestbedError(f"missing tools: {', '.join(missing)} (see scripts/install-deps.sh)")
    # Postfix daemons (user postfix) and virtual(8) (uid 65534) must reach DIR.
    for parent in [state_dir, *state_dir.parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            raise TestbedError(f"{parent} is not searchable by others (chmod o+x); Postfix's "
                               "unprivileged daemons must reach the state directory")
    for user, package in (("postfix", "postfix"), ("dovecot", "dovecot-core"),
                          ("dovenull", "dovecot-core")):
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise TestbedError(f"system user {user!r} missing (is the {package} package "
                               "installed?)")


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def check_free(addr, port, udp_too):
    """Fails clearly when another process (e.g. a testbed in another build dir) holds a port."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp_too else [])
    for kind in kinds:
        with socket.socket(family, kind) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((addr, port))
            except OSError as e:
                proto = "tcp" if kind == socket.SOCK_STREAM else "udp"
                raise TestbedError(f"{addr} port {port}/{proto} is busy ({e.strerror}); is "
                                   "another testbed running? (see `ss -ltnup`)")


def prepare_dir(state_dir):
    """Wipes DIR when it is a testbed dir (or empty) and recreates it."""
    if state_dir.exists():
        if any(state_dir.iterdir()) and not (state_dir / MARKER).exists():
            raise TestbedError(f"{state_dir} exists, is not empty and is not a testbed dir; "
                               "refusing to wipe it")
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    os.chmod(state_dir, 0o755)
    (state_dir / MARKER).write_text("generated by tests/testbed/testbed.py; wiped on start\n")


# ---------------------------------------------------------------------------------------------
# Certificates


def openssl_config(path, sans, ca):
    cn = sans[0]
    ext = ("basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
           if ca else
           "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
           "extendedKeyUsage = serverAuth\n"
           f"subjectAltName = {', '.join('DNS:' + n for n in sans)}\n")
    # [ca]/[c]/[p]: only for `openssl ca`, which alone can back-date a certificate (expired).
    path.write_text("[req]\nprompt = no\ndistinguished_name = dn\nx509_extensions = ext\n"
                    f"[dn]\nCN = {cn}\n[ext]\n{ext}subjectKeyIdentifier = hash\n"
                    "[ca]\ndefault_ca = c\n[c]\ndatabase = index.txt\nnew_certs_dir = .\n"
                    "serial = serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                    "[p]\ncommonName = supplied\n")


def make_certs(cert_dir):
    """ECDSA P-256 keys and certificates as CERTS describes, plus the test CA. Returns
    {name: {key, cert}} with "ca" and each entry of CERTS."""
    cert_dir.mkdir()
    out = {}

    def key(name):
        path = cert_dir / f"{name}.key"
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", path])
        return path

    def config(name, sans, ca=False):
        cfg = cert_dir / f"{name}.cnf"
        openssl_config(cfg, sans, ca)
        return cfg

    ca_key = key("ca")
    ca_pem = cert_dir / "ca.pem"
    run(["openssl", "req", "-new", "-x509", "-config",
         config("ca", ["mxclient testbed CA"], ca=True), "-key", ca_key, "-days", "30",
         "-sha256", "-out", ca_pem])
    shutil.copy(ca_pem, cert_dir.parent / "ca.pem")  # the documented place: DIR/ca.pem
    out["ca"] = {"key": ca_key, "cert": cert_dir.parent / "ca.pem"}
    for serial, (name, spec) in enumerate(CERTS.items(), start=2):
        k, cfg, pem = key(name), config(name, spec["sans"]), cert_dir / f"{name}.pem"
        if spec.get("expired"):
            (cert_dir / "index.txt").write_text("")
            (cert_dir / "serial").write_text(f"{serial:02x}\n")
            csr = cert_dir / f"{name}.csr"
            run(["openssl", "req", "-new", "-config", cfg, "-key", k, "-out", csr])
            run(["openssl", "ca", "-batch", "-notext", "-config", cfg, "-selfsign",
                 "-keyfile", k, "-in", csr, "-startdate", "20200101000000Z",
                 "-enddate", "20200201000000Z", "-extfile", cfg, "-extensions", "ext",
                 "-out", pem], cwd=cert_dir)
        elif spec["issuer"] == "self":
            run(["openssl", "req", "-new", "-x509", "-config", cfg, "-key", k, "-days", "30",
                 "-sha256", "-out", pem])
        else:
            csr = cert_dir / f"{name}.csr"
            run(["openssl", "req", "-new", "-config", cfg, "-key", k, "-out", csr])
            run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
                 "-set_serial", str(serial), "-days", "30", "-sha256", "-extfile", cfg,
                 "-extensions", "ext", "-out", pem])
        out[name] = {"key": k, "cert": pem}
    # Postfix's TLS daemons run as user postfix but read keys while still root; keep them 0600.
    for p in cert_dir.glob("*.key"):
        os.chmod(p, 0o600)
    return out


def served_chain(cert_dir, certs, mx):
    """The file a listener serves: the leaf, then the CA when the cert is CA-signed and send_ca
    is not False (DANE-TA digests need the trust anchor in the chain, RFC 7671 section 5.2.2)."""
    c = certs[mx.get("cert", mx["name"])]
    if CERTS[mx.get("cert", mx["name"])]["issuer"] != "ca" or mx.get("send_ca") is False:
        return c["cert"]
    chain = cert_dir / f"{mx['name']}-chain.pem"
    chain.write_text(Path(c["cert"]).read_text() + Path(certs["ca"]["cert"]).read_text())
    return chain


def pem_der(path):
    body = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                     Path(path).read_text(), re.S).group(1)
    return base64.b64decode("".join(body.split()))


def spki_der(cert_path):
    pem = run(["openssl", "x509", "-in", cert_path, "-noout", "-pubkey"])
    body = re.search(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", pem, re.S)
    return base64.b64decode("".join(body.group(1).split()))


# ---------------------------------------------------------------------------------------------
# DNS


def placeholder_values(certs, ds_records, serial):
    """Everything a zone template may reference. Names: SERIAL, DS_<ZONE> (e.g.
    DS_SECURE_EXAMPLE: full DS RR lines), and per certificate N (CA and each key of CERTS,
    upper-cased: MX1, MX2, MX6, MX7, TA, TAWRONG, STS, STSSELF, POLICY): SPKI_SHA256_N,
    SPKI_SHA512_N, CERT_SHA256_N, CERT_SHA512_N, SPKI_HEX_N, CERT_HEX_N (hex; *_HEX_* are the
    whole DER, for matching type 0), plus TLSA_311_N (= SPKI_SHA256, a "3 1 1" record's data)."""
    values = {"SERIAL": str(serial)}
    values.update(ds_records)
    for name, c in certs.items():
        spki, der = spki_der(c["cert"]), pem_der(c["cert"])
        n = name.upper()
        values[f"SPKI_SHA256_{n}"] = hashlib.sha256(spki).hexdigest()
        values[f"SPKI_SHA512_{n}"] = hashlib.sha512(spki).hexdigest()
        values[f"CERT_SHA256_{n}"] = hashlib.sha256(der).hexdigest()
        values[f"CERT_SHA512_{n}"] = hashlib.sha512(der).hexdigest()
        values[f"TLSA_311_{n}"] = values[f"SPKI_SHA256_{n}"]
        values[f"SPKI_HEX_{n}"] = spki.hex()  # matching type 0 (full), "x 1 0"
        values[f"CERT_HEX_{n}"] = der.hex()   # "x 0 0"
    return values


def fill_template(text, values, origin):
    def sub(m):
        key = m.group(1)
        if key not in values:
            raise TestbedError(f"zone {origin}: unknown placeholder {{{{{key}}}}} "
                               f"(known: {', '.join(sorted(values))})")
        return values[key]
    return re.sub(r"\{\{([A-Z0-9_]+)\}\}", sub, text)


def zone_file_name(origin):
    return "root" if origin == "." else origin.rstrip(".")


def ds_key(origin):
    if origin == ".":
        return "DS_ROOT"
    return "DS_" + re.sub(r"[.-]", "_", origin.rstrip(".").upper())


def keygen(key_dir, origin):
    base = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "-r", "/dev/urandom", origin],
               cwd=key_dir).strip()
    return key_dir / base


def ds_of(key_base):
    ds = run(["ldns-key2ds", "-n", "-2", f"{key_base}.key"])
    return ds.strip()


def dnskey_rr(key_base):
    line = Path(f"{key_base}.key").read_text().split(";")[0].split()
    # "<owner> IN DNSKEY flags proto alg key..." -> with an explicit TTL.
    owner, rest = line[0], line[line.index("DNSKEY") + 1:]
    return f"{owner} 3600 IN DNSKEY {' '.join(rest)}"


def corrupt_rrsigs(signed_zone, covered):
    """Flips one bit in the signature of every RRSIG covering `covered` in a signed zone file, so
    exactly those RRsets validate as bogus. Raises when there is none (a template error)."""
    out, count = [], 0
    for line in signed_zone.read_text().splitlines(True):
        f = line.split()
        if len(f) >= 13 and f[3] == "RRSIG" and f[4] == covered:
            sig = bytearray(base64.b64decode("".join(f[12:])))
            sig[len(sig) // 2] ^= 0x01
            line = "\t".join(f[:12] + [base64.b64encode(bytes(sig)).decode()]) + "\n"
            count += 1
        out.append(line)
    if count == 0:
        raise TestbedError(f"{signed_zone}: no RRSIG over {covered} to corrupt")
    signed_zone.write_text("".join(out))


def build_zones(state_dir, certs):
    dns_dir = state_dir / "nsd"
    key_dir = state_dir / "dns-keys"
    dns_dir.mkdir()
    key_dir.mkdir()
    serial = int(time.time())
    now = datetime.datetime.now(datetime.timezone.utc)
    inception = (now - datetime.timedelta(hours=1)).strftime("%Y%m%d%H%M%S")
    expiration = (now + datetime.timedelta(days=30)).strftime("%Y%m%d%H%M%S")
    ds_records = {}
    zone_files = {}
    base_values = placeholder_values(certs, {}, serial)
    root_key = None
    for origin, kind in ZONES:
        template = (ZONE_TEMPLATES / f"{zone_file_name(origin)}.zone").read_text()
        text = fill_template(template, {**base_values, **ds_records}, origin)
        plain = dns_dir / f"{zone_file_name(origin)}.zone"
        plain.write_text(text)
        if kind == "unsigned":
            zone_files[origin] = plain.name
            continue
        key = keygen(key_dir, origin)
        run(["ldns-signzone", "-o", origin, "-i", inception, "-e", expiration,
             "-f", f"{plain}.signed", plain, key])
        zone_files[origin] = f"{plain.name}.signed"
        if kind == "bogus-tlsa":
            corrupt_rrsigs(Path(f"{plain}.signed"), "TLSA")
        if kind == "bogus":
            # Publish the DS of a key that never signs anything: chain of trust broken.
            ds_records[ds_key(origin)] = ds_of(keygen(key_dir, origin))
        else:
            ds_records[ds_key(origin)] = ds_of(key)
        if origin == ".":
            root_key = key
    # Trust anchor (zone-file format DNSKEY, as ub_ctx_add_ta_file and unbound's
    # trust-anchor-file take it) and the DS form of the same key.
    (state_dir / "root.key").write_text(dnskey_rr(root_key) + "\n")
    (state_dir / "root.ds").write_text(ds_records[ds_key(".")] + "\n")
    # Root hints: our root's only server.
    (state_dir / "root.hints").write_text(
        f".  3600000 IN NS ns.\nns. 3600000 IN A {AUTH_ADDR}\n")
    return zone_files


def write_nsd_conf(state_dir, zone_files):
    d = state_dir / "nsd"
    zones = "".join(f'zone:\n    name: "{o}"\n    zonefile: "{f}"\n'
                    for o, f in zone_files.items())
    conf = d / "nsd.conf"
    conf.write_text(f"""# nsd for the mxclient testbed: authoritative for the fake root and example.
server:
    ip-address: {AUTH_ADDR}@{DNS_PORT}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
    hide-identity: yes
remote-control:
    control-enable: no
{zones}""")
    run(["nsd-checkconf", conf])
    return conf


def write_unbound_conf(state_dir):
    d = state_dir / "unbound"
    d.mkdir()
    conf = d / "unbound.conf"
    conf.write_text(f"""# Validating recursive resolver for the mxclient testbed.
# Safety: root-hints list only {AUTH_ADDR} and every zone served there delegates only to
# 127.0.53.1; outgoing-interface pins the source address to loopback, from which the kernel
# cannot reach any other network.
server:
    interface: {RESOLVER_ADDR}@{DNS_PORT}
    outgoing-interface: {RESOLVER_ADDR}
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    logfile: "{d}/unbound.log"
    use-syslog: no
    verbosity: 1
    val-log-level: 2
    log-servfail: yes
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    root-hints: "{state_dir}/root.hints"
    trust-anchor-file: "{state_dir}/root.key"
    trust-anchor-signaling: no
    root-key-sentinel: no
    do-not-query-localhost: no
    module-config: "validator iterator"
    harden-dnssec-stripped: yes
    val-permissive-mode: no
    cache-max-ttl: 60
    cache-max-negative-ttl: 10
    prefetch: no
    qname-minimisation: yes
    minimal-responses: no
remote-control:
    control-enable: no
""")
    run(["unbound-checkconf", conf])
    return conf


def spawn(cmd, log_path):
    """Starts a foreground daemon as a detached child (own session, no inherited pipes, so a
    ctest fixture that ran `start` is not kept waiting)."""
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, close_fds=True)
    return proc


def drill(server, name, qtype):
    """Returns (rcode, flags set) of a DO-bit query to server (never the system resolver)."""
    out = subprocess.run(["drill", "-D", f"@{server}", name, qtype], capture_output=True,
                         stdin=subprocess.DEVNULL, timeout=15).stdout.decode(errors="replace")
    rcode = re.search(r"rcode: (\w+)", out)
    flags = re.search(r";; flags: ([a-z ]*);", out)
    return (rcode.group(1) if rcode else None, set(flags.group(1).split()) if flags else set(),
            out)


def dns_rcode(server, name, qtype_num, timeout=0.3):
    """One plain UDP query; returns the rcode or None. Used to poll for readiness quickly
    (drill waits seconds on a server that is not listening yet)."""
    qid = int.from_bytes(os.urandom(2), "big")
    qname = b"".join(bytes([len(label)]) + label.encode()
                     for label in name.rstrip(".").split(".") if label) + b"\0"
    packet = qid.to_bytes(2, "big") + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + \
        qname + qtype_num.to_bytes(2, "big") + b"\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(packet, (server, DNS_PORT))
            reply = s.recv(4096)
        except OSError:
            return None
    if len(reply) < 12 or reply[:2] != packet[:2]:
        return None
    return reply[3] & 0x0F


def wait_for(what, fn, proc, log_path, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise TestbedError(f"{what} exited with code {proc.returncode}; log {log_path}:\n"
                               + tail(log_path))
        ok, last = fn()
        if ok:
            return
        time.sleep(0.1)
    raise TestbedError(f"{what} not ready after {timeout} s ({last}); log {log_path}:\n"
                       + tail(log_path))


def tail(path, n=20):
    try:
        return "".join(Path(path).read_text(errors="replace").splitlines(True)[-n:])
    except OSError:
        return "(no log)"


def start_dns(state_dir, pids, zone_files):
    nsd_conf = write_nsd_conf(state_dir, zone_files)
    nsd_log = state_dir / "nsd/nsd.log"
    nsd = spawn(["nsd", "-d", "-c", str(nsd_conf)], state_dir / "nsd/nsd.stderr")
    pids.add("nsd", nsd.pid)

    def nsd_ready():
        rcode = dns_rcode(AUTH_ADDR, ".", 6)
        return rcode == 0, rcode
    wait_for("nsd", nsd_ready, nsd, nsd_log)

    ub_conf = write_unbound_conf(state_dir)
    ub_log = state_dir / "unbound/unbound.log"
    ub = spawn(["unbound", "-d", "-c", str(ub_conf)], state_dir / "unbound/unbound.stderr")
    pids.add("unbound", ub.pid)

    def ub_ready():
        rcode = dns_rcode(RESOLVER_ADDR, "secure.example.", 15, timeout=2.0)
        return rcode is not None, rcode
    wait_for("unbound", ub_ready, ub, ub_log)

    # The three DNSSEC outcomes the suite relies on.
    expectations = [
        ("secure.example.", "MX", "NOERROR", True),
        ("insecure.example.", "MX", "NOERROR", False),
        ("bogus.example.", "MX", "SERVFAIL", False),
        ("nonexistent.secure.example.", "MX", "NXDOMAIN", True),
        ("mx.bogustlsa.example.", "A", "NOERROR", True),
        ("_25._tcp.mx.bogustlsa.example.", "TLSA", "SERVFAIL", False),
    ]
    for name, qtype, want_rcode, want_ad in expectations:
        rcode, flags, out = drill(RESOLVER_ADDR, name, qtype)
        if rcode != want_rcode or ("ad" in flags) != want_ad:
            raise TestbedError(f"resolver check failed for {name} {qtype}: got {rcode} flags "
                               f"{sorted(flags)}, want {want_rcode} with{'' if want_ad else 'out'}"
                               f" AD\n{out}\nunbound log:\n{tail(ub_log)}")
    log("DNS up: secure=AD, insecure=no AD, bogus=SERVFAIL, bogus TLSA=SERVFAIL")


# ---------------------------------------------------------------------------------------------
# Postfix


def submission_services(pf, sub):
    """master.cf entries of the submission listeners (see SUBMISSION). sub: {key, chain,
    sasl_path}. RFC 4954 section 4: no AUTH before TLS (smtpd_tls_auth_only); only
    authenticated clients may send (permit_sasl_authenticated, reject), after the scripted
    refusals by local part."""
    out = []
    for lst in SUBMISSION["listeners"]:
        opts = [f"syslog_name=postfix/submit-{lst['name']}",
                f"myhostname={SUBMISSION['host']}",
                "smtpd_tls_security_level=encrypt",
                f"smtpd_tls_chain_files={sub['key']},{sub['chain']}",
                "smtpd_tls_auth_only=yes",
                "smtpd_sasl_auth_enable=yes",
                "smtpd_sasl_type=dovecot",
                f"smtpd_sasl_path={sub['sasl_path']}",
                "smtpd_sasl_security_options=noanonymous",
                "smtpd_sasl_tls_security_options=noanonymous",
                "smtpd_sasl_authenticated_header=yes",
                "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
                f"smtpd_recipient_restrictions=check_recipient_access,"
                f"regexp:{pf}/recipient_access,permit_sasl_authenticated,reject"]
        if lst["tls"] == "implicit":
            opts.append("smtpd_tls_wrappermode=yes")
        if lst["filter"]:
            opts.append(f"smtpd_sasl_mechanism_filter={lst['filter']}")
        out.append(f"{SUBMISSION['addr']}:{lst['port']} inet n - n - - smtpd\n" +
                   "".join(f"  -o {o}\n" for o in opts))
    return out


def write_postfix(state_dir, certs, listeners, use_v6, submission):
    # Queue and data directories live outside the config directory: postfix-script wants
    # everything under config_directory owned by root.
    pf = state_dir / "postfix"
    queue = state_dir / "postfix-queue"
    data = state_dir / "postfix-data"
    pf.mkdir()
    data.mkdir()
    queue.mkdir()  # root-owned; `postfix start` creates the queue subdirectories inside
    postfix_pw = pwd.getpwnam("postfix")
    os.chown(data, postfix_pw.pw_uid, postfix_pw.pw_gid)
    mail = state_dir / "mail"
    mail.mkdir()
    os.chown(mail, 65534, 65534)

    # Any syntactically plain domain is ours. The mailbox map only validates addresses (unknown
    # shapes get 550 5.1.1 at RCPT); deliver.py stores mail in mail/<domain>/<localpart>/.
    # The character classes keep "/" and leading dots out of those paths.
    (pf / "virtual_domains").write_text(
        "# Every domain is a virtual mailbox domain.\n"
        "/^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*$/ OK\n")
    (pf / "virtual_mailboxes").write_text(
        "# Addresses the maildir delivery agent accepts (keep in sync with deliver.py).\n"
        "/^[A-Za-z0-9_+=-][A-Za-z0-9._+=-]*@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*$/ OK\n")
    shutil.copy(HERE / "deliver.py", pf / "deliver.py")
    os.chmod(pf / "deliver.py", 0o755)
    (pf / "recipient_access").write_text(
        "# Scripted refusals by local part.\n"
        "/^unknown/ 550 5.1.1 User unknown\n"
        "/^tempfail/ 451 4.3.0 Try again later\n"
        "/^reject/ 554 5.7.1 Rejected\n")

    (pf / "main.cf").write_text(f"""# Receive-only Postfix for the mxclient testbed: accepts mail
# for any domain on loopback and stores it in maildirs under {mail}; never sends mail or looks
# anything up in DNS.
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = testbed.example
mydomain = testbed.example
myorigin = $myhostname
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
relayhost =
# Postfix insists that inet_interfaces are configured addresses; 127.0.25.x are not (Linux
# answers for all of 127/8 anyway), so the listeners name their addresses in master.cf.
inet_interfaces = loopback-only
inet_protocols = {'all' if use_v6 else 'ipv4'}
smtpd_banner = $myhostname ESMTP

# Nothing ever leaves: every non-virtual destination is an error, no DNS, no notices.
default_transport = error:testbed sends no mail
relay_transport = error:testbed sends no mail
local_transport = error:testbed has no local delivery
local_recipient_maps =
alias_maps =
alias_database =
notify_classes =
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
delay_warning_time = 0

# Virtual domains delivered by deliver.py through pipe(8) as nobody: virtual(8) would be the
# natural choice, but it refuses $n substitution in regexp maps, so it cannot map every
# local part to its own maildir.
virtual_transport = maildir
virtual_mailbox_domains = regexp:{pf}/virtual_domains
virtual_mailbox_maps = regexp:{pf}/virtual_mailboxes
maildir_destination_recipient_limit = 1

# Restrictions: no relaying, scripted refusals by local part, nothing that needs DNS.
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access regexp:{pf}/recipient_access, permit
smtpd_error_sleep_time = 0
in_flow_delay = 0

# Content arrives as sent: long lines unsplit, big messages, no header rewriting or additions.
line_length_limit = 1000000
header_size_limit = 1000000
message_size_limit = {SIZE_LIMIT}
mailbox_size_limit = {SIZE_LIMIT}
local_header_rewrite_clients =
remote_header_rewrite_domain =
always_add_missing_headers = no
smtputf8_enable = yes

# TLS is switched on per listener in master.cf.
smtpd_tls_security_level = none
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database =
tls_random_source = dev:/dev/urandom

maillog_file = {pf}/maillog
maillog_file_prefixes = {pf}
""")

    services = []
    for m in listeners:
        endpoint = f"[{m['addr']}]:{SMTP_PORT}" if ":" in m["addr"] else \
            f"{m['addr']}:{SMTP_PORT}"
        opts = [f"syslog_name=postfix/{m['name']}", f"myhostname={m['host']}"]
        if m["tls"] == "none":
            opts.append("smtpd_tls_security_level=none")
        else:
            c = certs[m["name"]]
            opts += ["smtpd_tls_security_level=may",
                     f"smtpd_tls_chain_files={c['key']},{c['chain']}"]
        opts += m.get("smtpd", [])
        services.append(f"{endpoint} inet n - n - - smtpd\n" +
                        "".join(f"  -o {o}\n" for o in opts))
    services += submission_services(pf, submission)
    (pf / "master.cf").write_text(
        "# Postfix services for the mxclient testbed (no chroot; no smtp/lmtp/local clients).\n"
        + "".join(services) + """\
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
maildir   unix  -       n       n       -       -       pipe
  flags=RD user=nobody argv=/usr/bin/python3 -I -B {pf}/deliver.py {mail} ${{recipient}}
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""".format(pf=pf, mail=mail))
    return pf


def smtp_greeting(addr, timeout=1.0, port=SMTP_PORT, tls_ctx=None, server_hostname=None):
    """The first line the server sends (over implicit TLS with tls_ctx), or "error: ..."."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as raw:
            raw.settimeout(timeout)
            raw.connect((addr, port))
            s = tls_ctx.wrap_socket(raw, server_hostname=server_hostname) if tls_ctx else raw
            data = b""
            while b"\n" not in data:
                chunk = s.recv(512)
                if not chunk:
                    break
                data += chunk
            s.sendall(b"QUIT\r\n")
            return data.decode(errors="replace").strip()
    except OSError as e:
        return f"error: {e}"


def run_on_pty(cmd, timeout=60):
    """Runs cmd with a pseudo-terminal as stdout/stderr: Postfix commands report errors on
    stderr only when it is a terminal (else to syslog, which may not exist). A pty rather than a
    pipe also means the daemonized master cannot keep us waiting for EOF."""
    master_fd, slave_fd = pty.openpty()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave_fd,
                                stderr=slave_fd, close_fds=True)
        os.close(slave_fd)
        slave_fd = -1
        chunks = []
        eof = False
        deadline = time.monotonic() + timeout
        while not (eof and proc.poll() is not None):
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise TestbedError(f"timeout running {' '.join(cmd)}")
            if eof:
                time.sleep(0.05)
                continue
            r, _, _ = select.select([master_fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(master_fd, 4096)
                except OSError:  # EIO: every slave end is closed
                    data = b""
                eof = not data
                chunks.append(data)
            elif proc.poll() is not None:
                eof = True  # exited; a daemon may still hold the slave, nothing more to read
        return proc.returncode, b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    finally:
        os.close(master_fd)
        if slave_fd >= 0:
            os.close(slave_fd)


def start_postfix(state_dir, pids, certs, listeners, use_v6, submission):
    pf = write_postfix(state_dir, certs, listeners, use_v6, submission)
    rc, output = run_on_pty(["postfix", "-c", str(pf), "start"])
    (pf / "postfix-start.out").write_text(output)
    pid_file = state_dir / "postfix-queue/pid/master.pid"
    if rc != 0 or not pid_file.exists():
        raise TestbedError(f"postfix start failed (exit {rc}):\n{output}\n"
                           f"maillog:\n{tail(pf / 'maillog')}")
    pids.add("postfix", int(pid_file.read_text().split()[0]))
    for m in listeners:
        def ready(m=m):
            g = smtp_greeting(m["addr"])
            return g.startswith(f"220 {m['host']} ESMTP"), g
        wait_for(f"postfix listener {m['addr']}", ready, None, pf / "maillog")
    log("Postfix up: " + ", ".join(f"{m['host']}={m['addr']}" for m in listeners))
    check_submission(submission, pf / "maillog")


class _PinnedSMTP(smtplib.SMTP):
    """smtplib client that connects to SUBMISSION's address whatever the host name (no DNS
    lookup), so that the name is still what TLS verifies."""

    def _get_socket(self, host, port, timeout):
        return socket.create_connection((SUBMISSION["addr"], port), timeout)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        raw = socket.create_connection((SUBMISSION["addr"], port), timeout)
        return self.context.wrap_socket(raw, server_hostname=host)


def submission_client(listener, ctx, starttls=True, timeout=5):
    """An smtplib client connected to a SUBMISSION listener (a dict of its "listeners" or a
    name) with TLS verified against ctx: after the greeting for implicit TLS, after EHLO and
    STARTTLS (then EHLO again) otherwise unless starttls is False (then before EHLO)."""
    if isinstance(listener, str):
        listener = next(x for x in SUBMISSION["listeners"] if x["name"] == listener)
    host = SUBMISSION["host"]
    if listener["tls"] == "implicit":
        c = _PinnedSMTPSSL(host, listener["port"], local_hostname="testbed.check",
                           context=ctx, timeout=timeout)
        c.ehlo()
        return c
    c = _PinnedSMTP(host, listener["port"], local_hostname="testbed.check", timeout=timeout)
    if starttls:
        c.ehlo()
        c.starttls(context=ctx)
        c.ehlo()
    return c


def check_submission(sub, maillog):
    """Waits for the submission listeners, then checks that AUTH really works through Dovecot
    (alice with PLAIN on 587 and 465) and that the plain_only listener offers PLAIN alone."""
    ctx = ssl.create_default_context(cafile=str(sub["ca"]))
    host, addr = SUBMISSION["host"], SUBMISSION["addr"]
    for lst in SUBMISSION["listeners"]:
        def ready(lst=lst):
            g = smtp_greeting(addr, port=lst["port"], server_hostname=host,
                              tls_ctx=ctx if lst["tls"] == "implicit" else None)
            return g.startswith(f"220 {host} ESMTP"), g
        wait_for(f"submission listener {addr}:{lst['port']}", ready, None, maillog)
    user = "alice"
    for lst in SUBMISSION["listeners"]:
        try:
            if lst["tls"] != "implicit":
                with submission_client(lst, ctx, starttls=False) as c:
                    c.ehlo()
                    if c.has_extn("auth"):
                        raise TestbedError(f"submission {lst['port']} offers AUTH before "
                                           "STARTTLS")
            with submission_client(lst, ctx) as c:
                offered = c.esmtp_features.get("auth", "").upper().split()
                want = ["PLAIN"] if lst["filter"] else SUBMISSION["mechanisms"]
                if sorted(offered) != sorted(want):
                    raise TestbedError(f"submission {lst['port']} offers AUTH {offered}, want "
                                       f"{want}; Dovecot log:\n{tail(sub['dovecot_log'])}")
                c.user, c.password = user, SUBMISSION["users"][user]
                code, text = c.auth("PLAIN", c.auth_plain, initial_response_ok=True)
                if code != 235:
                    raise TestbedError(f"submission {lst['port']}: AUTH PLAIN as {user} got "
                                       f"{code} {text!r}; Dovecot log:\n"
                                       f"{tail(sub['dovecot_log'])}")
        except (OSError, smtplib.SMTPException) as e:
            raise TestbedError(f"submission {lst['port']}: {e}; maillog:\n{tail(maillog)}\n"
                               f"Dovecot log:\n{tail(sub['dovecot_log'])}")
    log(f"submission up: {host}={addr} ports " +
        ", ".join(f"{x['port']} ({x['name']})" for x in SUBMISSION["listeners"]))


# ---------------------------------------------------------------------------------------------
# Dovecot: only the auth service, as Postfix's SASL backend (smtpd_sasl_type=dovecot).


def write_dovecot(state_dir):
    """Config, passwd-file and client password files; returns the paths in a dict."""
    d = state_dir / "dovecot"
    run_dir, st = d / "run", d / "state"
    for x in (d, run_dir, st):
        x.mkdir()
        os.chmod(x, 0o755)  # smtpd (user postfix) must reach the socket in run/
    dovecot_gid = pwd.getpwnam("dovecot").pw_gid
    users = d / "users"
    # passwd-file: user:{scheme}password:uid:gid:gecos:home:shell:extra. Plaintext, so that
    # the SCRAM and CRAM-MD5 credentials can be derived from it.
    users.write_text("".join(f"{u}:{{PLAIN}}{pw}::::::\n"
                             for u, pw in SUBMISSION["users"].items()))
    os.chown(users, 0, dovecot_gid)
    os.chmod(users, 0o640)  # the auth process runs as user dovecot
    conf = d / "dovecot.conf"
    mechs = " ".join(m.lower() for m in SUBMISSION["mechanisms"])
    conf.write_text(f"""# Dovecot for the mxclient testbed: the auth service alone (no IMAP/POP3
# listeners), used by Postfix's submission listeners for SASL. Foreground child of the testbed.
protocols = none
base_dir = {run_dir}
state_dir = {st}
instance_name = mxclient-testbed
log_path = {d}/dovecot.log
ssl = no
# Postfix allows AUTH only under TLS (smtpd_tls_auth_only); Dovecot need not check it again.
disable_plaintext_auth = no
auth_mechanisms = {mechs}
auth_verbose = yes
# Tests fail logins on purpose: no delay after a failure and no per-IP penalty (which would
# grow to 15 s per attempt from 127.0.0.1); a listener of mode 0 disables the penalty.
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent allow_all_users=yes
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
""")
    run(["doveconf", "-n", "-c", conf])
    # Client-side password files for mxclient's submission transport: one per user (0600,
    # with a trailing newline, which the reader strips) and alice's again with mode 0644,
    # which mxclient must refuse.
    sub = state_dir / "submission"
    sub.mkdir()
    os.chmod(sub, 0o755)
    files = {}
    for u, pw in SUBMISSION["users"].items():
        f = sub / f"{u}.pass"
        f.write_text(pw + "\n")
        os.chmod(f, 0o600)
        files[u] = f
    loose = sub / "alice-0644.pass"
    loose.write_text(SUBMISSION["users"]["alice"] + "\n")
    os.chmod(loose, 0o644)
    return {"conf": conf, "log": d / "dovecot.log", "socket": run_dir / "auth-postfix",
            "passwd_file": users, "password_files": files, "password_file_0644": loose,
            "stderr": d / "dovecot.stderr"}


def dovecot_mechanisms(socket_path, timeout=0.5):
    """The MECH lines of Dovecot's auth handshake on socket_path, or None (not ready)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(socket_path))
            s.sendall(f"VERSION\t1\t2\nCPID\t{os.getpid()}\n".encode())
            data = b""
            while b"\nDONE\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                data += chunk
    except OSError:
        return None
    return [f[1] for f in (line.split("\t") for line in data.decode().splitlines())
            if f[0] == "MECH" and len(f) > 1]


def start_dovecot(state_dir, pids):
    dv = write_dovecot(state_dir)
    proc = spawn(["dovecot", "-F", "-c", str(dv["conf"])], dv["stderr"])
    pids.add("dovecot", proc.pid)

    def ready():
        mechs = dovecot_mechanisms(dv["socket"])
        return mechs is not None and sorted(mechs) == sorted(SUBMISSION["mechanisms"]), mechs
    wait_for("dovecot auth", ready, proc, dv["log"])
    log(f"Dovecot auth up: {dv['socket']} ({' '.join(SUBMISSION['mechanisms'])})")
    return dv


# ---------------------------------------------------------------------------------------------
# MTA-STS policy host (nginx)


def write_nginx(state_dir, certs):
    """Config and policy files for nginx: one TLS server on STS_ADDR:443 whose document root is
    chosen by the Host header, so each mta-sts.<domain> serves its own policy (404 elsewhere)."""
    d = state_dir / "nginx"
    www = state_dir / "mta-sts"
    for sub in ("", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for domain, text in STS_POLICIES.items():
        wk = www / f"mta-sts.{domain}" / ".well-known"
        wk.mkdir(parents=True)
        (wk / "mta-sts.txt").write_text(text, newline="")
    for path in [www, *www.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)  # workers run as nobody
    c = certs["policy"]
    chain = d / "policy-chain.pem"
    chain.write_text(Path(c["cert"]).read_text() + Path(certs["ca"]["cert"]).read_text())
    redirects = "".join(
        f"            if ($host = mta-sts.{src}) {{\n"
        f"                return 301 https://mta-sts.{dst}/.well-known/mta-sts.txt;\n"
        "            }\n" for src, dst in STS_REDIRECT.items())
    conf = d / "nginx.conf"
    conf.write_text(f"""# nginx for the mxclient testbed: the MTA-STS policy hosts (RFC 8461
# section 3.3) on {STS_ADDR}:{HTTPS_PORT}. Foreground child of the testbed; nothing on port 80.
daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{
    worker_connections 64;
}}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server_tokens off;
    types {{ }}
    default_type text/plain;
    server {{
        listen {STS_ADDR}:{HTTPS_PORT} ssl;
        server_name _;
        ssl_certificate {chain};
        ssl_certificate_key {c['key']};
        location = /.well-known/mta-sts.txt {{
{redirects}            root {www}/$host;
        }}
        location / {{
            return 404;
        }}
    }}
}}
""")
    return d, conf


def https_get(addr, host, path, ca, timeout=2.0):
    """(status, body) of GET https://host/path from addr:443, verifying against ca; an
    exception when the connection or the TLS handshake fails."""
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection((addr, HTTPS_PORT), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                      .encode())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def start_nginx(state_dir, pids, certs):
    d, conf = write_nginx(state_dir, certs)
    base = ["nginx", "-p", f"{d}/", "-e", str(d / "error.log"), "-c", str(conf)]
    run(base + ["-t"])
    proc = spawn(base, d / "nginx.stderr")
    pids.add("nginx", proc.pid)
    domain = next(iter(STS_POLICIES))

    def ready():
        try:
            status, body = https_get(STS_ADDR, f"mta-sts.{domain}",
                                     "/.well-known/mta-sts.txt", certs["ca"]["cert"],
                                     timeout=0.5)
        except OSError as e:
            return False, str(e)
        return status == 200 and body == STS_POLICIES[domain].encode(), status
    wait_for("nginx", ready, proc, d / "error.log")
    log(f"MTA-STS policy host up: {STS_ADDR}:{HTTPS_PORT} ({len(STS_POLICIES)} policies)")
    return {"addr": STS_ADDR, "port": HTTPS_PORT, "dead_addr": STS_DEAD_ADDR,
            "conf": str(conf), "log": str(d / "error.log"), "www": str(state_dir / "mta-sts"),
            "policies": STS_POLICIES, "redirects": STS_REDIRECT, "no_policy": STS_NO_POLICY}


# ---------------------------------------------------------------------------------------------
# Commands


PR_SET_CHILD_SUBREAPER = 36


def cmd_start(state_dir):
    """Forks a keeper process that starts everything and then stays as the daemons' reaper
    (PR_SET_CHILD_SUBREAPER): where pid 1 does not reap orphans (some container inits), the
    daemons would otherwise linger as zombies after `stop`. The keeper sends its output and
    result through a pipe, then detaches from it so that ctest is not kept waiting."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os._exit(keeper(state_dir, w))
    os.close(w)
    rc = None
    with os.fdopen(r, "rb") as pipe:
        for line in pipe:
            if line.startswith(b"@@rc="):
                rc = int(line[5:])
            else:
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
    if rc is None or rc != 0:
        os.waitpid(pid, 0)  # the keeper exits when start failed
        print("testbed: start failed (reason above)", file=sys.stderr)
    return 1 if rc is None else rc


def keeper(state_dir, w):
    os.setsid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(w, 1)
    os.dup2(w, 2)
    os.close(w)
    try:
        rc = do_start(state_dir)
    except TestbedError as e:
        print(f"testbed: start failed: {e}", flush=True)
        rc = e.exit_code
    except BaseException:  # noqa: B902 - report anything, the parent only sees the pipe
        traceback.print_exc()
        rc = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, f"@@rc={rc}\n".encode())
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    if rc != 0:
        return rc
    # Reap daemons and their orphans until none is left (after `stop`).
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue


def do_start(state_dir):
    t0 = time.monotonic()
    preflight(state_dir)
    if state_dir.exists():
        if (state_dir / "pids.json").exists():
            Pids(state_dir).stop_all()
        if (state_dir / MARKER).exists():
            stop_strays(state_dir)
    use_v6 = ipv6_loopback_available()
    listeners = [m for m in MXS if use_v6 or ":" not in m["addr"]]
    for addr in (AUTH_ADDR, RESOLVER_ADDR):
        check_free(addr, DNS_PORT, udp_too=True)
    for m in listeners:
        check_free(m["addr"], SMTP_PORT, udp_too=False)
    for lst in SUBMISSION["listeners"]:
        check_free(SUBMISSION["addr"], lst["port"], udp_too=False)
    check_free(STS_ADDR, HTTPS_PORT, udp_too=False)

    prepare_dir(state_dir)
    pids = Pids(state_dir)
    pids.add("keeper", os.getpid())
    try:
        certs = make_certs(state_dir / "certs")
        mx_tls = {m["name"]: {"key": certs[m.get("cert", m["name"])]["key"],
                              "cert": certs[m.get("cert", m["name"])]["cert"],
                              "chain": served_chain(state_dir / "certs", certs, m)}
                  for m in listeners if m["tls"] != "none"}
        zone_files = build_zones(state_dir, certs)
        start_dns(state_dir, pids, zone_files)
        dv = start_dovecot(state_dir, pids)
        sub_tls = {"key": certs["submit"]["key"], "cert": certs["submit"]["cert"],
                   "chain": served_chain(state_dir / "certs", certs,
                                         {"name": "submit", "cert": "submit"})}
        start_postfix(state_dir, pids, mx_tls, listeners, use_v6,
                      {**sub_tls, "sasl_path": dv["socket"], "ca": certs["ca"]["cert"],
                       "dovecot_log": dv["log"]})
        sts = start_nginx(state_dir, pids, certs)
    except BaseException:
        pids.stop_all(except_keeper=True)
        raise
    notes = [] if use_v6 else ["::1 unavailable: no mx6 listener; v6 tests must skip"]
    env = {
        "dir": str(state_dir),
        "dns": {
            "authoritative": {"addr": AUTH_ADDR, "port": DNS_PORT,
                              "conf": str(state_dir / "nsd/nsd.conf"),
                              "log": str(state_dir / "nsd/nsd.log")},
            "resolver": {"addr": RESOLVER_ADDR, "port": DNS_PORT,
                         "conf": str(state_dir / "unbound/unbound.conf"),
                         "log": str(state_dir / "unbound/unbound.log")},
            "root_key": str(state_dir / "root.key"),
            "root_ds": str(state_dir / "root.ds"),
            "root_hints": str(state_dir / "root.hints"),
            "zones": {o: k for o, k in ZONES},
            "zone_dir": str(state_dir / "nsd"),
        },
        "smtp": {
            m["name"]: {
                "host": m["host"], "addr": m["addr"], "port": SMTP_PORT, "tls": m["tls"],
                **({k: str(v) for k, v in mx_tls[m["name"]].items()}
                   if m["name"] in mx_tls else {}),
            } for m in listeners
        },
        "ca_pem": str(certs["ca"]["cert"]),
        "mta_sts": sts,
        "ipv6": use_v6,
        "mail_dir": str(state_dir / "mail"),
        "maildir_layout": "mail_dir/<domain>/<localpart>/new/",
        "postfix": {"config_dir": str(state_dir / "postfix"),
                    "queue_dir": str(state_dir / "postfix-queue"),
                    "maillog": str(state_dir / "postfix/maillog")},
        "submission": {
            "host": SUBMISSION["host"], "addr": SUBMISSION["addr"],
            "addresses": [SUBMISSION["addr"]],
            "ports": {x["name"]: x["port"] for x in SUBMISSION["listeners"]},
            "mechanisms": SUBMISSION["mechanisms"],
            "plain_only_mechanisms": ["PLAIN"],
            "users": SUBMISSION["users"],
            "password_file": str(dv["password_files"]["alice"]),
            "password_files": {u: str(f) for u, f in dv["password_files"].items()},
            "password_file_0644": str(dv["password_file_0644"]),
            "ca_file": str(certs["ca"]["cert"]),
            **{k: str(v) for k, v in sub_tls.items()},
            "dovecot": {"conf": str(dv["conf"]), "log": str(dv["log"]),
                        "auth_socket": str(dv["socket"]),
                        "passwd_file": str(dv["passwd_file"])},
        },
        "mxclient_args": ["--helo", "client.example", "--trust-anchor",
                          str(state_dir / "root.key"), "--resolver", RESOLVER_ADDR],
        "pids_file": str(state_dir / "pids.json"),
        "notes": notes,
    }
    (state_dir / "env.json").write_text(json.dumps(env, indent=2) + "\n")
    log(f"ready in {time.monotonic() - t0:.1f} s; {state_dir / 'env.json'}")
    for n in notes:
        log(f"note: {n}")
    return 0


def cmd_stop(state_dir):
    if os.geteuid() != 0:
        raise NotRoot("must run as root")
    env = state_dir / "env.json"
    if env.exists():
        env.unlink()  # tests must not see a testbed that is going away
    if (state_dir / "pids.json").exists():
        Pids(state_dir).stop_all()
    if (state_dir / MARKER).exists():
        stop_strays(state_dir)
    log("stopped")
    return 0


def cmd_status(state_dir):
    pids = Pids(state_dir)
    if not pids.recs:
        print(f"{state_dir}: not running")
        return 1
    ok = True
    for name, rec in pids.recs.items():
        up = alive(rec)
        ok &= up
        print(f"{name:8} pid {rec['pid']:7} {'running' if up else 'DEAD'}")
    env = state_dir / "env.json"
    print(f"env.json: {env if env.exists() else 'missing'}")
    return 0 if ok and env.exists() else 1


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("command", choices=["start", "stop", "status"])
    ap.add_argument("dir", type=Path)
    args = ap.parse_args(argv)
    state_dir = args.dir.resolve()
    try:
        return {"start": cmd_start, "stop": cmd_stop, "status": cmd_status}[args.command](
            state_dir)
    except TestbedError as e:
        print(f"testbed: {args.command} failed: {e}", file=sys.stderr, flush=True)
        return e.exit_code
    except subprocess.TimeoutExpired as e:
        print(f"testbed: {args.command} failed: timeout running {e.cmd}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
