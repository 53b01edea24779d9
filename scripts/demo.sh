#!/bin/sh
# Show the helper serving `git credential fill` against the bundled mock
# platform. Everything lives in a temp directory that is removed at the end.
#
#   scripts/demo.sh [PATH-TO-HELPER]   (default: the static release build)
#
# The mock platform (examples/mock-platform.rs) is built with cargo, and run
# from where cargo says it put it (CARGO_TARGET_DIR and cargo's config are
# honoured). To run the demo without cargo, give a mock-platform built
# elsewhere: MOCK_PLATFORM=/path/to/mock-platform scripts/demo.sh HELPER
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
cargo=${CARGO:-cargo}  # as cargo itself names the cargo running it
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }

mock=${MOCK_PLATFORM:-}
if [ -z "$mock" ] || [ $# -eq 0 ]; then
    command -v "$cargo" >/dev/null 2>&1 ||
        die "cargo not found: the demo builds the mock platform (and, without a helper path, the helper) with it; install the Rust toolchain (https://rustup.rs), or set MOCK_PLATFORM to a mock-platform built elsewhere and name the helper"
fi

if [ $# -ge 1 ]; then
    helper=$1
else
    out=$("$here/scripts/build-release.sh")
    helper=$(printf '%s\n' "$out" | tail -n 1)
fi
[ -f "$helper" ] && [ -x "$helper" ] || die "no helper at $helper (run ./install.sh first)"
# git runs a helper value that does not start with / as `git credential-VALUE`.
helper=$(cd "$(dirname "$helper")" && pwd)/$(basename "$helper")

if [ -n "$mock" ]; then
    case $mock in */*) ;; *) mock=./$mock ;; esac  # a file, not a command on PATH
    [ -f "$mock" ] && [ -x "$mock" ] || die "MOCK_PLATFORM: no executable file at $mock"
else
    # The mock is a test fixture: a debug build is quick, and `cargo test`
    # has usually built it already. Cargo reports where the executable is
    # (one JSON message per artifact); a fixed target/debug/... path would
    # miss CARGO_TARGET_DIR, or run a stale build left there.
    messages=$("$cargo" build --quiet --locked --manifest-path "$here/Cargo.toml" \
        --example mock-platform --message-format=json) || die "cargo could not build the mock platform (see above)"
    mock=$(printf '%s\n' "$messages" |
        grep '"reason":"compiler-artifact"' | grep '"name":"mock-platform"' |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    [ -n "$mock" ] && [ -x "$mock" ] || die "cargo built the mock platform but did not say where (no executable in its JSON messages)"
fi

tmp=$(mktemp -d)
mock_pid=
cleanup() {
    if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

mkdir -p "$tmp/configs"
(umask 077; printf 'demo-bearer-%s\n' "$$" > "$tmp/configs/.auth_token")
"$mock" --port 0 --port-file "$tmp/port" \
    --bearer-file "$tmp/configs/.auth_token" --quiet &
mock_pid=$!
# The mock writes its port once it listens; a script may poll for it.
i=0
while [ ! -s "$tmp/port" ]; do
    i=$((i + 1)); [ $i -le 100 ] || die "the mock platform ($mock) did not start"
    sleep 0.1
done

PLATFORM_URL="http://127.0.0.1:$(cat "$tmp/port")"
CONFIGS_DIR="$tmp/configs"
MOLECULE_TOKEN_CACHE_DIR="$tmp/cache"
GIT_CONFIG_GLOBAL="$tmp/gitconfig"
GIT_CONFIG_NOSYSTEM=1
GIT_TERMINAL_PROMPT=0
export PLATFORM_URL CONFIGS_DIR MOLECULE_TOKEN_CACHE_DIR GIT_CONFIG_GLOBAL GIT_CONFIG_NOSYSTEM GIT_TERMINAL_PROMPT

git config --global credential.https://github.com.helper "$helper"
echo "mock platform ($mock) at $PLATFORM_URL; git config: credential.https://github.com.helper=$helper"
printf '%s\n' '$ printf "url=https://github.com/molecule/demo.git\n\n" | git credential fill'
printf 'url=https://github.com/molecule/demo.git\n\n' | git credential fill
