#!/usr/bin/env bash
# Make sure a NATS server with JetStream answers at 127.0.0.1:4222 (the GPU-worker tests use it):
# install Debian's nats-server if it is missing, and start one if none answers. Idempotent.
set -euo pipefail
answers() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }
if answers; then
    exit 0
fi
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
    echo "nats-server is missing: installing Debian's package" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nats-server >/dev/null
fi
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
STORE=${NATS_STORE_DIR:-${TMPDIR:-/tmp}/animagine-nats}
mkdir -p "$STORE"
nohup "$NATS" -a 127.0.0.1 -p 4222 -js -sd "$STORE" >"$STORE/nats-server.log" 2>&1 &
for _ in $(seq 50); do
    answers && exit 0
    sleep 0.1
done
echo "nats-server did not start; see $STORE/nats-server.log" >&2
exit 1
