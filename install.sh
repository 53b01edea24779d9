#!/bin/sh
# Build the release binary of molecule-git-token-helper and install it.
#
#   ./install.sh [--prefix DIR] [--demo]
#
# --prefix DIR  install DIR/bin/molecule-git-token-helper (default: $PREFIX,
#               else /usr/local; use ~/.local to install without root)
# --demo        then show the installed helper answering `git credential fill`
#               against the bundled mock platform (nothing outside a temp
#               directory is touched)
set -eu

name=molecule-git-token-helper
prefix=${PREFIX:-/usr/local}
demo=0

usage() { sed -n '2,11s/^# \{0,1\}//p' "$0"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --demo) demo=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
command -v cargo >/dev/null 2>&1 ||
    die "cargo not found: install the Rust toolchain (rustup), then run this again"

printf 'building %s (release)...\n' "$name"
cargo build --quiet --release --locked --manifest-path "$here/Cargo.toml" --bin "$name"

mkdir -p "$prefix/bin"
# Copy beside the target, then rename: a running helper is never half-written.
tmp="$prefix/bin/.$name.tmp.$$"
cp "$here/target/release/$name" "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$prefix/bin/$name"
printf 'installed %s\n' "$prefix/bin/$name"
"$prefix/bin/$name" --version

if [ "$demo" = 1 ]; then
    exec "$here/scripts/demo.sh" "$prefix/bin/$name"
fi
