#!/bin/sh
# Show the helper serving `git credential fill` against the bundled mock
# platform. Everything lives in a temp directory that is removed at the end.
#
#   scripts/demo.sh [PATH-TO-HELPER]   (default: the static release build)
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ge 1 ]; then
    helper=$1
else
    out=$("$here/scripts/build-release.sh")
    helper=$(printf '%s\n' "$out" | tail -n 1)
fi
[ -x "$helper" ] || { echo "demo.sh: no helper at $helper (run ./install.sh first)" >&2; exit 1; }

# The mock is a test fixture: a debug build is quick, and `cargo test` has
# usually built it already.
cargo build --quiet --locked --manifest-path "$here/Cargo.toml" --example mock-platform
tmp=$(mktemp -d)
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mkdir -p "$tmp/configs"
(umask 077; printf 'demo-bearer-%s\n' "$$" > "$tmp/configs/.auth_token")
"$here/target/debug/examples/mock-platform" --port 0 --port-file "$tmp/port" \
    --bearer-file "$tmp/configs/.auth_token" --quiet &
mock_pid=$!
# The mock writes its port once it listens; a script may poll for it.
i=0
while [ ! -s "$tmp/port" ]; do
    i=$((i + 1)); [ $i -le 100 ] || { echo "demo.sh: the mock platform did not start" >&2; exit 1; }
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
echo "mock platform at $PLATFORM_URL; git config: credential.https://github.com.helper=$helper"
printf '%s\n' '$ printf "url=https://github.com/molecule/demo.git\n\n" | git credential fill'
printf 'url=https://github.com/molecule/demo.git\n\n' | git credential fill
