#!/bin/bash
# shellcheck disable=SC2016 # the checks' bash -c expands them
# Scenario "secret_host": secretHosts=git.example.test=GITEA_TOKEN, the token
# in CONFIGS_DIR/secrets.d/GITEA_TOKEN.
set -e

# shellcheck source=/dev/null # the devcontainer CLI provides it
source dev-container-features-test-lib

check "git's config serves git.example.test with --secret-host" bash -c \
    'git config --global --get-all credential.https://git.example.test/.helper | grep -q -- "--secret-host git.example.test=GITEA_TOKEN"'
check "git credential fill for it answers with the secret" bash -c \
    '[ "$(printf "url=https://git.example.test/team/repo.git\n\n" | git credential fill | sed -n "s/^password=//p")" = "$(cat "$CONFIGS_DIR/secrets.d/GITEA_TOKEN")" ]'
check "github.com is still served by the platform" bash -c \
    '[ "$(printf "url=https://github.com/molecule/demo.git\n\n" | git credential fill | sed -n "s/^password=//p")" = "$(molecule-git-token-helper fetch-token)" ]'
check "env.bash runs the helper with --secret-host" grep -q -- "--secret-host" /usr/local/share/molecule-git-token-helper/env.bash

reportResults
