#!/bin/sh
# Make sure the tools the integration tests drive are installed: the real gh
# (tests/it/gh.rs, mock_github.rs, life.rs), git-lfs (git_server.rs,
# life.rs), strace and setpriv (hardening.rs), and for shells.rs the shells
# (bash, zsh, fish, dash as sh), tmux (their pseudo-terminal) and shellcheck
# (the lint of shell/molecule.bash), openssl (journal.rs computes the audit
# log's hashed_token as GitHub documents it), and for clients.rs the package
# managers that fetch git dependencies (npm, pip, go; cargo is the
# toolchain's). Quiet and exit 0 when they are there;
# otherwise installs them with apt-get when run as root, or exits 1 naming
# the command to run.
#
#   scripts/test-deps.sh
set -eu

missing=
command -v gh >/dev/null 2>&1 || missing="$missing gh"
command -v git-lfs >/dev/null 2>&1 || missing="$missing git-lfs"
command -v strace >/dev/null 2>&1 || missing="$missing strace"
command -v setpriv >/dev/null 2>&1 || missing="$missing util-linux"
for tool in bash zsh fish dash tmux shellcheck curl npm openssl; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
command -v go >/dev/null 2>&1 || missing="$missing golang-go"
python3 -m pip --version >/dev/null 2>&1 || missing="$missing python3-pip"
command -v timeout >/dev/null 2>&1 || missing="$missing coreutils"
[ -z "$missing" ] && exit 0

install="apt-get install -y$missing"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test-deps.sh: missing:$missing; install with: sudo $install" >&2
    exit 1
fi
echo "test-deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh container has no package lists yet: update once if the install fails.
apt-get install -y -qq $missing >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null; }
for package in $missing; do
    tool=$package
    case $package in
    util-linux) tool=setpriv ;;
    golang-go) tool=go ;;
    python3-pip) python3 -m pip --version >/dev/null 2>&1 && continue; tool=pip ;;
    esac
    command -v "$tool" >/dev/null 2>&1 || { echo "test-deps.sh: $tool still missing after: $install" >&2; exit 1; }
done
