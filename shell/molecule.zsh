# molecule-git-token-helper for zsh: keeps GH_TOKEN and GITHUB_TOKEN (and
# GH_ENTERPRISE_TOKEN, GITHUB_ENTERPRISE_TOKEN when an Enterprise host is
# served) holding the platform's current token, in this shell and in every
# command it starts. Print it with `molecule-git-token-helper shell-init zsh`.
#
#   ~/.zshrc:   eval "$(molecule-git-token-helper shell-init zsh)"
#
# Sourced, it updates the variables at once; in an interactive shell, again
# before each prompt and before each command line runs (precmd and preexec
# hooks added with add-zsh-hook, beside the user's own), so a command typed
# at a prompt drawn long ago still starts with a live token. Silent while it works; a failure leaves the variables alone
# and prints one line, once until the next success (the helper remembers
# it). The token is never in an argv: the helper prints assignments and this
# shell evaluates them.

# The helper to run, with its settings (shell-init writes this line above).
(( ${+__molecule_helper} )) || typeset -ga __molecule_helper=(molecule-git-token-helper)

__molecule_token_update() {
    # `zsh -x` must not trace the assignments: options are restored on return.
    emulate -L zsh
    setopt no_xtrace
    local __molecule_out
    if __molecule_out=$("${__molecule_helper[@]}" env --shell zsh --hook); then
        eval "$__molecule_out"
    fi
    return 0
}

__molecule_token_update

if [[ -o interactive ]]; then
    autoload -Uz add-zsh-hook
    add-zsh-hook precmd __molecule_token_update
    add-zsh-hook preexec __molecule_token_update
fi
