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
    # The token must not reach stderr: not through `bash -x` (xtrace), not
    # through `bash -v`, `set -v` or an inherited SHELLOPTS=verbose (which
    # print what eval reads), and not through a user's DEBUG trap (with
    # `set -T`, it sees each command's text in BASH_COMMAND). So options
    # are restored on return, and nothing is eval'd: each of the helper's
    # `export NAME='VALUE'` lines is taken apart, and the value assigned
    # from a variable, so no command's text holds it.
    local - __molecule_out __molecule_line
    set +xv
    __molecule_out=$("${__molecule_helper[@]}" env --shell bash --hook) || return 0
    while [[ -n $__molecule_out ]]; do
        __molecule_line=${__molecule_out%%$'\n'*}
        if [[ $__molecule_out == *$'\n'* ]]; then
            __molecule_out=${__molecule_out#*$'\n'}
        else
            __molecule_out=
        fi
        # (A token holds no quote: the helper validates it.)
        if [[ $__molecule_line =~ ^export\ ([A-Za-z_][A-Za-z0-9_]*)=\'([^\']*)\'$ ]]; then
            __molecule_token_set "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
        fi
    done
    return 0
}

# NAME VALUE: export NAME=VALUE. A read-only NAME (`readonly GH_TOKEN`)
# is left alone with one line, once in this shell, not at every prompt.
__molecule_token_set() {
    if ! declare -gx "$1=$2" 2>/dev/null; then
        if [[ -z ${__molecule_token_readonly-} ]]; then
            __molecule_token_readonly=$1
            printf 'molecule-git-token-helper: %s is read-only in this shell: not updating it\n' "$1" >&2
        fi
    fi
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
