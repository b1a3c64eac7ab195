# Sourced by bench/s3.sh (bash): a single-node OpenStack Swift with its S3 API
# (s3api + tempauth) behind TLS on 127.0.0.1, all state in one directory, for
# the S3 benchmark. Same settings as scripts/s3-server (which the demo uses,
# over plain HTTP), plus a self-signed certificate for 127.0.0.1 in the
# proxy: pgBackRest 2.45 talks to S3 only over HTTPS, and every tool of the
# benchmark uses the same endpoint.
#
#   swift_start DIR PORT [WORKERS]   -> S3_ENDPOINT=https://127.0.0.1:PORT, S3_CA=DIR/etc/cert.pem
#   swift_stop DIR
#
# Access key id "test:tester", secret "testing", region us-east-1, path-style
# URLs. Ports PORT (proxy) and PORT+1..PORT+3 (container, account, object
# servers). Run as root: the servers drop to the 'swift' user, which owns
# DIR/node and DIR/cache. Debian 12 packages: swift-proxy swift-object
# swift-container swift-account, openssl.

swift_install() {
  local p missing=()
  for p in swift-proxy swift-object swift-container swift-account openssl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

swift_start() {
  local d=$1 port=$2 workers=${3:-2} s p i=0
  swift_install
  mkdir -p "$d"/{etc,node/sdb1,run,log,cache}
  cat > "$d/etc/swift.conf" <<C
[swift-hash]
swift_hash_path_suffix = cellar-bench
swift_hash_path_prefix = cellar-bench
[storage-policy:0]
name = only
default = yes
C
  for s in container account object; do
    i=$((i + 1)); p=$((port + i))
    cat > "$d/etc/$s-server.conf" <<C
[DEFAULT]
devices = $d/node
mount_check = false
bind_ip = 127.0.0.1
bind_port = $p
workers = 1
swift_dir = $d/etc
[pipeline:main]
pipeline = $s-server
[app:$s-server]
use = egg:swift#$s
[$s-replicator]
[$s-updater]
[$s-auditor]
C
    ( cd "$d/etc" && swift-ring-builder "$s.builder" create 10 1 1 >/dev/null &&
      swift-ring-builder "$s.builder" add "r1z1-127.0.0.1:$p/sdb1" 1 >/dev/null &&
      swift-ring-builder "$s.builder" rebalance >/dev/null ) || true
  done
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$d/etc/key.pem" -out "$d/etc/cert.pem" 2>/dev/null
  cat > "$d/etc/proxy-server.conf" <<C
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = $workers
swift_dir = $d/etc
cert_file = $d/etc/cert.pem
key_file = $d/etc/key.pem
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:1
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
C
  chown -R swift: "$d/node" "$d/cache"
  chown swift: "$d/etc/key.pem" "$d/etc/cert.pem"
  chmod 0755 "$d" "$d/etc" "$d/run" "$d/log"   # the servers read their config as swift
  chmod a+r "$d"/etc/*
  for s in account container object proxy; do
    setsid /usr/bin/python3 "/usr/bin/swift-$s-server" "$d/etc/$s-server.conf" > "$d/log/$s.log" 2>&1 < /dev/null &
    echo $! > "$d/run/$s.pid"
  done
  S3_ENDPOINT=https://127.0.0.1:$port
  S3_CA=$d/etc/cert.pem
  for _ in $(seq 300); do
    curl -sf --cacert "$S3_CA" "$S3_ENDPOINT/healthcheck" >/dev/null && return 0
    sleep 0.1
  done
  echo "ERROR: Swift's proxy did not answer on $port; logs in $d/log" >&2
  return 1
}

swift_stop() {
  local d=$1 f pid
  for f in "$d"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    # setsid made each server the leader of its own process group (the proxy's
    # workers are its children): end the group.
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}
