#!/usr/bin/env bash
# Run the Dev Container Feature's tests as the devcontainer CLI would, without
# Docker: every scenario of features/test/molecule-git-token-helper/
# scenarios.json (SCENARIO.sh), and test.sh with the default options.
#
#   scripts/feature-test.sh [DIST]   (default: target/dist, from scripts/release.sh)
#
# For each one, a sandbox stands for the image: a mount namespace whose
# /usr/local, /etc and /home are overlays on this machine's (so nothing
# outside a temp directory changes). In it, as the CLI does:
#   - the packed Feature (DIST/devcontainer-feature-molecule-git-token-helper.tgz)
#     is unpacked, its options written to devcontainer-features.env as
#     upper-cased variables (the scenario's, else the defaults of
#     devcontainer-feature.json), and its install.sh run as root with them,
#     _REMOTE_USER a non-root user made for it, _REMOTE_USER_HOME its home,
#     and containerEnv's BASH_ENV;
#   - the container starts: postStartCommand (from devcontainer-feature.json)
#     runs as that user, in a workspace environment naming the mock platform
#     (PLATFORM_URL, CONFIGS_DIR holding the bearer and a Gitea secret) and
#     holding the stale container-start GH_TOKEN/GITHUB_TOKEN;
#   - the scenario's test script runs as that user, with a
#     dev-container-features-test-lib of the same check/reportResults.
# It proves the Feature's own files on this machine's Debian userland (git,
# gh, bash); it does not prove the CLI's image build (Dockerfile layers,
# other base images, the CLI's option parsing) or Docker's start-up.
#
# Needs root (unshare -m, overlayfs), jq, setpriv, useradd, and the mock
# platform (MOCK_PLATFORM, else built with cargo). Fails loudly; skips nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
name=molecule-git-token-helper
dist=${1:-$here/target/dist}
dist=$(cd "$dist" && pwd)
tests=$here/features/test/$name
user=mgth-dev
uid=4817

fail() { printf 'feature-test.sh: FAIL: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (a mount namespace and overlays stand for the image)"
for tool in jq setpriv useradd unshare tar; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found"
done
unshare -m true || fail "cannot make a mount namespace (unshare -m)"
feature_tgz=$dist/devcontainer-feature-$name.tgz
[ -f "$feature_tgz" ] || fail "no $feature_tgz: run scripts/release.sh first"
getent passwd "$uid" >/dev/null && fail "uid $uid is taken on this machine"

scratch=$(mktemp -d)
mock_pid=
cleanup() {
    if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT

# The mock platform, shared by the scenarios; its bearer and a Gitea secret.
mock=${MOCK_PLATFORM:-}
if [ -z "$mock" ]; then
    mock=$(cargo build --quiet --locked --manifest-path "$here/Cargo.toml" --example mock-platform \
        --message-format=json | jq -r 'select(.reason == "compiler-artifact" and .target.name == "mock-platform") | .executable' | tail -n 1)
fi
[ -x "$mock" ] || fail "no mock platform at '$mock'"
configs=$scratch/configs
mkdir -p "$configs/secrets.d"
bearer="feature-bearer-$RANDOM$RANDOM"
gitea="gitea-secret-$RANDOM$RANDOM"
(umask 077 && printf '%s\n' "$bearer" >"$configs/.auth_token" && printf '%s\n' "$gitea" >"$configs/secrets.d/GITEA_TOKEN")
chown -R "$uid:$uid" "$configs"
chmod 0700 "$configs" "$configs/secrets.d"
"$mock" --port 0 --port-file "$scratch/port" --bearer-file "$configs/.auth_token" --quiet &
mock_pid=$!
for _ in $(seq 100); do [ -s "$scratch/port" ] && break; sleep 0.1; done
[ -s "$scratch/port" ] || fail "the mock platform did not start"
platform_url=http://127.0.0.1:$(cat "$scratch/port")

# The CLI's test library: check LABEL COMMAND..., reportResults.
mkdir -p "$scratch/lib"
cat >"$scratch/lib/dev-container-features-test-lib" <<'EOF'
# shellcheck shell=bash
FAILED=()
check() {
    local label=$1
    shift
    echo "Testing '$label'..."
    if "$@"; then echo "✅ passed: $label"; else echo "❌ FAILED: $label" >&2; FAILED+=("$label"); fi
}
reportResults() {
    if [ ${#FAILED[@]} -ne 0 ]; then echo "❌ failed: ${FAILED[*]}" >&2; exit 1; fi
    echo "✅ all passed"
}
EOF

# The packed Feature's own metadata: what a devcontainer.json would get.
mkdir -p "$scratch/packed"
tar -xzf "$feature_tgz" -C "$scratch/packed"
feature_json=$scratch/packed/devcontainer-feature.json
post_start=$(jq -er '.postStartCommand' "$feature_json")
bash_env=$(jq -er '.containerEnv.BASH_ENV' "$feature_json")

# run_case LABEL TEST-SCRIPT OPTIONS-JSON
run_case() {
    local label=$1 script=$2 options=$3 box=$scratch/$1
    printf '\n--- %s (%s; options %s)\n' "$label" "$(basename "$script")" "$options"
    mkdir -p "$box/feature" "$box/logs"
    for d in usr-local etc home; do mkdir -p "$box/$d/upper" "$box/$d/work"; done
    tar -xzf "$feature_tgz" -C "$box/feature"
    # devcontainer-features.env: every option, the scenario's value or the default.
    jq -r --argjson given "$options" '.options | to_entries[]
        | "\(.key | gsub("[^A-Za-z0-9_]"; "_") | ascii_upcase)=\(($given[.key] // .value.default) | tostring | @sh)"' \
        "$feature_json" >"$box/feature/devcontainer-features.env"
    # The test folder, as the CLI copies it into the container.
    cp -R "$tests" "$box/tests"
    chmod -R a+rX "$box/feature" "$box/tests" "$scratch/lib"
    chmod a+x "$scratch" "$box"

    local rc=0
    unshare -m --propagation private bash -s "$box" "$user" "$uid" "$platform_url" "$configs" \
        "$post_start" "$bash_env" "$scratch/lib" "$(basename "$script")" <<'SANDBOX' || rc=$?
set -euo pipefail
box=$1 user=$2 uid=$3 platform_url=$4 configs=$5 post_start=$6 bash_env=$7 lib=$8 script=$9
for d in usr-local:/usr/local etc:/etc home:/home; do
    mount -t overlay overlay -o "lowerdir=${d#*:},upperdir=$box/${d%%:*}/upper,workdir=$box/${d%%:*}/work" "${d#*:}"
done
# The image's non-root remote user (the CLI's _REMOTE_USER).
useradd --create-home --home-dir "/home/$user" --shell /bin/bash --uid "$uid" --user-group "$user"
image_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

echo "[image build] install.sh as root, _REMOTE_USER=$user"
(cd "$box/feature" && env -i PATH="$image_path" HOME=/root BASH_ENV="$bash_env" \
    _REMOTE_USER="$user" _REMOTE_USER_HOME="/home/$user" _CONTAINER_USER=root _CONTAINER_USER_HOME=/root \
    timeout 120 bash -c 'set -a; . ./devcontainer-features.env; set +a; chmod +x install.sh && ./install.sh') \
    2> >(tee "$box/logs/install.err" >&2)
echo "[image build] the Feature wrote, under /usr/local:"
(cd "$box/usr-local/upper" && find . -type f -o -type l | sort | sed 's|^\.|  /usr/local|')

# The workspace's environment at start: the platform, and the stale token.
as_user() {
    setpriv --reuid "$uid" --regid "$uid" --init-groups \
        env -i HOME="/home/$user" USER="$user" LOGNAME="$user" SHELL=/bin/bash PATH="$image_path:$lib" \
        BASH_ENV="$bash_env" PLATFORM_URL="$platform_url" CONFIGS_DIR="$configs" \
        GH_TOKEN=stale-start-token GITHUB_TOKEN=stale-start-token GIT_TERMINAL_PROMPT=0 \
        "$@"
}
echo "[container start] postStartCommand as $user: $post_start"
(cd "/home/$user" && as_user timeout 60 /bin/sh -c "$post_start") 2> >(tee "$box/logs/start.err" >&2)
echo "[test] $script as $user"
(cd "/home/$user" && as_user timeout 120 bash "$box/tests/$script") 2> >(tee "$box/logs/test.err" >&2)
SANDBOX
    [ "$rc" = 0 ] || fail "$label: exit $rc (see above)"
    # Nothing secret on any stderr: no token, bearer or secret.
    if grep -E -l "ghs_[A-Za-z0-9]{8,}|$bearer|$gitea" "$box"/logs/*.err; then
        fail "$label: a token, the bearer or the secret reached stderr"
    fi
    # The namespace is gone: nothing of it is left on this machine.
    [ ! -e "/home/$user" ] || fail "$label: /home/$user exists outside the sandbox"
    passed=$((passed + 1))
}

passed=0
run_case default-test "$tests/test.sh" '{}'
scenarios=$tests/scenarios.json
for scenario in $(jq -r 'keys[]' "$scenarios"); do
    [ -f "$tests/$scenario.sh" ] || fail "scenario $scenario has no $scenario.sh"
    options=$(jq -c --arg s "$scenario" --arg id "$name" '.[$s].features[$id] // error("no \($id) in \($s)")' "$scenarios")
    run_case "$scenario" "$tests/$scenario.sh" "$options"
done
count=$(( $(jq 'length' "$scenarios") + 1 ))
[ "$passed" = "$count" ] || fail "$passed of $count passed"
printf '\nfeature-test.sh: %s passed, 0 failed (test.sh and %s scenarios)\n' "$passed" "$((count - 1))"
