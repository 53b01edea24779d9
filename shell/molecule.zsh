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
    # The token must not reach stderr: not through `zsh -x` (xtrace), not
    # through `zsh -v` or `setopt verbose` (which print what eval reads),
    # and not through a user's DEBUG trap (which sees each command's text
    # in ZSH_DEBUG_CMD). So options are restored on return, and nothing is
    # eval'd: each of the helper's `export NAME='VALUE'` lines is taken
    # apart, and the value assigned from a variable.
    emulate -L zsh
    setopt no_xtrace no_verbose
    local __molecule_out __molecule_line match mbegin mend
    __molecule_out=$("${__molecule_helper[@]}" env --shell zsh --hook) || return 0
    for __molecule_line in "${(@f)__molecule_out}"; do
        # (A token holds no quote: the helper validates it.)
        if [[ $__molecule_line =~ "^export ([A-Za-z_][A-Za-z0-9_]*)='([^']*)'\$" ]]; then
            __molecule_token_set "${match[1]}" "${match[2]}"
        fi
    done
    return 0
}

# NAME VALUE: export NAME=VALUE. A read-only NAME (`readonly GH_TOKEN`)
# is left alone with one line, once in this shell, not at every prompt
# (assigning it would end the whole command line).
__molecule_token_set() {
    emulate -L zsh
    if [[ ${(tP)1} == *readonly* ]]; then
        if (( ! ${+__molecule_token_readonly} )); then
            typeset -g __molecule_token_readonly=$1
            print -ru2 -- "molecule-git-token-helper: $1 is read-only in this shell: not updating it"
        fi
        return 0
    fi
    typeset -gx "$1=$2"
}

__molecule_token_update

if [[ -o interactive ]]; then
    autoload -Uz add-zsh-hook
    add-zsh-hook precmd __molecule_token_update
    add-zsh-hook preexec __molecule_token_update
fi
