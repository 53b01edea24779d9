#!/bin/sh
# Install molecule-git-token-helper: the static binary, its man page,
# bash, zsh and fish completions, and the shell-init scripts.
#
#   ./install.sh [--prefix DIR] [--configure] [--gh-proxy] [--demo] [--binary PATH | --archive FILE]
#   ./install.sh --uninstall [--prefix DIR] [--configure]
#
# --prefix DIR   install under DIR (default: $PREFIX, else /usr/local; use
#                ~/.local to install without root):
#                  DIR/bin/molecule-git-token-helper
#                  DIR/share/man/man1/molecule-git-token-helper.1
#                  DIR/share/bash-completion/completions/molecule-git-token-helper
#                  DIR/share/zsh/site-functions/_molecule-git-token-helper
#                  DIR/share/fish/vendor_completions.d/molecule-git-token-helper.fish
#                  DIR/share/molecule-git-token-helper/env.bash, env.zsh, env.fish
#                    (`shell-init bash|zsh|fish`: env.bash is the BASH_ENV of an
#                    entrypoint that starts an agent)
# --configure    then register the installed helper in git's global config
#                (`molecule-git-token-helper configure --global`); with
#                --uninstall, first remove it from there (`unconfigure --global`)
# --gh-proxy     also link DIR/bin/gh to the helper, the gh proxy that gives gh
#                a fresh token (`configure --global --gh-proxy DIR/bin`; implies
#                --configure; refused unless DIR/bin is on PATH before the real
#                gh). --uninstall removes that link whenever it points at the helper
# --demo         then show the installed helper answering `git credential fill`
#                against the bundled mock platform (nothing outside a temp
#                directory is touched). The mock is built with cargo, even
#                with --binary or --archive, unless MOCK_PLATFORM names a
#                mock-platform built elsewhere (`cargo build --example
#                mock-platform`)
# --binary PATH  install this binary instead of building one (no cargo needed)
# --archive FILE install from a release tarball (scripts/release.sh's
#                molecule-git-token-helper-VERSION-x86_64-linux.tar.gz), no
#                cargo needed: FILE is first checked against the SHA256SUMS
#                beside it, and a mismatch or a missing entry installs nothing
# --uninstall    remove exactly the files above, and nothing else (directories
#                stay); git's config is left alone unless --configure is given
#
# Without --binary or --archive it builds the static release binary with
# scripts/build-release.sh (cargo; minutes the first time, seconds after).
# Every file is written beside its target and renamed over it, so running
# this again, or while the helper runs, is safe.
set -eu

name=molecule-git-token-helper
prefix=${PREFIX:-/usr/local}
configure=0
gh_proxy=0
demo=0
uninstall=0
binary=
archive=

usage() { sed -n '2,/^set -eu$/{/^set -eu$/d;s/^# \{0,1\}//;p;}' "$0"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --binary) [ $# -ge 2 ] || die "--binary needs a path"; binary=$2; shift 2 ;;
        --binary=*) binary=${1#--binary=}; shift ;;
        --archive) [ $# -ge 2 ] || die "--archive needs a file"; archive=$2; shift 2 ;;
        --archive=*) archive=${1#--archive=}; shift ;;
        --configure) configure=1; shift ;;
        --gh-proxy) gh_proxy=1; configure=1; shift ;;
        --uninstall) uninstall=1; shift ;;
        --demo) demo=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done
[ -n "$prefix" ] || die "--prefix needs a directory"
[ "$uninstall" = 0 ] || [ "$demo" = 0 ] || die "--demo and --uninstall do not go together"
[ "$uninstall" = 0 ] || [ -z "$binary" ] || die "--binary and --uninstall do not go together"
[ "$uninstall" = 0 ] || [ -z "$archive" ] || die "--archive and --uninstall do not go together"
[ -z "$binary" ] || [ -z "$archive" ] || die "--binary and --archive do not go together"
# Refuse now, not after installing: the demo's mock platform is built with
# cargo, which --binary otherwise does without.
if [ "$demo" = 1 ] && [ -z "${MOCK_PLATFORM:-}" ] && ! command -v "${CARGO:-cargo}" >/dev/null 2>&1; then
    die "--demo builds the mock platform with cargo, which was not found: install the Rust toolchain (https://rustup.rs), leave out --demo, or set MOCK_PLATFORM to a mock-platform built elsewhere"
fi
case $prefix in  # a literal ~ (from --prefix=~/.local, say)
    \~) prefix=$HOME ;;
    \~/*) prefix=$HOME/${prefix#\~/} ;;
esac

here=$(cd "$(dirname "$0")" && pwd)

# The files, relative to the prefix.
bin_file=bin/$name
man_file=share/man/man1/$name.1
bash_file=share/bash-completion/completions/$name
zsh_file=share/zsh/site-functions/_$name
fish_file=share/fish/vendor_completions.d/$name.fish
env_bash_file=share/$name/env.bash
env_zsh_file=share/$name/env.zsh
env_fish_file=share/$name/env.fish

if [ "$uninstall" = 1 ]; then
    if [ ! -d "$prefix" ]; then
        printf 'nothing to remove: %s does not exist\n' "$prefix"
        exit 0
    fi
    prefix=$(cd "$prefix" && pwd)
    if [ "$configure" = 1 ]; then
        if [ -x "$prefix/$bin_file" ]; then
            "$prefix/$bin_file" unconfigure --global ||
                die "unconfigure failed; nothing was removed"
            printf 'removed the helper from git'\''s global config\n'
        else
            printf 'no %s to run unconfigure with; git'\''s config left alone\n' "$prefix/$bin_file" >&2
        fi
    fi
    removed=0
    # The gh proxy's link, if it points at the helper being removed.
    if [ -L "$prefix/bin/gh" ] &&
        [ "$(readlink -f "$prefix/bin/gh")" = "$(readlink -f "$prefix/$bin_file")" ]; then
        rm -f "$prefix/bin/gh"
        printf 'removed %s\n' "$prefix/bin/gh"
        removed=$((removed + 1))
    fi
    for f in "$bin_file" "$man_file" "$bash_file" "$zsh_file" "$fish_file" \
        "$env_bash_file" "$env_zsh_file" "$env_fish_file"; do
        if [ -e "$prefix/$f" ] || [ -L "$prefix/$f" ]; then
            rm -f "$prefix/$f"
            printf 'removed %s\n' "$prefix/$f"
            removed=$((removed + 1))
        fi
    done
    [ "$removed" -gt 0 ] || printf 'nothing to remove under %s\n' "$prefix"
    if [ "$configure" = 0 ] && command -v git >/dev/null 2>&1 &&
        git config --global --get-regexp '^credential\..*helper$' 2>/dev/null |
        grep -F -q "$prefix/$bin_file"; then
        printf 'note: git'\''s global config still names %s; run with --uninstall --configure to remove it\n' \
            "$prefix/$bin_file" >&2
    fi
    exit 0
fi

# Written beside the target, then renamed over it: no reader ever sees half
# a file. A temp file (or the archive's unpacked copy) left by a failure is
# removed on exit.
tmp=
unpacked=
trap 'if [ -n "$tmp" ]; then rm -f "$tmp"; fi; if [ -n "$unpacked" ]; then rm -rf "$unpacked"; fi' EXIT
trap 'exit 1' HUP INT TERM

man_page=$here/man/$name.1
if [ -n "$archive" ]; then
    [ -f "$archive" ] || die "--archive: no file at $archive"
    sums=$(dirname "$archive")/SHA256SUMS
    [ -f "$sums" ] || die "--archive: no $sums beside $archive to check it against; nothing installed"
    command -v sha256sum >/dev/null 2>&1 || die "--archive: sha256sum not found (coreutils); nothing installed"
    base=$(basename "$archive")
    # SHA256SUMS lines: HASH, two spaces (or a space and *), the file name.
    want=$(awk -v f="$base" '$2 == f || $2 == "*" f { print $1; exit }' "$sums")
    [ -n "$want" ] || die "--archive: $sums has no entry for $base; nothing installed"
    got=$(sha256sum <"$archive" | cut -d ' ' -f 1)
    [ "$got" = "$want" ] ||
        die "--archive: $archive does not match its SHA-256 in $sums (got $got, want $want); nothing installed"
    unpacked=$(mktemp -d) || die "cannot make a temp directory"
    tar -xzf "$archive" -C "$unpacked" --no-same-owner ||
        die "--archive: cannot unpack $archive; nothing installed"
    binary=$unpacked/$bin_file
    man_page=$unpacked/$man_file
    if [ ! -f "$binary" ] || [ ! -x "$binary" ] || [ ! -f "$man_page" ]; then
        die "--archive: $archive holds no $bin_file and $man_file (not a release tarball?); nothing installed"
    fi
elif [ -n "$binary" ]; then
    case $binary in */*) ;; *) binary=./$binary ;; esac  # a file, not a command on PATH
    if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
        die "--binary: no executable file at $binary"
    fi
else
    command -v "${CARGO:-cargo}" >/dev/null 2>&1 ||
        die "cargo not found: install the Rust toolchain (https://rustup.rs), or pass --binary PATH"
    printf 'building the static release binary (cargo; minutes the first time)...\n'
    out=$("$here/scripts/build-release.sh") || die "the build failed (see above)"
    binary=$(printf '%s\n' "$out" | tail -n 1)
fi
version=$("$binary" --version) || die "$binary does not run"

mkdir -p "$prefix" || die "cannot create $prefix (try --prefix ~/.local)"
prefix=$(cd "$prefix" && pwd)

# put FILE MODE COMMAND...: FILE (under the prefix) gets COMMAND's stdout.
put() {
    dest=$prefix/$1 mode=$2
    shift 2
    mkdir -p "$(dirname "$dest")" || die "cannot create $(dirname "$dest") (try --prefix ~/.local)"
    tmp=$(dirname "$dest")/.$(basename "$dest").tmp.$$
    "$@" >"$tmp" || die "cannot write $dest"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$dest"
    tmp=
}

put "$bin_file" 0755 cat "$binary"
put "$man_file" 0644 cat "$man_page"
# Generated by the installed binary, so they match it.
put "$bash_file" 0644 "$prefix/$bin_file" completions bash
put "$zsh_file" 0644 "$prefix/$bin_file" completions zsh
put "$fish_file" 0644 "$prefix/$bin_file" completions fish
# The shell-init scripts name the installed binary by its path.
put "$env_bash_file" 0644 "$prefix/$bin_file" shell-init bash
put "$env_zsh_file" 0644 "$prefix/$bin_file" shell-init zsh
put "$env_fish_file" 0644 "$prefix/$bin_file" shell-init fish

printf 'installed %s (%s)\n' "$prefix/$bin_file" "$version"
printf 'installed the man page and bash, zsh and fish completions under %s/share\n' "$prefix"
printf 'installed the shell-init scripts under %s/share/%s (BASH_ENV=%s)\n' "$prefix" "$name" "$prefix/$env_bash_file"
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) printf 'note: %s is not on your PATH\n' "$prefix/bin" ;;
esac

if [ "$configure" = 1 ]; then
    set --  # the gh proxy's link too, with --gh-proxy
    [ "$gh_proxy" = 0 ] || set -- --gh-proxy "$prefix/bin"
    "$prefix/$bin_file" configure --global "$@" || die "configure failed"
    printf 'registered %s in git'\''s global config\n' "$prefix/$bin_file"
fi

if [ "$demo" = 1 ]; then
    exec "$here/scripts/demo.sh" "$prefix/$bin_file"
fi
