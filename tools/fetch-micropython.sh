#!/usr/bin/env bash
# Fetch the pinned MicroPython 1.25.0 tree from Debian's source package and unpack it
# into $1 (default .cache/micropython-1.25.0). PyPI has no recent MicroPython source tree,
# and Debian's tarball is the upstream one with submodules stripped (shared/micropython.md).
# The apt calls use a private sources file and state folder: the machine's apt setup is not touched.
set -euo pipefail

dest=${1:-.cache/micropython-1.25.0}
tarball=micropython_1.25.0+ds.orig.tar.xz
sha256=7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea
cache=$(dirname "$dest")

if [ -f "$dest/py/dynruntime.mk" ]; then
    exit 0
fi
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

if [ ! -f "$cache/$tarball" ]; then
    uri=$( (cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null || true) \
          | grep -E '^URIs:.*/debian/?$|^deb .*/debian/? ' | head -n1 | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//')
    if [ -z "$uri" ]; then
        echo "fetch-micropython: no Debian mirror found in /etc/apt; set MPY_DIR to a MicroPython 1.25.0 checkout instead" >&2
        exit 1
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/lists/partial"
    echo "deb-src $uri trixie main" > "$work/sources.list"
    opts=(-o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root)
    echo "fetch-micropython: downloading the micropython source package from $uri (trixie)"
    apt-get "${opts[@]}" -qq update
    (cd "$work" && apt-get "${opts[@]}" -qq source --download-only micropython)
    mv "$work/$tarball" "$cache/$tarball"
fi

echo "$sha256  $cache/$tarball" | sha256sum -c --quiet - || {
    echo "fetch-micropython: $cache/$tarball does not have the pinned sha256 $sha256; delete it and retry" >&2
    exit 1
}
rm -rf "$dest.partial"
mkdir -p "$dest.partial"
tar -xJf "$cache/$tarball" -C "$dest.partial" --strip-components=1
mv "$dest.partial" "$dest"
echo "fetch-micropython: MicroPython 1.25.0 unpacked in $dest"
