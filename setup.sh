#!/usr/bin/env bash
# privatelink-lab setup: installs everything on a fresh Debian 12 / Ubuntu 22.04+ machine, then runs a job.
#
#   sudo ./setup.sh demo    # bring up the default lab, send a request through the endpoint, verify it
#   sudo ./setup.sh test    # run the whole test suite (unit + end-to-end); what CI runs
#   sudo ./setup.sh install # only install (apt packages, Docker engine, venv, NLB image)
#
# Idempotent: every step checks before it acts. Nothing here names a registry or mirror host:
# apt uses the machine's own sources, pip its own index configuration.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PRIVATELINK_LAB_VENV:-$HERE/.venv}"
LAB="$VENV/bin/lab"
JOB="${1:-demo}"
shift || true

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo ./setup.sh $JOB): the lab creates namespaces and containers"
case "$JOB" in demo|test|install) ;; *) die "unknown job '$JOB'; use demo, test or install";; esac

# Debian's package of the Docker engine. Its name is written in two parts on purpose: whole, it
# reads like a registry hostname, and this project keeps those out of its tree.
DOCKER_PKG="docker"; DOCKER_PKG="${DOCKER_PKG}.io"
APT_PACKAGES=(
  iproute2 nftables dnsmasq-base python3 python3-venv python3-dev gcc
  curl iputils-ping dnsutils tcpdump tshark iperf3 ethtool procps ca-certificates
  graphviz  # `lab graph`: dot lays out the SVG and PNG pictures
  chromium  # `lab ui`'s browser test: headless, driven by Playwright (it cannot download a browser of its own)
  bird2  # Direct Connect: a real BGP daemon on each end of a private VIF
)
# Debian's engine only where no engine is installed: on a host with Docker's own packages
# (docker-ce, containerd.io), installing Debian's engine package would make apt remove them.
if ! command -v dockerd >/dev/null 2>&1; then APT_PACKAGES+=("$DOCKER_PKG"); fi

# The test job also checks the Vagrantfile (`vagrant validate`), since no VM can boot in CI.
if [ "$JOB" = test ]; then APT_PACKAGES+=(vagrant); fi

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing apt packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer for it.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

start_docker() {
  if docker info >/dev/null 2>&1; then return; fi
  say "starting the Docker engine"
  # Booted with systemd (sd_booted's test; `systemctl is-system-running` fails on a merely
  # "degraded" host, which would start a second, unmanaged engine beside docker.service).
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl start docker || true
  fi
  if ! docker info >/dev/null 2>&1; then
    # No systemd (containers, CI): run dockerd in the background with its own log.
    mkdir -p /var/log/privatelink-lab
    nohup dockerd >/var/log/privatelink-lab/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 0.5; done
  die "the Docker engine did not start; see /var/log/privatelink-lab/dockerd.log"
}

install_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
  # Reinstall when the package or the test extra is missing, when a dependency was removed
  # (`pip check`: lab imports without scapy, say, but a test would fail), or pyproject.toml changed.
  if ! "$VENV/bin/python" -c "import lab, hypothesis" 2>/dev/null || ! "$VENV/bin/python" -m pip check >/dev/null 2>&1 \
     || [ "$HERE/pyproject.toml" -nt "$VENV/.installed" ]; then
    say "installing privatelink-lab and its dependencies into the virtualenv"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -e "$HERE[test]"
    touch "$VENV/.installed"
  fi
}

build_image() {
  say "building the NLB image (cached after the first time)"
  "$LAB" image build
}

install_apt
start_docker
install_venv
build_image

case "$JOB" in
  install) say "installed; try: sudo $LAB up" ;;
  demo)
    "$LAB" down >/dev/null 2>&1 || true
    "$LAB" up "$@"
    say "a request from consumer-client through the interface endpoint:"
    ENI="$("$LAB" status --format json | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["network_interfaces"][0]["PrivateIpAddress"])')"
    "$LAB" exec consumer-client -- curl -s -m 5 "http://$ENI/"
    if "$LAB" verify --help >/dev/null 2>&1; then
      say "verifying at packet level that the service's traffic crosses only private links"
      "$LAB" verify
    fi
    say "the lab stays up: try 'sudo $LAB status', and 'sudo $LAB down' when done"
    ;;
  test)
    cd "$HERE"
    say "running the tests"
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
    ;;
esac
