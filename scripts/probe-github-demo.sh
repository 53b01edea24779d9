#!/bin/sh
# Show `status --probe` naming what a GitHub App lacks, against the bundled
# mocks: the mock platform hands out the token, the HTTPS mock GitHub (its
# test CA in SSL_CERT_FILE, reached by name through its CONNECT proxy in
# HTTPS_PROXY) accepts it for molecule/workspace, where the App may push and
# read pull requests but not issues; molecule/infra is not in the
# installation. This is the run quoted in the README ("When the App lacks a
# permission"). Everything lives in a temp directory removed at the end.
#
#   scripts/probe-github-demo.sh [PATH-TO-HELPER]   (default: the debug build)
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --locked --manifest-path "$here/Cargo.toml" \
    --bin molecule-git-token-helper --example mock-platform --example mock-github
helper=${1:-$here/target/debug/molecule-git-token-helper}
[ -x "$helper" ] || { echo "probe-github-demo.sh: no helper at $helper" >&2; exit 1; }

tmp=$(mktemp -d)
pids=
cleanup() {
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# Wait for a mock's port file.
wait_for() {
    i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1)); [ $i -le 100 ] || { echo "probe-github-demo.sh: $2 did not start" >&2; exit 1; }
        sleep 0.1
    done
}

mkdir -p "$tmp/configs" "$tmp/ca"
(umask 077; printf 'demo-bearer-%s\n' "$$" > "$tmp/configs/.auth_token")
"$here/target/debug/examples/mock-platform" --port 0 --port-file "$tmp/platform-port" \
    --bearer-file "$tmp/configs/.auth_token" --quiet &
pids="$pids $!"
wait_for "$tmp/platform-port" "the mock platform"

PLATFORM_URL="http://127.0.0.1:$(cat "$tmp/platform-port")"
CONFIGS_DIR="$tmp/configs"
MOLECULE_TOKEN_CACHE_DIR="$tmp/cache"
GIT_CONFIG_GLOBAL="$tmp/gitconfig"
GIT_CONFIG_NOSYSTEM=1
export PLATFORM_URL CONFIGS_DIR MOLECULE_TOKEN_CACHE_DIR GIT_CONFIG_GLOBAL GIT_CONFIG_NOSYSTEM
"$helper" configure >/dev/null

# The token git gets (now cached) is the one the mock GitHub accepts.
(umask 077; "$helper" fetch-token > "$tmp/token")
"$here/target/debug/examples/mock-github" --port-file "$tmp/github-port" --dir "$tmp/ca" \
    --proxy-port 0 --token-file "$tmp/token" --quiet \
    --repo molecule/workspace=contents=write,pulls=read,issues=none \
    --repo molecule/docs 2>"$tmp/github.log" &
pids="$pids $!"
wait_for "$tmp/github-port" "the mock GitHub"
# Its banner names the proxy (the CA is in --dir).
i=0
until grep -q '^CONNECT proxy: ' "$tmp/github.log"; do
    i=$((i + 1)); [ $i -le 100 ] || { echo "probe-github-demo.sh: no proxy in the mock's banner" >&2; exit 1; }
    sleep 0.1
done
HTTPS_PROXY=$(sed -n 's/^CONNECT proxy: //p' "$tmp/github.log")
SSL_CERT_FILE=$(sed -n 's/^CA certificate: //p' "$tmp/github.log")
export HTTPS_PROXY SSL_CERT_FILE

run() {
    echo "\$ molecule-git-token-helper $*"
    "$helper" "$@" || echo "(exit $?)"
    echo
}
run status --probe --probe-repo molecule/workspace
run status --probe --probe-repo molecule/infra
