#!/bin/bash
# shellcheck disable=SC2016 # the checks' bash -c expands them
# The Feature with its default options (the devcontainer CLI's default test),
# run as the remote user after the container started (postStartCommand ran),
# in a workspace whose environment names the platform (PLATFORM_URL,
# CONFIGS_DIR) and still holds the stale container-start GH_TOKEN.
set -e

# shellcheck source=/dev/null # the devcontainer CLI provides it
source dev-container-features-test-lib

helper=/usr/local/bin/molecule-git-token-helper
check "the helper runs" "$helper" --version
check "it is on PATH" bash -c '[ "$(command -v molecule-git-token-helper)" = /usr/local/bin/molecule-git-token-helper ]'
check "its man page" test -f /usr/local/share/man/man1/molecule-git-token-helper.1
check "git's global config names it for github.com" bash -c \
    'git config --global --get-all credential.https://github.com/.helper | grep -q "^/usr/local/bin/molecule-git-token-helper"'
check "git credential fill is served by the platform" bash -c \
    '[ "$(printf "url=https://github.com/molecule/demo.git\n\n" | git credential fill | sed -n "s/^password=//p")" = "$(molecule-git-token-helper fetch-token)" ]'
check "BASH_ENV gives every bash -c the current token" bash -c \
    '[ "$(GH_TOKEN=stale-start-token bash -c "printf %s \"\$GH_TOKEN\"")" = "$(molecule-git-token-helper fetch-token)" ]'
check "no gh proxy unless asked" test ! -e /usr/local/bin/gh

reportResults
