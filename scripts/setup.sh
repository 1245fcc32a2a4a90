#!/usr/bin/env bash
# Installs every Debian package that cpmd's build, tests and benchmarks need.
# Safe to run again; run as root on Debian 12.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libsofia-sip-ua-dev libssl-dev libsqlite3-dev libxml2-dev
  sip-tester tshark socat python3 procps iproute2 psmisc fio sqlite3 bash-builtins gdb
  kamailio kamailio-presence-modules dnsmasq-base openssl
  clamav-daemon libcurl4-openssl-dev curl
  libsystemd-dev systemd groff-base man-db
  dovecot-imapd
  libmicrohttpd-dev libjansson-dev libgnutls28-dev jq prometheus
  chromium chromium-driver python3-selenium
)
# bash-builtins: bash's loadable `sleep`, which tests/e2e/lib.sh enables: the tests' polling
# loops then sleep without a fork and an exec each time (the suite's CPU, docs/TESTING.md).
# gdb: a test whose process does not exit in time prints its threads' stacks (proc_report in
# tests/e2e/lib.sh), so that a hang seen once in a full run can be diagnosed from the log.
# kamailio: the SIP core of tests/core (deploy/kamailio/cpmd-core.cfg, started by the tests
# on random ports); -presence-modules: its optional reg event notifier (WITH_REGEVENT).
# libcurl4-openssl-dev: the XCAP client of the XDM preferences (src/xdm); curl: the tests'
# XCAP PUTs to Kamailio's xcap_server (tests/lib_xcap.sh), which kamailio-presence-modules has.
# openssl: the CLI that makes the TLS tests' certificates (scripts/mk-test-certs.sh).
# dovecot-imapd: the test MSS of tests/mss (tests/lib_dovecot.sh starts its own instance on a
# random port; the package's postinst may start and enable the system service: harmless, its
# config and ports are not ours, `systemctl disable --now dovecot` if unwanted).
# libcurl4-openssl-dev: the MSS client's IMAP (src/mss; conflicts with libcurl4-gnutls-dev).
# libsystemd-dev: cpmd's sd_notify (Type=notify readiness, reload, stop; no hand-written
# protocol). systemd: systemd-analyze verify of deploy/systemd/cpmd.service in the tests (no
# systemd as PID 1 needed). groff-base, man-db: the man pages rendered with warnings on
# (tests/e2e/t_man_pages.sh).
# libmicrohttpd-dev, libjansson-dev: the admin HTTP API of cpmd and cpmctl's JSON (issue 13,
# src/admin, src/cpmctl). libgnutls28-dev: the admin port's HTTPS is libmicrohttpd's, built
# with GnuTLS; cpmd checks the TLS files and the client certificates with it (admin_tls.c). jq: the admin tests read the API's JSON. prometheus: its promtool
# checks the /metrics exposition (tests/e2e/t_admin_metrics.sh); the server is never started
# (policy-rc.d below).
# chromium, chromium-driver, python3-selenium: the headless browser that tests the operator
# console (tests/e2e/t_console.sh drives web/console with Selenium through Debian's chromedriver;
# nothing is downloaded at test time).
# dnsmasq-base: the DNS server of t_domains_dns (NAPTR/SRV/A for --dns-routes; no service).
# clamav-daemon: clamd, the malware scan of content screening (tests/lib_clamd.sh runs it with
# its own config and a one-signature database: no freshclam, no Internet). It pulls
# clamav-freshclam, whose postinst would start the freshclam daemon: services are denied
# during the install (policy-rc.d below), so nothing keeps running or downloading.
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "setup: installing ${missing[*]}" >&2
  # No service starts during the install (tests start their servers themselves); a
  # policy-rc.d already there (Docker images have one) is left as it is.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
