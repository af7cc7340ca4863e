#!/bin/sh
# Build the kernel's own tools/mm/page_owner_sort (Linux 6.12) into build/, for
# benchmarks/bench_sort.py and bench_read_page_owner.py to time side by side.
#
# The repository holds no kernel code: this fetches Debian's linux-source-6.12
# package (apt-get download, no root needed), extracts that one file into a
# temporary folder and compiles it with the system C compiler.  Usage:
#
#     tools/build_page_owner_sort.sh            # -> build/page_owner_sort
#     PAGE_OWNER_SORT=/path/to/page_owner_sort  # what the benchmarks use instead, if set
#
# Set LINUX_SRC to a folder that already holds tools/mm/page_owner_sort.c (for
# example an extracted linux-6.12 tree) to skip the download.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/build/page_owner_sort"
mkdir -p "$here/build"
src=""
if [ -n "${LINUX_SRC:-}" ] && [ -f "$LINUX_SRC/tools/mm/page_owner_sort.c" ]; then
    src="$LINUX_SRC/tools/mm/page_owner_sort.c"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$src" ]; then
    cd "$tmp"
    # a fresh machine's package lists may not name it yet: as root, update them once
    if ! apt-get download linux-source-6.12 >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq >/dev/null
        fi
        apt-get download linux-source-6.12 >/dev/null || {
            echo "build_page_owner_sort: apt-get cannot download linux-source-6.12" \
                 "(run apt-get update, or set LINUX_SRC)" >&2; exit 1; }
    fi
    dpkg-deb --fsys-tarfile linux-source-6.12*.deb | tar -x --wildcards '*/linux-source-6.12.tar.xz'
    tar -xJf usr/src/linux-source-6.12.tar.xz --wildcards '*/tools/mm/page_owner_sort.c'
    src=$(find "$tmp" -path '*/tools/mm/page_owner_sort.c' | head -n 1)
fi
# tools/mm/Makefile builds it with "-Wall -Wextra" and no optimisation flag; -O2
# gives the C tool its best showing.
${CC:-cc} -O2 -Wall -o "$out" "$src"
echo "built $out from $src"
