#!/usr/bin/env bash
# Installs every Debian package that mxclient's build, tests and demo need (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  libssl-dev libunbound-dev libcurl4-openssl-dev libgsasl-dev libidn2-dev
  libgtest-dev libgmock-dev libtomlplusplus-dev nlohmann-json3-dev
  dns-root-data
  unbound nsd ldnsutils postfix swaks nginx-light dovecot-core python3-jsonschema python3-aiosmtpd
  dante-server openssh-server libnet-ssleay-perl openssl procps iproute2 python3
)
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
# Postfix asks questions on install; answer them up front.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${packages[@]}"
# The packaged services are not used: the testbed starts its own instances on loopback.
for svc in unbound nsd postfix nginx dovecot danted ssh; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
