#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing mode-cpp needs.
#
# Idempotent and quiet: asks dpkg first and touches apt only for missing packages
# (one `apt-get update`, then one install). Runs apt through sudo when not root.
set -euo pipefail

packages=(
  build-essential g++ cmake  # the toolchain (g++ 12 brings libasan, libubsan, libtsan)
  clang-format               # scripts/format
  libcaf-dev                 # CAF 0.17.6: actors, scheduler, groups, remoting
  libspdlog-dev libfmt-dev   # logging
  doctest-dev                # the test suite
  libhowardhinnant-date-dev  # date/tz.h for crontab time zones...
  tzdata                     # ...which reads the system's zoneinfo (USE_OS_TZDB)
  libbenchmark-dev           # benchmarks
  nlohmann-json3-dev         # JSON log lines (--log-format json)
  libsystemd-dev             # sd_notify: READY/STOPPING/WATCHDOG/STATUS under systemd
  libcpp-httplib-dev         # the Worker's HTTP endpoint: metrics, health, status page
  chromium                   # headless, for the status page's test
  libssl-dev                 # OpenSSL headers: nodes check their TLS files before CAF reads them
  openssl                    # the openssl tool: the TLS tests make their certificates
  netcat-openbsd             # nc, used by the console tests
  ca-certificates            # apt over https, should the sources use it
)

# One dpkg-query for all: "name status" for each installed or known package.
declare -A installed=()
while read -r name status; do
  [[ $status == ii ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for p in "${packages[@]}"; do
  [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

as_root=()
if [[ $(id -u) -ne 0 ]]; then as_root=(sudo); fi
echo "install-deps: installing ${missing[*]}" >&2
log=$(mktemp "${TMPDIR:-/tmp}/mode-install-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get -q update >"$log" 2>&1 ||
   ! "${as_root[@]}" apt-get -q install -y --no-install-recommends "${missing[@]}" \
     >>"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed" >&2
  exit 1
fi
