# Real proxies for tests/integration/test_proxy.py: Dante's danted (SOCKS5) and OpenSSH's sshd
# (for "ssh -W"), with their own configs and keys in a temporary directory, stopped by pid.
"""Loopback only. Addresses (see tests/testbed/README.md for what others use):
    danted, no authentication, CONNECT to 127.0.25.3 blocked by a rule   127.0.0.1:29080
    danted, username/password required (no usable account: always refused) 127.0.0.1:29081
    recording TCP relay in front of the first danted (relay.py listen)    127.0.29.4:1080
    sshd, public-key auth for root, AllowTcpForwarding yes                  127.0.29.1:2222
Dante only binds addresses configured on an interface, hence 127.0.0.1 with high ports."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RELAY = HERE / "relay.py"

SOCKS_NOAUTH = ("127.0.0.1", 29080)
SOCKS_AUTH = ("127.0.0.1", 29081)
RECORDER = ("127.0.29.4", 1080)
SSHD = ("127.0.29.1", 2222)
BLOCKED_MX = "127.0.25.3"  # mx3.secure.example (plain.secure.example's MX)

DANTED = shutil.which("danted") or "/usr/sbin/danted"
SSHD_BIN = "/usr/sbin/sshd"
SSH = shutil.which("ssh") or "/usr/bin/ssh"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


def missing_tools():
    """Names of the Debian packages whose programs are absent."""
    out = []
    if not os.access(DANTED, os.X_OK):
        out.append("dante-server")
    if not os.access(SSHD_BIN, os.X_OK):
        out.append("openssh-server")
    if not os.access(SSH, os.X_OK) or not os.access(SSH_KEYGEN, os.X_OK):
        out.append("openssh-client")
    return out


def wait_listening(addr, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(addr, timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def port_free(addr):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
            return True
        except OSError:
            return False


class Proxies:
    """Starts every server in start(); stop() ends exactly the processes it started."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="mxproxy-"))
        self.procs = []  # (name, Popen)
        self.record = self.dir / "recorded.bin"
        self.ssh_key = self.dir / "id_ed25519"

    # -- danted ---------------------------------------------------------------------------------
    def _danted_conf(self, name, addr, method):
        conf = self.dir / f"{name}.conf"
        conf.write_text(f"""# danted for mxclient's proxy tests ({name})
logoutput: {self.dir}/{name}.log
internal: {addr[0]} port = {addr[1]}
external: 127.0.0.1
clientmethod: none
socksmethod: {method}
user.privileged: root
user.unprivileged: nobody
client pass {{
  from: 127.0.0.0/8 to: 0.0.0.0/0
}}
socks block {{
  from: 0.0.0.0/0 to: {BLOCKED_MX}/32
  log: connect error
}}
socks pass {{
  from: 0.0.0.0/0 to: 0.0.0.0/0
  command: connect
  log: connect disconnect error
}}
""")
        return conf

    def _start(self, name, argv, addr, **kw):
        if not port_free(addr):
            raise RuntimeError(f"{addr[0]}:{addr[1]} is in use (another proxy test running?)")
        log = open(self.dir / f"{name}.out", "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, **kw)
        self.procs.append((name, p))
        if not wait_listening(addr, proc=p):
            raise RuntimeError(f"{name} did not start:\n{self.log(name)}")

    def log(self, name):
        text = ""
        for suffix in (".out", ".log"):
            f = self.dir / f"{name}{suffix}"
            if f.exists():
                text += f.read_text(errors="replace")[-3000:]
        return text

    # -- sshd -----------------------------------------------------------------------------------
    def _sshd(self):
        host_key = self.dir / "ssh_host_ed25519_key"
        for key in (host_key, self.ssh_key):
            subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                           check=True, stdin=subprocess.DEVNULL)
        (self.dir / "authorized_keys").write_text(
            (self.dir / "id_ed25519.pub").read_text())
        conf = self.dir / "sshd_config"
        conf.write_text(f"""# sshd for mxclient's proxy tests: key auth only, forwarding for -W
ListenAddress {SSHD[0]}:{SSHD[1]}
HostKey {host_key}
PidFile {self.dir}/sshd.pid
AuthorizedKeysFile {self.dir}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
PermitTTY no
X11Forwarding no
LogLevel VERBOSE
""")
        # sshd insists on its privilege separation directory (the Debian service creates it).
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self._start("sshd", [SSHD_BIN, "-D", "-e", "-f", str(conf)], SSHD)

    def ssh_command(self, port=SSHD[1], extra=""):
        """The --proxy-command template for the test sshd."""
        return (f"{SSH} -F none -i {self.ssh_key} -o BatchMode=yes -o StrictHostKeyChecking=no "
                f"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR {extra}-p {port} "
                f"root@{SSHD[0]} -W %h:%p")

    def start(self):
        try:
            self._start("danted-noauth", [DANTED, "-f",
                                          str(self._danted_conf("danted-noauth", SOCKS_NOAUTH,
                                                                "none")),
                                          "-p", str(self.dir / "danted-noauth.pid"), "-N", "1"],
                        SOCKS_NOAUTH)
            self._start("danted-auth", [DANTED, "-f",
                                        str(self._danted_conf("danted-auth", SOCKS_AUTH,
                                                              "username")),
                                        "-p", str(self.dir / "danted-auth.pid"), "-N", "1"],
                        SOCKS_AUTH)
            self._start("recorder", [sys.executable, str(RELAY), "listen", RECORDER[0],
                                     str(RECORDER[1]), SOCKS_NOAUTH[0], str(SOCKS_NOAUTH[1]),
                                     str(self.record)], RECORDER)
            self._sshd()
        except Exception:
            self.stop()
            raise

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGTERM)
                    p.wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.kill(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait()
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
