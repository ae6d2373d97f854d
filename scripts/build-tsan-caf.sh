#!/usr/bin/env bash
# Builds libcaf_core, libcaf_io and libcaf_openssl 0.17.6 with -fsanitize=thread and installs them into
# a cache directory outside the checkout; prints that directory (the CAF_ROOT for CMake).
#
# Why: ThreadSanitizer cannot see the atomics inside Debian's uninstrumented libcaf, so
# every actor hand-off is reported as a data race. A TSan-built CAF makes those reports
# go away, leaving the real ones.
#
# Where the source comes from: Debian's own archive, through apt, with a private copy of
# the system's Debian sources turned into `deb-src` entries (the system's apt
# configuration and lists stay untouched). Only actor-framework_0.17.6.orig.tar.gz is
# needed; the Debian patch tarball is not always served, so its failure is tolerated.
#
# Environment:
#   MODE_CAF_TSAN_DIR  install prefix (default /var/cache/mode-cpp/caf-0.17.6-tsan)
#   MODE_JOBS          parallel compile jobs (default 2)
# A finished build leaves a stamp file; with a matching stamp the script only prints
# the prefix. Delete the prefix to force a rebuild.
set -euo pipefail

caf_version=0.17.6
prefix=${MODE_CAF_TSAN_DIR:-/var/cache/mode-cpp/caf-${caf_version}-tsan}
jobs=${MODE_JOBS:-2}
cxx=${CXX:-g++}
# Debian builds CAF with CAF's default -std=c++11, log level QUIET and memory
# management on; matching them keeps caf/detail/build_config.hpp identical to
# Debian's, so the TSan build is a drop-in for libcaf-dev.
cxx_flags="-std=c++11 -fsanitize=thread"
# recipe: bump when this script changes what it builds, so cached builds are redone.
stamp_text="recipe=2 caf=${caf_version} cxx=$("$cxx" -dumpfullversion) flags=${cxx_flags} build=RelWithDebInfo"
stamp=$prefix/.mode-cpp-stamp

log() { echo "build-tsan-caf: $*" >&2; }

if [[ -f $stamp && $(cat "$stamp") == "$stamp_text" ]]; then
  echo "$prefix"
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then as_root=(sudo); fi

# One build at a time per prefix (CI and a developer may share the machine); whoever
# waited finds the other's stamp.
"${as_root[@]}" mkdir -p "$(dirname "$prefix")"
"${as_root[@]}" touch "$prefix.lock"
"${as_root[@]}" chown "$(id -u):$(id -g)" "$prefix.lock"
exec 9>"$prefix.lock"
flock 9
if [[ -f $stamp && $(cat "$stamp") == "$stamp_text" ]]; then
  echo "$prefix"
  exit 0
fi

start=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/mode-caf-tsan.XXXXXX")
trap '"${as_root[@]}" rm -rf "$work"' EXIT

# -- fetch the upstream source through apt ---------------------------------------
# A private apt state: deb-src versions of the system's Debian entries, own lists.
mkdir -p "$work/apt/sources.list.d" "$work/apt/lists/partial" "$work/src"
: >"$work/apt/sources.list"
# deb822 files (Debian 12's /etc/apt/sources.list.d/debian.sources): keep the Debian
# stanzas, security excluded (it carries no CAF), with their Types turned into deb-src.
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] || continue
  awk 'BEGIN { RS = ""; ORS = "\n\n" }
       /URIs:[^\n]*debian/ && !/URIs:[^\n]*security/ {
         sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' \
    "$f" >>"$work/apt/sources.list.d/mode-deb-src.sources"
done
# One-line format (/etc/apt/sources.list and *.list): `deb [opts] URI suite comps`.
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f $f ]] || continue
  sed -n -E '/debian/{/security/d; s/^[[:space:]]*deb[[:space:]]/deb-src /p}' "$f" \
    >>"$work/apt/sources.list"
done
if [[ ! -s $work/apt/sources.list && ! -s $work/apt/sources.list.d/mode-deb-src.sources ]]; then
  log "no Debian entry found in /etc/apt/sources.list{,.d/*}"
  exit 1
fi
apt_opts=(-q -o "Dir::Etc::SourceList=$work/apt/sources.list"
          -o "Dir::Etc::SourceParts=$work/apt/sources.list.d"
          -o "Dir::State::Lists=$work/apt/lists"
          -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
          -o "APT::Sandbox::User=root")
log "fetching the actor-framework source package index"
"${as_root[@]}" apt-get "${apt_opts[@]}" update >"$work/apt-update.log" 2>&1 || {
  cat "$work/apt-update.log" >&2
  exit 1
}
tarball=actor-framework_${caf_version}.orig.tar.gz
# apt verifies every file it saves against the signed Sources index; the debian.tar.xz
# may be missing from the archive (404), which makes apt-get exit 100: only the
# upstream tarball matters.
(cd "$work/src" && "${as_root[@]}" apt-get "${apt_opts[@]}" source --download-only \
  actor-framework >"$work/apt-source.log" 2>&1) || true
if [[ ! -f $work/src/$tarball ]]; then
  cat "$work/apt-source.log" >&2
  log "could not fetch $tarball"
  exit 1
fi
"${as_root[@]}" chown -R "$(id -u):$(id -g)" "$work/src"
tar -C "$work/src" -xzf "$work/src/$tarball"
src=$work/src/actor-framework-${caf_version}
# The one fix from Debian's patches that a g++ 12 build needs (Debian's installed header
# has it too): receive_buffer.hpp uses std::numeric_limits without <limits>.
sed -i 's|^#include <cstring>$|&\n#include <limits>|' \
  "$src/libcaf_io/caf/io/network/receive_buffer.hpp"

# -- configure, build, install ------------------------------------------------------
log "building libcaf_core + libcaf_io + libcaf_openssl ${caf_version} with ThreadSanitizer (-j${jobs})"
# Only a directory this script made (it has the stamp) or an empty one is replaced.
if [[ -d $prefix && ! -f $stamp && -n $(ls -A "$prefix") ]]; then
  log "$prefix exists, is not empty and has no $(basename "$stamp"): not replacing it"
  exit 1
fi
"${as_root[@]}" rm -rf "$prefix"
"${as_root[@]}" mkdir -p "$prefix"
"${as_root[@]}" chown "$(id -u):$(id -g)" "$prefix"
cmake -S "$src" -B "$work/build" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="$cxx_flags" \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_INSTALL_LIBDIR=lib \
  -DCAF_NO_EXAMPLES=ON -DCAF_NO_UNIT_TESTS=ON -DCAF_NO_TOOLS=ON \
  -DCAF_NO_PYTHON=ON -DCAF_NO_OPENCL=ON \
  -DCAF_NO_SUMMARY=ON >"$work/configure.log" 2>&1 || {
  cat "$work/configure.log" >&2
  exit 1
}
cmake --build "$work/build" -j"$jobs" >"$work/build.log" 2>&1 || {
  tail -n 60 "$work/build.log" >&2
  exit 1
}
cmake --install "$work/build" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  exit 1
}
# The installed headers (build_config.hpp included) should be Debian's byte for byte,
# so that code built against either sees the same CAF.
if [[ -d /usr/include/caf ]] && ! diff -rq /usr/include/caf "$prefix/include/caf" >"$work/diff.log"; then
  log "warning: headers differ from /usr/include/caf (code built with CAF_ROOT uses these):"
  cat "$work/diff.log" >&2
fi
echo "$stamp_text" >"$stamp"
log "done in $((SECONDS - start)) s: $prefix"
echo "$prefix"
