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
# `cargo build` and `cargo test` stay ordinary, dynamic, host builds.
set -eu

target=x86_64-unknown-linux-gnu
name=molecule-git-token-helper
here=$(cd "$(dirname "$0")/.." && pwd)

die() { printf 'build-release.sh: %s\n' "$*" >&2; exit 1; }

cargo=${CARGO:-cargo}  # as cargo itself names the cargo running it
command -v "$cargo" >/dev/null 2>&1 ||
    die "cargo not found: install the Rust toolchain (https://rustup.rs), then run this again"

# Cargo takes the first of CARGO_ENCODED_RUSTFLAGS, RUSTFLAGS and the config's
# target rustflags, so add ours to whichever the caller uses, keeping theirs.
static='-C target-feature=+crt-static'
if [ -n "${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
    CARGO_ENCODED_RUSTFLAGS=$(printf '%s\037-C\037target-feature=+crt-static' "$CARGO_ENCODED_RUSTFLAGS")
    export CARGO_ENCODED_RUSTFLAGS
else
    unset CARGO_ENCODED_RUSTFLAGS
    RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$static"
    export RUSTFLAGS
fi

printf 'build-release.sh: cargo build --release --locked --target %s (static)...\n' "$target" >&2
"$cargo" build --release --locked --target "$target" \
    --manifest-path "$here/Cargo.toml" --bin "$name" >&2

# Where cargo put it: CARGO_TARGET_DIR or a config may move the target dir.
target_dir=$("$cargo" metadata --format-version 1 --no-deps --manifest-path "$here/Cargo.toml" |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || die "cannot find cargo's target directory (cargo metadata)"
bin="$target_dir/$target/release/$name"
[ -x "$bin" ] || die "cargo finished but left no binary at $bin"
printf '%s\n' "$bin"
