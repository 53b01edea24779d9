#!/bin/sh
# Every test, as the README gives it: first the tools the tests drive (the
# real gh, git-lfs, strace, setpriv; scripts/test-deps.sh installs what is
# missing when run as root, or names the install command and stops), then
# `cargo test --locked` with any arguments given here.
#
#   scripts/test.sh [CARGO TEST ARGS…]
set -eu
cd "$(dirname "$0")/.."
scripts/test-deps.sh
exec cargo test --locked "$@"
