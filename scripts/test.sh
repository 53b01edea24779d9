#!/bin/sh
# Every test, as the README gives it: first the tools the tests drive (the
# real gh, git-lfs, strace, setpriv, npm, pip, go; scripts/test-deps.sh
# installs what is missing when run as root, or names the install command
# and stops), then
# `cargo test --locked` with any arguments given here, with the default git
# (MOLECULE_TEST_GIT, else the first git on PATH); then the git-facing tests
# (tests/it, the life test included) again with each other git this machine
# has: Debian's /usr/bin/git and /usr/local/bin/git, when they differ.
#
#   scripts/test.sh [CARGO TEST ARGS…]
set -eu
cd "$(dirname "$0")/.."
scripts/test-deps.sh
default=${MOLECULE_TEST_GIT:-$(command -v git)}
echo "test.sh: all tests with $default ($("$default" --version))"
MOLECULE_TEST_GIT=$default cargo test --locked "$@"
for other in /usr/bin/git /usr/local/bin/git; do
    [ -x "$other" ] || continue
    [ "$(readlink -f "$other")" = "$(readlink -f "$default")" ] && continue
    echo "test.sh: the git-facing tests (tests/it) again with $other ($("$other" --version))"
    MOLECULE_TEST_GIT=$other cargo test --locked --test it "$@"
done
