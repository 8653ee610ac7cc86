#!/usr/bin/env bash
# Installs (Debian/Ubuntu, apt) and starts what Nova needs locally: PostgreSQL 15+, Redis 7 and NATS with
# JetStream, on their default loopback ports, and promtool for the tests. Idempotent: whatever already
# answers is left alone.
# Run as root or with sudo. Other systems: `docker compose up -d` (docker-compose.yml).
set -euo pipefail

say() { printf '[dev-deps] %s\n' "$*"; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "[dev-deps] $1 needs root: run \`sudo $0\`" >&2
    exit 1
  fi
}
wait_port() {
  for _ in $(seq 1 100); do listening "$1" && return 0; sleep 0.2; done
  echo "[dev-deps] $2 did not start listening on 127.0.0.1:$1" >&2
  return 1
}

apt_updated=0
apt_install() {
  need_root "installing $*"
  if [ "$apt_updated" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- PostgreSQL -------------------------------------------------------------------------------------------
if listening 5432; then
  say "PostgreSQL already listening on 5432"
else
  command -v pg_ctlcluster >/dev/null || { say "installing PostgreSQL"; apt_install postgresql; }
  need_root "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Local development only: the postgres role may connect over loopback without a password.
  if ! grep -q '# nova-dev' "$hba"; then
    sed -i '1i host all postgres 127.0.0.1/32 trust # nova-dev\nhost all postgres ::1/128 trust # nova-dev' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
  wait_port 5432 PostgreSQL
  say "PostgreSQL $version started"
fi

# --- Redis ------------------------------------------------------------------------------------------------
if listening 6379; then
  say "Redis already listening on 6379"
else
  command -v redis-server >/dev/null || { say "installing Redis"; apt_install redis-server; }
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/nova-dev.log
  wait_port 6379 Redis
  say "Redis started"
fi

# --- NATS with JetStream ----------------------------------------------------------------------------------
if listening 4222; then
  say "NATS already listening on 4222"
else
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || { say "installing NATS"; apt_install nats-server; }
  need_root "starting NATS"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server || echo /usr/sbin/nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port 4222 NATS
  say "NATS started"
fi

# --- promtool (tests of the Prometheus alert rules) ------------------------------------------------------
if command -v promtool >/dev/null; then
  say "promtool present"
else
  say "installing promtool (Debian package prometheus)"
  # Install for promtool only: keep the Prometheus server from starting, since it would take port 9090,
  # which is Nova's gRPC port.
  need_root "installing promtool"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  apt_install prometheus || { [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi

# --- openssl (deploy/k8s/grpc-certs.sh, exercised by packages/cli/tests/deploy.test.ts) ------------------
if command -v openssl >/dev/null; then
  say "openssl present"
else
  say "installing openssl"
  apt_install openssl
fi
