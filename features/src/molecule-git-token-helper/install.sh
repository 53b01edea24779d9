#!/bin/sh
# The Dev Container Feature's installer: run as root while the image is built
# (the devcontainer CLI runs it with the options of devcontainer-feature.json
# as upper-cased variables, and _REMOTE_USER, _REMOTE_USER_HOME). It needs no
# network: scripts/release.sh packs this Feature with the release tarball,
# its SHA256SUMS entry, and the repository's install.sh (install-helper.sh).
#
# It installs under /usr/local (install.sh --archive, which checks the
# tarball first), writes the shell-init scripts with the options' settings
# (containerEnv's BASH_ENV names env.bash), makes the gh proxy's link when
# ghProxy is on, and writes devcontainer-start.sh: the postStartCommand, run
# as the remote user at each start, that registers the helper in git's global
# config (`configure` with the options as flags; running it again changes
# nothing). An image started without the devcontainer lifecycle runs that
# script from its entrypoint, as the user.
set -eu

name=molecule-git-token-helper
prefix=/usr/local
here=$(cd "$(dirname "$0")" && pwd)
die() { printf 'molecule-git-token-helper feature: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "install.sh runs as root at image build (it runs as $(id -un))"
case $(uname -m) in
    x86_64 | amd64) ;;
    *) die "the release binary is for x86_64 Linux; this image is $(uname -m)" ;;
esac

# The options, as the devcontainer CLI passes them (defaults as in
# devcontainer-feature.json when it does not).
GHPROXY=${GHPROXY:-false}
SHELLINIT=${SHELLINIT:-false}
SECRETHOSTS=${SECRETHOSTS:-}
HOSTS=${HOSTS:-}
PLATFORMURL=${PLATFORMURL:-}
CONFIGSDIR=${CONFIGSDIR:-}
CACHEDIR=${CACHEDIR:-}
NOCACHE=${NOCACHE:-false}
TIMEOUT=${TIMEOUT:-}
REFRESHWINDOW=${REFRESHWINDOW:-}
remote_user=${_REMOTE_USER:-root}

is_true() {
    case $1 in
        true) return 0 ;;
        false | '') return 1 ;;
        *) die "$2 is '$1': true or false" ;;
    esac
}

# q WORD: WORD quoted for sh.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# The settings given as flags, quoted for sh: written into the shell-init
# scripts and into configure's line (so into git's config) alike.
settings=
add() { settings="$settings $1 $(q "$2")"; }
old_ifs=$IFS
IFS=,
for h in $HOSTS; do [ -z "$h" ] || add --host "$h"; done
for s in $SECRETHOSTS; do [ -z "$s" ] || add --secret-host "$s"; done
IFS=$old_ifs
[ -z "$PLATFORMURL" ] || add --platform-url "$PLATFORMURL"
[ -z "$CONFIGSDIR" ] || add --configs-dir "$CONFIGSDIR"
[ -z "$CACHEDIR" ] || add --cache-dir "$CACHEDIR"
[ -z "$TIMEOUT" ] || add --timeout "$TIMEOUT"
[ -z "$REFRESHWINDOW" ] || add --refresh-window "$REFRESHWINDOW"
if is_true "$NOCACHE" noCache; then settings="$settings --no-cache"; fi
configure_flags=$settings
if is_true "$GHPROXY" ghProxy; then configure_flags="$configure_flags --gh-proxy"; fi
if is_true "$SHELLINIT" shellInit; then configure_flags="$configure_flags --shell-init"; fi

id "$remote_user" >/dev/null 2>&1 || die "_REMOTE_USER $remote_user is not a user of this image"

# The tarball packed with this Feature, checked against its SHA256SUMS
# and installed by install.sh --archive (each file renamed into place).
set -- "$here"/"$name"-*-x86_64-linux.tar.gz
if [ $# != 1 ] || [ ! -f "$1" ]; then
    die "no single release tarball beside $0 (was the Feature packed by scripts/release.sh?)"
fi
sh "$here/install-helper.sh" --archive "$1" --prefix "$prefix"
helper=$prefix/bin/$name

# put FILE MODE COMMAND...: FILE gets COMMAND's stdout, renamed into place.
put() {
    dest=$1 mode=$2
    shift 2
    tmp=$dest.tmp.$$
    "$@" >"$tmp" || { rm -f "$tmp"; die "cannot write $dest"; }
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$dest"
}

# The shell-init scripts with the settings (BASH_ENV is env.bash); the
# helper checks them here, at build, rather than at the first start.
# shellcheck disable=SC2034 # shell is used inside the eval
for shell in bash zsh fish; do
    eval "put \"\$prefix/share/\$name/env.\$shell\" 0644 \"\$helper\" shell-init \"\$shell\" $settings"
done

if is_true "$GHPROXY" ghProxy; then
    # The link `configure --gh-proxy` makes, made here because the remote
    # user cannot write /usr/local/bin; at start configure finds it there.
    link=$prefix/bin/gh
    if [ -L "$link" ] && [ "$(readlink -f "$link")" = "$(readlink -f "$helper")" ]; then
        :
    elif [ -e "$link" ] || [ -L "$link" ]; then
        die "$link exists and is not the gh proxy (the real gh?): it must stay after $prefix/bin on PATH"
    else
        ln -s "$helper" "$link"
    fi
fi

# The start-up step: configure as the remote user, with the options.
start=$prefix/share/$name/devcontainer-start.sh
write_start() {
    printf '#!/bin/sh\n'
    printf '# Written by the molecule-git-token-helper Dev Container Feature: its\n'
    printf '# postStartCommand, run at each container start as the remote user\n'
    printf '# (%s at build). configure registers the helper in git'\''s global config;\n' "$remote_user"
    printf '# running it again changes nothing.\n'
    printf 'exec %s configure%s\n' "$(q "$helper")" "$configure_flags"
}
put "$start" 0755 write_start

printf 'molecule-git-token-helper feature: installed %s (%s); at each start %s runs %s\n' \
    "$helper" "$("$helper" --version)" "$remote_user" "$start"
