# shellcheck shell=bash
# molecule-git-token-helper for bash: keeps GH_TOKEN and GITHUB_TOKEN (and
# GH_ENTERPRISE_TOKEN, GITHUB_ENTERPRISE_TOKEN when an Enterprise host is
# served) holding the platform's current token, in this shell and in every
# command it starts. Print it with `molecule-git-token-helper shell-init bash`.
#
#   ~/.bashrc:   eval "$(molecule-git-token-helper shell-init bash)"
#   entrypoint:  export BASH_ENV=/usr/local/share/molecule-git-token-helper/env.bash
#
# Sourced, it updates the variables at once; in an interactive shell, again
# before each prompt (a hook put first in PROMPT_COMMAND, string or array,
# which keeps the user's commands and the last command's exit status; bash
# has no pre-command hook that can set a variable short of the DEBUG trap,
# which belongs to the user, so a command runs with the token of the prompt
# it was typed at, good for at least the refresh window then). As
# BASH_ENV, bash reads it before every non-interactive `bash -c`, so each
# command an agent runs starts with a live token. Silent while it works; a
# failure leaves the variables alone and prints one line, once until the
# next success (the helper remembers it). The token is never in an argv:
# the helper prints assignments and this shell evaluates them.

# The helper to run, with its settings (shell-init writes this line above).
if [[ -z ${__molecule_helper+set} ]]; then
    __molecule_helper=(molecule-git-token-helper)
fi

__molecule_token_update() {
    # `bash -x` must not trace the assignments: options are restored on return.
    local - __molecule_out
    set +x
    if __molecule_out=$("${__molecule_helper[@]}" env --shell bash --hook); then
        eval "$__molecule_out"
    fi
    return 0
}

__molecule_token_hook() {
    local status=$?
    __molecule_token_update
    return "$status"
}

__molecule_token_update

if [[ $- == *i* ]]; then
    if [[ -v PROMPT_COMMAND && ${PROMPT_COMMAND@a} == *a* ]]; then
        # bash 5.1 and later: PROMPT_COMMAND may be an array of commands.
        if [[ " ${PROMPT_COMMAND[*]} " != *" __molecule_token_hook "* ]]; then
            PROMPT_COMMAND=(__molecule_token_hook "${PROMPT_COMMAND[@]}")
        fi
    elif [[ ${PROMPT_COMMAND:-} != *__molecule_token_hook* ]]; then
        # A string here (the branch above took the array); first, so that a
        # user's command ending in `;` cannot make the line a syntax error.
        # shellcheck disable=SC2128,SC2178
        PROMPT_COMMAND="__molecule_token_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
    fi
fi
