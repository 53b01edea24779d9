# molecule-git-token-helper for fish: keeps GH_TOKEN and GITHUB_TOKEN (and
# GH_ENTERPRISE_TOKEN, GITHUB_ENTERPRISE_TOKEN when an Enterprise host is
# served) holding the platform's current token, in this shell and in every
# command it starts. Print it with `molecule-git-token-helper shell-init fish`.
#
#   ~/.config/fish/config.fish:   molecule-git-token-helper shell-init fish | source
#
# Sourced, it updates the variables at once; in an interactive shell, again
# before each prompt and before each command line runs (a handler of the
# fish_prompt and fish_preexec events, beside the user's own), so a command
# typed at a prompt drawn long ago still starts with a live token.
# Silent while it works; a failure leaves the variables alone and prints one
# line, once until the next success (the helper remembers it). The token is
# never in an argv: the helper prints assignments and this shell sources them.

# The helper to run, with its settings (shell-init writes this line above).
set -q __molecule_helper; or set -g __molecule_helper molecule-git-token-helper

function __molecule_token_update --on-event fish_prompt --on-event fish_preexec
    # Tracing (fish_trace) must not show the assignments.
    set -l fish_trace
    $__molecule_helper env --shell fish --hook | source
end

__molecule_token_update
