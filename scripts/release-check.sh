#!/usr/bin/env bash
# Check the release artifacts (CI runs this from .ci/run; it needs release
# builds, minutes, so it is not part of scripts/test.sh):
#
#   scripts/release-check.sh
#
#   1. scripts/release.sh here and in a fresh clone of HEAD in another
#      directory: the artifacts are byte-identical;
#   2. sha256sum -c SHA256SUMS;
#   3. the tarball's binary is static and at most 6 MiB;
#   4. the SBOM lists every crate the binary links (cargo tree -e normal for
#      the release target), and nothing that is not in Cargo.lock;
#   5. the .deb: dpkg-deb --contents lists every file, its Depends on git;
#      dpkg -i in a mount namespace (overlays on /usr, /etc, /var) gives a
#      working --version and `man -l` of its page, and dpkg -r removes every
#      file;
#   6. install.sh --archive (no cargo on PATH) into a temp prefix, then the
#      demo against the mock platform, and --uninstall; a tarball with one
#      flipped byte, and one missing from SHA256SUMS, are refused with one
#      line and nothing is installed;
#   7. the Dev Container Feature's scenarios (scripts/feature-test.sh).
#
# Needs root (namespaces, chroot-free dpkg), a clean tree (the second run
# builds a clone of HEAD), jq, dpkg, man. Fails loudly; skips nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)

name=molecule-git-token-helper
max_size=$((6 * 1024 * 1024))
step() { printf '\n==> release-check: %s\n' "$*"; }
fail() { printf 'release-check.sh: FAIL: %s\n' "$*" >&2; exit 1; }
timed() {
    local start=$SECONDS
    "$@"
    printf 'release-check: took %d s: %s\n' "$((SECONDS - start))" "$*" >&2
}

[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i in a mount namespace, the Feature's sandbox)"
for tool in jq dpkg dpkg-deb man file git unshare; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (.ci/run installs it)"
done
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
    fail "the tree has uncommitted changes: commit them (the second run builds a clone of HEAD)"

# The commit checked, fixed now: both runs build it, and the SBOM is dated by it.
head=$(git rev-parse HEAD)
epoch=$(git log -1 --format=%ct "$head")

scratch=$(mktemp -d)
mock_pid=
cleanup() {
    if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT

step "1. scripts/release.sh, twice from different directories"
dist=$(SOURCE_DATE_EPOCH=$epoch timed scripts/release.sh | tail -n 1)
[ -d "$dist" ] || fail "release.sh printed no directory"
git clone --quiet --no-local "$here" "$scratch/clone"
git -C "$scratch/clone" checkout --quiet --detach "$head"
# The clone builds in its own target dir: nothing is shared but cargo's
# registry (and the tools installed by the first run).
dist2=$(cd "$scratch/clone" && unset CARGO_TARGET_DIR SOURCE_DATE_EPOCH && timed scripts/release.sh | tail -n 1)
case $dist2 in "$scratch/clone"/*) ;; *) fail "the clone's artifacts are not in the clone ($dist2)" ;; esac
ls -l "$dist"
artifacts=$(cd "$dist" && ls)
[ "$artifacts" = "$(cd "$dist2" && ls)" ] || fail "the two runs wrote different files"
for f in $artifacts; do
    cmp "$dist/$f" "$dist2/$f" || fail "$f differs between $here and $scratch/clone: not reproducible"
done
echo "byte-identical: $(echo "$artifacts" | tr '\n' ' ')"
tarball=$(cd "$dist" && ls "$name"-*-x86_64-linux.tar.gz)
deb=$(cd "$dist" && ls "$name"_*_amd64.deb)
sbom=$(cd "$dist" && ls "$name"-*.cdx.json)
feature=devcontainer-feature-$name.tgz
[ -f "$dist/$feature" ] || fail "no $feature"
rm -rf "$scratch/clone"

step "2. sha256sum -c SHA256SUMS"
(cd "$dist" && sha256sum -c SHA256SUMS)
[ "$(wc -l <"$dist/SHA256SUMS")" = 4 ] || fail "SHA256SUMS does not have the four artifacts"

step "3. the tarball: its files, its binary static and at most 6 MiB"
mkdir "$scratch/tar"
tar -xzf "$dist/$tarball" -C "$scratch/tar"
tar -tvzf "$dist/$tarball"
expected="bin/$name
share/bash-completion/completions/$name
share/doc/$name/LICENSE
share/doc/$name/README.md
share/fish/vendor_completions.d/$name.fish
share/man/man1/$name.1
share/$name/env.bash
share/$name/env.fish
share/$name/env.zsh
share/zsh/site-functions/_$name"
[ "$(tar -tzf "$dist/$tarball")" = "$expected" ] || fail "the tarball's files are not the expected ones, in order"
tar -tvzf "$dist/$tarball" | awk '$2 != "0/0" { bad = 1 } END { exit bad }' || fail "a tarball entry is not owned by 0/0"
bin=$scratch/tar/bin/$name
what=$(file -b "$bin")
echo "$what"
case $what in *"statically linked"* | *"static-pie linked"*) ;; *) fail "the tarball's binary is not static" ;; esac
size=$(stat -c %s "$bin")
echo "$size bytes (limit $max_size)"
[ "$size" -le "$max_size" ] || fail "the binary is larger than 6 MiB"
head -n 1 "$scratch/tar/share/$name/env.bash" | grep -qF "'/usr/local/bin/$name'" ||
    fail "the tarball's env.bash does not name /usr/local/bin/$name"

step "4. the SBOM lists the crates the binary links"
cargo tree --locked -e normal --target x86_64-unknown-linux-gnu --prefix none --format '{p}' |
    sed 's/ (\*)$//; s/ (proc-macro)$//; s/ (.*)$//' | awk '{ print $1 "@" substr($2, 2) }' |
    grep -v "^$name@" | LC_ALL=C sort -u >"$scratch/linked"
jq -r '.components[] | "\(.name)@\(.version)"' "$dist/$sbom" | LC_ALL=C sort -u >"$scratch/sbom"
echo "cargo tree: $(wc -l <"$scratch/linked") crates; SBOM: $(wc -l <"$scratch/sbom")"
missing=$(LC_ALL=C comm -23 "$scratch/linked" "$scratch/sbom")
[ -z "$missing" ] || fail "the SBOM lacks crates the binary links: $missing"
# cargo-cyclonedx reads cargo metadata's resolve, whose features are unified
# over every kind of dependency and every target, so it may list a crate the
# binary does not link (time-macros, a proc-macro); each must still be in
# Cargo.lock at that version.
for extra in $(LC_ALL=C comm -13 "$scratch/linked" "$scratch/sbom"); do
    grep -A1 -x "name = \"${extra%@*}\"" Cargo.lock | grep -q -x "version = \"${extra#*@}\"" ||
        fail "the SBOM lists $extra, which is not in Cargo.lock"
    echo "also in the SBOM (in Cargo.lock, not in cargo tree -e normal): $extra"
done
when=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%S)
jq -e --arg when "$when" '.bomFormat == "CycloneDX" and (has("serialNumber") | not) and (.metadata.timestamp | startswith($when))' \
    "$dist/$sbom" >/dev/null || fail "the SBOM is not CycloneDX dated $when without a random serialNumber"

step "5. the .deb: contents, Depends, dpkg -i, --version, man -l, dpkg -r"
dpkg-deb --info "$dist/$deb"
dpkg-deb --contents "$dist/$deb" | tee "$scratch/deb-contents"
deb_files="./usr/bin/$name
./usr/share/bash-completion/completions/$name
./usr/share/doc/$name/README.md
./usr/share/doc/$name/copyright
./usr/share/fish/vendor_completions.d/$name.fish
./usr/share/man/man1/$name.1.gz
./usr/share/$name/env.bash
./usr/share/$name/env.fish
./usr/share/$name/env.zsh
./usr/share/zsh/vendor-completions/_$name"
awk '$1 !~ /^d/ { print $6 }' "$scratch/deb-contents" | LC_ALL=C sort >"$scratch/deb-files"
diff <(printf '%s\n' "$deb_files" | LC_ALL=C sort) "$scratch/deb-files" ||
    fail "the .deb's files are not the expected ones (< expected, > in the .deb)"
[ "$(dpkg-deb --field "$dist/$deb" Depends)" = "git (>= 1:2.34)" ] || fail "the .deb's Depends is not git (>= 1:2.34)"
# Whole into a file first: under pipefail, a reader that stops early (head,
# grep -q) kills tar and dpkg-deb with SIGPIPE, and the check fails by chance.
dpkg-deb --fsys-tarfile "$dist/$deb" | tar -xO "./usr/share/$name/env.bash" >"$scratch/deb-env.bash"
head -n 1 "$scratch/deb-env.bash" | grep -qF "'/usr/bin/$name'" ||
    fail "the .deb's env.bash does not name /usr/bin/$name"
cmp <(dpkg-deb --fsys-tarfile "$dist/$deb" | tar -xO "./usr/bin/$name") "$bin" ||
    fail "the .deb's binary is not the tarball's"
mkdir -p "$scratch/dpkg"
unshare -m --propagation private bash -s "$scratch/dpkg" "$dist/$deb" "$name" <<'SANDBOX'
set -euo pipefail
box=$1 deb=$2 name=$3
for d in usr etc var; do
    mkdir -p "$box/$d/upper" "$box/$d/work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$box/$d/upper,workdir=$box/$d/work" "/$d"
done
! dpkg -s "$name" >/dev/null 2>&1 || { echo "$name is installed on this machine already" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb"
dpkg -L "$name" | tee "$box/listed"
"/usr/bin/$name" --version
MANPAGER=cat MANWIDTH=80 man -l "/usr/share/man/man1/$name.1.gz" >"$box/page.txt"
grep -q '^NAME' "$box/page.txt" && grep -q 'fetch-token' "$box/page.txt" || { echo "man -l: no NAME or fetch-token" >&2; exit 1; }
echo "man -l renders $(wc -l <"$box/page.txt") lines"
DEBIAN_FRONTEND=noninteractive dpkg -r "$name"
left=
while read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then left="$left $f"; fi
done <"$box/listed"
[ -z "$left" ] || { echo "dpkg -r left:$left" >&2; exit 1; }
echo "dpkg -r removed every file it installed"
SANDBOX
[ ! -e "/usr/bin/$name" ] || fail "/usr/bin/$name exists outside the namespace"

step "6. install.sh --archive (no cargo on PATH), the demo, --uninstall; a flipped byte"
mock=$(cargo build --quiet --locked --example mock-platform --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "mock-platform") | .executable' | tail -n 1)
[ -x "$mock" ] || fail "no mock platform built"
prefix=$scratch/prefix
no_cargo=/usr/sbin:/usr/bin:/sbin:/bin
env PATH="$no_cargo" MOCK_PLATFORM="$mock" ./install.sh --archive "$dist/$tarball" --prefix "$prefix" --demo |
    tee "$scratch/demo.out"
grep -q '^password=ghs_' "$scratch/demo.out" || fail "the demo printed no password line"
cmp "$prefix/bin/$name" "$bin" || fail "install.sh --archive did not install the tarball's binary"
(cd "$prefix" && find . -type f | LC_ALL=C sort) >"$scratch/installed"
cat "$scratch/installed"
[ "$(wc -l <"$scratch/installed")" = 8 ] || fail "install.sh --archive installed other than the eight files"
head -n 1 "$prefix/share/$name/env.bash" | grep -qF "'$prefix/bin/$name'" ||
    fail "the installed env.bash does not name $prefix/bin/$name"
env PATH="$no_cargo" ./install.sh --uninstall --prefix "$prefix"
[ -z "$(find "$prefix" -type f)" ] || fail "--uninstall left files"

# refused FILE SUMS-DIR WHAT: install.sh --archive exits non-zero, one line, nothing installed.
refused() {
    local out=$scratch/refused
    rm -rf "$prefix"
    if env PATH="$no_cargo" ./install.sh --archive "$1" --prefix "$prefix" >"$out.stdout" 2>"$out.stderr"; then
        fail "install.sh --archive accepted $3"
    fi
    cat "$out.stderr"
    [ "$(wc -l <"$out.stderr")" = 1 ] || fail "$3: not one line on stderr"
    grep -q "$2" "$out.stderr" || fail "$3: stderr does not say '$2'"
    [ ! -s "$out.stdout" ] || fail "$3: something on stdout"
    [ ! -e "$prefix" ] || fail "$3: $prefix was created"
}
mkdir "$scratch/flipped" "$scratch/unlisted"
cp "$dist/$tarball" "$dist/SHA256SUMS" "$scratch/flipped/"
byte=$(od -An -tu1 -j 4096 -N 1 "$scratch/flipped/$tarball" | tr -d ' ')
printf '%b' "\\$(printf '%03o' $((byte ^ 1)))" | dd of="$scratch/flipped/$tarball" bs=1 seek=4096 conv=notrunc status=none
cmp -s "$dist/$tarball" "$scratch/flipped/$tarball" && fail "the byte was not flipped"
refused "$scratch/flipped/$tarball" "does not match its SHA-256" "a tarball with one flipped byte"
cp "$dist/$tarball" "$scratch/unlisted/"
grep -v "$tarball" "$dist/SHA256SUMS" >"$scratch/unlisted/SHA256SUMS"
refused "$scratch/unlisted/$tarball" "has no entry for" "a tarball missing from SHA256SUMS"
echo "both refused with one line; nothing installed"

step "7. the Dev Container Feature's scenarios"
MOCK_PLATFORM=$mock timed scripts/feature-test.sh "$dist"

printf '\nrelease-check.sh: every check passed\n'
