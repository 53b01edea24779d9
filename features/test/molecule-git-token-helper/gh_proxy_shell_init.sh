#!/bin/bash
# shellcheck disable=SC2016 # the checks' bash -c expands them
# Scenario "gh_proxy_shell_init": ghProxy and shellInit on.
set -e

# shellcheck source=/dev/null # the devcontainer CLI provides it
source dev-container-features-test-lib

check "gh on PATH is the proxy" bash -c \
    '[ "$(readlink -f "$(command -v gh)")" = /usr/local/bin/molecule-git-token-helper ]'
check "gh gets the current token, not the stale GH_TOKEN" bash -c \
    '[ "$(GH_TOKEN=stale-start-token gh auth token)" = "$(molecule-git-token-helper fetch-token)" ]'
check "the user's .bashrc sources shell-init" grep -q '^# >>> molecule-git-token-helper shell-init >>>' "$HOME/.bashrc"
check "an interactive bash has the current token" bash -c \
    '[ "$(GH_TOKEN=stale-start-token BASH_ENV= bash -ic "printf %s \"\$GH_TOKEN\"" 2>/dev/null)" = "$(molecule-git-token-helper fetch-token)" ]'
check "git credential fill is served by the platform" bash -c \
    '[ "$(printf "url=https://github.com/molecule/demo.git\n\n" | git credential fill | sed -n "s/^password=//p")" = "$(molecule-git-token-helper fetch-token)" ]'

reportResults
