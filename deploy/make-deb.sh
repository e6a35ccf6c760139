#!/bin/sh
# make deb: builds the Debian package with dpkg-buildpackage from a copy of
# the working tree (tracked and new files, without build output) in OUT,
# so the checkout stays clean. Prints the .deb's path last.
set -eu
out=$(realpath -m "${1:?usage: make-deb.sh OUTDIR}")
src=$(cd "$(dirname "$0")/.." && pwd)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
tree=$out/hamustro-$version

rm -rf "$out"
mkdir -p "$tree"
# Tracked files plus new ones not ignored: what a commit of this tree would hold.
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar --null -T - -cf -) | tar -xf - -C "$tree"
(cd "$tree" && dpkg-buildpackage -us -uc -b -j"${JOBS:-2}" >"$out/build.log" 2>&1) || {
    tail -40 "$out/build.log" >&2
    echo "make-deb.sh: dpkg-buildpackage failed, see $out/build.log" >&2
    exit 1
}
ls "$out"/hamustro_"$version"_*.deb
