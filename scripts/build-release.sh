#!/bin/sh
# Build the static release binary of molecule-git-token-helper: the one place
# that knows how (install.sh, CI and the benchmark call this).
#
#   scripts/build-release.sh
#
# Progress goes to stderr; the last line on stdout is the binary's absolute
# path. Cargo rebuilds only what changed, so calling it again is cheap.
#
# How: glibc's static libc (-C target-feature=+crt-static) on
# x86_64-unknown-linux-gnu, with rustls (no OpenSSL), LTO and strip from
# Cargo.toml's release profile. The flag must reach the target only: with an
# explicit --target, RUSTFLAGS skips build scripts and proc-macros, which
# cannot be built static. It is set here and not in .cargo/config.toml so that
# `cargo build` and `cargo test` stay ordinary, dynamic, host builds. The
# paths of this machine are remapped (below), so the same commit gives the
# same binary from any directory (scripts/release.sh relies on it).
set -eu

target=x86_64-unknown-linux-gnu
name=molecule-git-token-helper
here=$(cd "$(dirname "$0")/.." && pwd)

die() { printf 'build-release.sh: %s\n' "$*" >&2; exit 1; }
us=$(printf '\037')  # the separator of CARGO_ENCODED_RUSTFLAGS

cargo=${CARGO:-cargo}  # as cargo itself names the cargo running it
command -v "$cargo" >/dev/null 2>&1 ||
    die "cargo not found: install the Rust toolchain (https://rustup.rs), then run this again"

# Where cargo puts it: CARGO_TARGET_DIR or a config may move the target dir.
target_dir=$("$cargo" metadata --format-version 1 --no-deps --manifest-path "$here/Cargo.toml" |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || die "cannot find cargo's target directory (cargo metadata)"

# Reproducible: the same commit gives the same bytes from any directory, so
# no path of this machine goes into the binary (panic locations name the
# files of dependencies): the source dir, cargo's home (the registry's
# sources) and the target dir (build scripts' OUT_DIR) are remapped to fixed
# names. Rustc applies the last flag that matches, so the longest go last.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
cargo_home=$(cd "$cargo_home" 2>/dev/null && pwd -P || printf '%s' "$cargo_home")
src=$(cd "$here" && pwd -P)
flags="-C${us}target-feature=+crt-static"
flags="$flags$us--remap-path-prefix=$cargo_home=/cargo"
flags="$flags$us--remap-path-prefix=$src=/molecule-git-token-helper"
case $target_dir/ in
    "$src"/*) ;;
    *) flags="$flags$us--remap-path-prefix=$target_dir=/target" ;;
esac

# The commit's time, as scripts/release.sh dates the artifacts: ring's build
# script reruns when SOURCE_DATE_EPOCH changes, so every release build sets
# it the same way and release.sh reuses this build.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] &&
    SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct 2>/dev/null) && [ -n "$SOURCE_DATE_EPOCH" ]; then
    export SOURCE_DATE_EPOCH
fi

# Cargo takes the first of CARGO_ENCODED_RUSTFLAGS, RUSTFLAGS and the config's
# target rustflags, so add ours to whichever the caller uses, keeping theirs.
# The encoded form (words separated by 0x1f) keeps a path with spaces whole.
if [ -n "${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
    CARGO_ENCODED_RUSTFLAGS="$CARGO_ENCODED_RUSTFLAGS$us$flags"
elif [ -n "${RUSTFLAGS:-}" ]; then
    # shellcheck disable=SC2086 # RUSTFLAGS is whitespace-separated words
    CARGO_ENCODED_RUSTFLAGS="$(printf "%s$us" $RUSTFLAGS)$flags"
else
    CARGO_ENCODED_RUSTFLAGS=$flags
fi
unset RUSTFLAGS
export CARGO_ENCODED_RUSTFLAGS

printf 'build-release.sh: cargo build --release --locked --target %s (static)...\n' "$target" >&2
"$cargo" build --release --locked --target "$target" \
    --manifest-path "$here/Cargo.toml" --bin "$name" >&2

bin="$target_dir/$target/release/$name"
[ -x "$bin" ] || die "cargo finished but left no binary at $bin"
printf '%s\n' "$bin"
