#!/usr/bin/env bash
# The benchmark: how fast and how light molecule-git-token-helper is, next to
# the yardsticks that matter, against the bundled mock platform on 127.0.0.1.
#
#   bench/run.sh [--rounds N] [--runs N]
#
# Prints, from one run:
#   - warm `get` (token in the cache) median next to `git credential-store
#     --file F get` on the same input (git's own C helper), and their ratio;
#   - warm `get` of an owner's entry with 300 owners' entries (and their
#     histories) in the cache next to the same with that entry alone;
#   - warm `get` of a request with a path (`path=molecule-ai/app.git`, as git
#     sends it with useHttpPath: the owner's entry, here today's platform's
#     default entry) next to the same request without one, and their ratio;
#   - warm `get` narrowed (MOLECULE_TOKEN_PERMISSIONS: its own cache entry)
#     next to the same `get` not narrowed (goal ≤ 1.05×);
#   - `gh --version` through the gh proxy (warm cache) next to gh alone,
#     and the proxy's own cost: the proxy execing a no-op `gh` (true)
#     next to that no-op alone, since gh's start varies by more than it;
#     and that no-op through the proxy inside a clone (the owner read from
#     its .git/config) next to outside any repository;
#   - warm `get` with the journal on (the default) next to `--journal off`:
#     the cost of a journal line (the /proc reads, one open and one write);
#   - the per-prompt cost of shell-init (warm cache): `env --shell bash
#     --hook` next to a warm `get`, and bash's whole prompt hook (a
#     subshell, the exec, the eval) next to the same bash running a warm
#     `get`, each in a loop of 100 inside one bash;
#   - cold `get` (empty cache, one platform fetch) median next to one `curl`
#     of the same mock URL;
#   - platform requests seen for 32 concurrent cold `git credential fill`s
#     against a platform that takes 300 ms;
#   - an outage: 24 concurrent `git credential fill`s (this helper, then a
#     `store` fallback) against a refused port and against a platform that
#     answers 500: the slowest fill, how many reached the fallback, and the
#     platform requests (for the refused port, connection attempts);
#   - an outage across owners: a per-owner platform that never answers,
#     16 concurrent fills for 8 owners then one fill each for 8 new
#     owners (`--timeout 4`): the slowest fill and how many took over 1.5 s;
#   - git over HTTPS against a real git server (`git http-backend` behind
#     TLS, examples/git-server.rs): `git ls-remote` with this helper (warm
#     cache) next to the same with `credential-store` holding the same
#     token, and their ratio; a cold `git clone` (empty cache) next to one
#     with credential-store; and an outage: 16 parallel `git ls-remote`s
#     with the platform refusing connections, each reaching the operator's
#     PAT in the fallback store: the slowest;
#   - platform requests for 200 concurrent cold `get`s (the binary alone)
#     against a platform that takes 300 ms, and how many were answered;
#   - the outage matrix (tests/it/outage.rs, run with this release binary):
#     for each kind of outage (refused, reset, 500, 503, 429 with
#     Retry-After, hung, a body that stalls, a name server that never
#     answers), 8 concurrent `git credential fill`s then one every 0.5 s
#     for 12 s with `--timeout 4`: the slowest fill, the share of fills over
#     1.5 s, the platform requests, and how long after the platform came
#     back the first fill was served (needs root, as the test does);
#   - peak RSS of a warm `get`, and of one with 300 owners' entries in the
#     cache; the release binary's size.
#
# Needs hyperfine, GNU time (/usr/bin/time), curl and gh; as root on Debian it
# installs them, otherwise it names them. Not part of the test run: timings
# belong here, not in tests.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5
runs=400
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,50s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
command -v curl >/dev/null || need+=(curl)
command -v gh >/dev/null || need+=(gh)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing ${need[*]} ..." >&2
        apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "bench/run.sh needs: ${need[*]} (Debian: apt-get install ${need[*]})" >&2
        exit 1
    fi
fi

echo "building the release binary and the mock platform ..." >&2
bin=$(scripts/build-release.sh)
cargo build --quiet --release --locked --example mock-platform --example git-server
mock=target/release/examples/mock-platform
gitsrv=target/release/examples/git-server

# The outage matrix, with this release binary, before HOME changes (cargo
# and rustup look there). It takes about half a minute.
echo "the outage matrix (about 30 s) ..." >&2
matrix=$(mktemp)
OUTAGE_MATRIX_BIN=$bin OUTAGE_MATRIX_REPORT=$matrix \
    cargo test --quiet --locked --test it -- --exact outage::the_outage_matrix >/dev/null 2>&1 ||
    { echo "bench/run.sh: the outage matrix failed (cargo test --test it -- outage::the_outage_matrix)" >&2; exit 1; }

# Versions now: HOME changes below, and rustup's proxies look there.
git_version=$(git --version)
rustc_version=$(rustc --version | cut -d' ' -f1-2)
linkage=$(file -b "$bin" 2>/dev/null | grep -o 'static-pie linked\|statically linked\|dynamically linked' || echo "linkage unknown")

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work" "$matrix"
}
trap cleanup EXIT

mkdir -p "$work/configs" "$work/home"
head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$work/configs/.auth_token"
printf 'Authorization: Bearer %s\n' "$(cat "$work/configs/.auth_token")" > "$work/header"
chmod 600 "$work/configs/.auth_token" "$work/header"

# start_mock NAME [mock options…]: a mock platform on a random port.
start_mock() {
    local name=$1; shift
    "$mock" --port 0 --port-file "$work/$name.port" \
        --bearer-file "$work/configs/.auth_token" "$@" 2>"$work/$name.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$work/$name.port" ] && return; sleep 0.05; done
    echo "bench/run.sh: the mock platform did not start (see $work/$name.log)" >&2
    exit 1
}
requests() { grep -c 'mock platform: [A-Z]* /' "$work/$1.log" || true; }

start_mock fast
url="http://127.0.0.1:$(cat "$work/fast.port")"
export PLATFORM_URL=$url CONFIGS_DIR=$work/configs MOLECULE_TOKEN_CACHE_DIR=$work/cache
export HOME=$work/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$work/gitconfig
unset MOLECULE_TOKEN_NO_CACHE MOLECULE_TOKEN_LOG XDG_RUNTIME_DIR || true
printf 'protocol=https\nhost=github.com\n\n' > "$work/input"
printf 'https://operator:fallback-pat@github.com\n' > "$work/store"
chmod 600 "$work/store"

# The same input must get an answer from both, or we time the wrong thing.
"$bin" get < "$work/input" | grep -q '^password=' || { echo "bench: warm get gave no password" >&2; exit 1; }
git credential-store --file "$work/store" get < "$work/input" | grep -q '^password=' ||
    { echo "bench: credential-store gave no password" >&2; exit 1; }

# median FILE: the median of the numbers in FILE, one per line.
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); if (NR % 2) print v[m]; else print (v[m] + v[m + 1]) / 2 }'; }

# hf OUT.csv CMD…: hyperfine, results as CSV (median in column 4, seconds).
hf() {
    local out=$1; shift
    hyperfine --style none --warmup 30 --runs "$runs" --export-csv "$out" "$@" >/dev/null
}
col_median() { awk -F, -v row="$2" 'NR == row + 1 { print $4 }' "$1"; }

echo "warm get vs git credential-store: $rounds rounds of $runs runs ..." >&2
: > "$work/warm.ours"; : > "$work/warm.store"; : > "$work/warm.ratio"
for r in $(seq "$rounds"); do
    # Alternate the order between rounds so drift does not favour either.
    if [ $((r % 2)) = 1 ]; then
        hf "$work/w.csv" "$bin get < $work/input" "git credential-store --file $work/store get < $work/input"
        o=$(col_median "$work/w.csv" 1); s=$(col_median "$work/w.csv" 2)
    else
        hf "$work/w.csv" "git credential-store --file $work/store get < $work/input" "$bin get < $work/input"
        s=$(col_median "$work/w.csv" 1); o=$(col_median "$work/w.csv" 2)
    fi
    echo "$o" >> "$work/warm.ours"; echo "$s" >> "$work/warm.store"
    awk -v o="$o" -v s="$s" 'BEGIN { print o / s }' >> "$work/warm.ratio"
done
warm_ours=$(median "$work/warm.ours"); warm_store=$(median "$work/warm.store")
warm_ratio=$(median "$work/warm.ratio")

echo "warm get with a path vs without: $rounds rounds of $runs runs ..." >&2
printf 'protocol=https\nhost=github.com\npath=molecule-ai/app.git\n\n' > "$work/input-path"
"$bin" get < "$work/input-path" | grep -q '^password=' || { echo "bench: warm get with a path gave no password" >&2; exit 1; }
: > "$work/path.with"; : > "$work/path.without"; : > "$work/path.ratio"
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
        hf "$work/p.csv" "$bin get < $work/input-path" "$bin get < $work/input"
        w=$(col_median "$work/p.csv" 1); n=$(col_median "$work/p.csv" 2)
    else
        hf "$work/p.csv" "$bin get < $work/input" "$bin get < $work/input-path"
        n=$(col_median "$work/p.csv" 1); w=$(col_median "$work/p.csv" 2)
    fi
    echo "$w" >> "$work/path.with"; echo "$n" >> "$work/path.without"
    awk -v w="$w" -v n="$n" 'BEGIN { print w / n }' >> "$work/path.ratio"
done
path_with=$(median "$work/path.with"); path_without=$(median "$work/path.without")
path_ratio=$(median "$work/path.ratio")

echo "warm get with the journal on (the default) vs off: $rounds rounds of $runs runs ..." >&2
# The journal grows by a line a run (rotated at 1 MiB), as in a workspace.
: > "$work/journal.on"; : > "$work/journal.off"; : > "$work/journal.ratio"
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
        hf "$work/j.csv" "$bin get < $work/input-path" "$bin --journal off get < $work/input-path"
        on=$(col_median "$work/j.csv" 1); off=$(col_median "$work/j.csv" 2)
    else
        hf "$work/j.csv" "$bin --journal off get < $work/input-path" "$bin get < $work/input-path"
        off=$(col_median "$work/j.csv" 1); on=$(col_median "$work/j.csv" 2)
    fi
    echo "$on" >> "$work/journal.on"; echo "$off" >> "$work/journal.off"
    awk -v a="$on" -v b="$off" 'BEGIN { print a / b }' >> "$work/journal.ratio"
done
journal_on=$(median "$work/journal.on"); journal_off=$(median "$work/journal.off")
journal_ratio=$(median "$work/journal.ratio")
journal_lines=$(cat "$work/cache/journal.jsonl" "$work/cache/journal.jsonl.1" 2>/dev/null | wc -l)

echo "warm get with 300 owners' entries present vs one: $rounds rounds of $runs runs ..." >&2
# Owners' entries made from the default one (its owner line changed), each
# with a history beside it, as 300 owners' fetches leave them.
make_owner() {
    sed "s/^owner -\$/owner $2/; s/^any-owner yes\$/any-owner no/" "$work/cache/token" > "$1/token@$2"
    printf 'molecule-git-token-helper history v1\nfailures 0\nlast-failure-ms -\nrecovered-ms -\nrejected-ms -\nlast-failure \n' > "$1/token@$2.history"
    chmod 600 "$1/token@$2" "$1/token@$2.history"
}
mkdir -m 700 "$work/cache1" "$work/cache300"
cp -p "$work/cache/token" "$work/cache1/token"; cp -p "$work/cache/token" "$work/cache300/token"
make_owner "$work/cache1" owner7
for i in $(seq 300); do make_owner "$work/cache300" "owner$i"; done
printf 'protocol=https\nhost=github.com\npath=owner7/app.git\n\n' > "$work/input-owner"
for d in cache1 cache300; do
    MOLECULE_TOKEN_CACHE_DIR=$work/$d "$bin" get < "$work/input-owner" | grep -q '^password=' ||
        { echo "bench: warm get in $d gave no password" >&2; exit 1; }
done
: > "$work/many.300"; : > "$work/many.1"; : > "$work/many.ratio"
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
        hf "$work/m.csv" "MOLECULE_TOKEN_CACHE_DIR=$work/cache300 $bin get < $work/input-owner" \
            "MOLECULE_TOKEN_CACHE_DIR=$work/cache1 $bin get < $work/input-owner"
        m=$(col_median "$work/m.csv" 1); o=$(col_median "$work/m.csv" 2)
    else
        hf "$work/m.csv" "MOLECULE_TOKEN_CACHE_DIR=$work/cache1 $bin get < $work/input-owner" \
            "MOLECULE_TOKEN_CACHE_DIR=$work/cache300 $bin get < $work/input-owner"
        o=$(col_median "$work/m.csv" 1); m=$(col_median "$work/m.csv" 2)
    fi
    echo "$m" >> "$work/many.300"; echo "$o" >> "$work/many.1"
    awk -v m="$m" -v o="$o" 'BEGIN { print m / o }' >> "$work/many.ratio"
done
many_300=$(median "$work/many.300"); many_1=$(median "$work/many.1")
many_ratio=$(median "$work/many.ratio")
[ "$(find "$work/cache300" -type f | wc -l)" -ge 601 ] || { echo "bench: the 300 owners' entries went" >&2; exit 1; }

echo "warm narrowed get vs an unnarrowed one: $rounds rounds ..." >&2
# The same request, one process asking for contents:read
# (its own entry, minted by the mock platform, which honours the extension).
# Each timed command is one sh running 20 warm gets (hyperfine's shell
# calibration is too coarse for one 2 ms get on a busy machine); both sides
# run the same loop, the variable set or not.
narrow='MOLECULE_TOKEN_PERMISSIONS=contents:read'  # no comma: hyperfine's CSV quotes a command with one
env "$narrow" "$bin" get < "$work/input" | grep -q '^password=' ||
    { echo "bench: warm narrowed get gave no password" >&2; exit 1; }
# shellcheck disable=SC2016 # $i is the loop's own, expanded by the sh it runs in
loop() { printf 'i=0; while [ $i -lt 20 ]; do %s %s get < %s > /dev/null; i=$((i + 1)); done' "$1" "$bin" "$work/input"; }
narrow_runs=$(( runs / 20 > 10 ? runs / 20 : 10 ))
: > "$work/narrow.with"; : > "$work/narrow.without"; : > "$work/narrow.ratio"
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
        hyperfine --style none --warmup 3 --runs "$narrow_runs" --export-csv "$work/n.csv" \
            "sh -c '$(loop "env $narrow")'" "sh -c '$(loop env)'" >/dev/null
        w=$(col_median "$work/n.csv" 1); n=$(col_median "$work/n.csv" 2)
    else
        hyperfine --style none --warmup 3 --runs "$narrow_runs" --export-csv "$work/n.csv" \
            "sh -c '$(loop env)'" "sh -c '$(loop "env $narrow")'" >/dev/null
        n=$(col_median "$work/n.csv" 1); w=$(col_median "$work/n.csv" 2)
    fi
    awk -v w="$w" 'BEGIN { print w / 20 }' >> "$work/narrow.with"
    awk -v n="$n" 'BEGIN { print n / 20 }' >> "$work/narrow.without"
    awk -v w="$w" -v n="$n" 'BEGIN { print w / n }' >> "$work/narrow.ratio"
done
narrow_with=$(median "$work/narrow.with"); narrow_without=$(median "$work/narrow.without")
narrow_ratio=$(median "$work/narrow.ratio")

echo "gh --version through the proxy vs gh alone: $rounds rounds of $runs runs ..." >&2
# The proxy is this binary under the name gh; run by its path, it skips
# itself and execs the gh on PATH, with the token from the (warm) cache.
real_gh=$(command -v gh)
mkdir -p "$work/proxy"
ln -s "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$work/proxy/gh"
export GH_NO_UPDATE_NOTIFIER=1
"$work/proxy/gh" --version 2>&1 | grep -q '^gh version' || { echo "bench: the proxy did not run gh" >&2; exit 1; }
: > "$work/gh.proxy"; : > "$work/gh.alone"; : > "$work/gh.ratio"
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
        hf "$work/g.csv" -N "$work/proxy/gh --version" "$real_gh --version"
        p=$(col_median "$work/g.csv" 1); a=$(col_median "$work/g.csv" 2)
    else
        hf "$work/g.csv" -N "$real_gh --version" "$work/proxy/gh --version"
        a=$(col_median "$work/g.csv" 1); p=$(col_median "$work/g.csv" 2)
    fi
    echo "$p" >> "$work/gh.proxy"; echo "$a" >> "$work/gh.alone"
    awk -v p="$p" -v a="$a" 'BEGIN { print p / a }' >> "$work/gh.ratio"
done
gh_proxy=$(median "$work/gh.proxy"); gh_alone=$(median "$work/gh.alone")
gh_ratio=$(median "$work/gh.ratio")
gh_version=$("$real_gh" --version | head -n 1)
# The proxy's own cost: a no-op gh (true) first on PATH, through the proxy or alone.
mkdir -p "$work/noop"
ln -s "$(type -P true)" "$work/noop/gh"
: > "$work/noop.proxy"; : > "$work/noop.alone"
for r in $(seq "$rounds"); do
    PATH="$work/noop:$PATH" hf "$work/n.csv" -N "$work/proxy/gh --version" "$work/noop/gh --version"
    col_median "$work/n.csv" 1 >> "$work/noop.proxy"; col_median "$work/n.csv" 2 >> "$work/noop.alone"
done
noop_proxy=$(median "$work/noop.proxy"); noop_alone=$(median "$work/noop.alone")
# The owner from the current repository's origin: the no-op through the
# proxy inside a clone (a .git/config to read) and outside any repository.
mkdir -p "$work/clone-y/.git" "$work/no-repo"
printf '[core]\n\tbare = false\n[remote "origin"]\n\turl = https://github.com/orgB/y.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n' \
    > "$work/clone-y/.git/config"
: > "$work/origin.in"; : > "$work/origin.out"; : > "$work/origin.ratio"
for r in $(seq "$rounds"); do
    PATH="$work/noop:$PATH" hf "$work/o.csv" -N \
        "env -C $work/clone-y $work/proxy/gh --version" "env -C $work/no-repo $work/proxy/gh --version"
    i=$(col_median "$work/o.csv" 1); o=$(col_median "$work/o.csv" 2)
    echo "$i" >> "$work/origin.in"; echo "$o" >> "$work/origin.out"
    awk -v i="$i" -v o="$o" 'BEGIN { print i / o }' >> "$work/origin.ratio"
done
origin_in=$(median "$work/origin.in"); origin_out=$(median "$work/origin.out")
origin_ratio=$(median "$work/origin.ratio")

echo "the per-prompt cost of shell-init vs a warm get: $rounds rounds ..." >&2
"$bin" shell-init bash > "$work/env.bash"
env_hook="$bin env --shell bash --hook"
$env_hook | grep -q '^export GH_TOKEN=' || { echo "bench: env gave no GH_TOKEN" >&2; exit 1; }
# 100 prompts' hooks in one bash, next to 100 warm gets run by the same bash.
loop=100
prompt_hooks="bash -c 'source $work/env.bash; for ((i = 0; i < $loop; i++)); do __molecule_token_hook; done'"
loop_gets="bash -c 'for ((i = 0; i < $loop; i++)); do $bin get < $work/input > /dev/null; done'"
bash -c "source $work/env.bash; [ -n \"\$GH_TOKEN\" ]" || { echo "bench: env.bash set no GH_TOKEN" >&2; exit 1; }
loop_runs=$(( runs / 20 > 10 ? runs / 20 : 10 ))
: > "$work/env.ours"; : > "$work/env.get"; : > "$work/env.ratio"; : > "$work/hook.ours"; : > "$work/hook.get"
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
        hf "$work/e.csv" "$env_hook" "$bin get < $work/input"
        e=$(col_median "$work/e.csv" 1); g=$(col_median "$work/e.csv" 2)
    else
        hf "$work/e.csv" "$bin get < $work/input" "$env_hook"
        g=$(col_median "$work/e.csv" 1); e=$(col_median "$work/e.csv" 2)
    fi
    echo "$e" >> "$work/env.ours"; echo "$g" >> "$work/env.get"
    awk -v e="$e" -v g="$g" 'BEGIN { print e / g }' >> "$work/env.ratio"
    runs=$loop_runs hf "$work/p.csv" "$prompt_hooks" "$loop_gets"
    awk -v s="$(col_median "$work/p.csv" 1)" -v n="$loop" 'BEGIN { print s / n }' >> "$work/hook.ours"
    awk -v s="$(col_median "$work/p.csv" 2)" -v n="$loop" 'BEGIN { print s / n }' >> "$work/hook.get"
done
env_ours=$(median "$work/env.ours"); env_get=$(median "$work/env.get"); env_ratio=$(median "$work/env.ratio")
hook_ours=$(median "$work/hook.ours"); hook_get=$(median "$work/hook.get")

echo "cold get vs curl ..." >&2
hf "$work/c.csv" --prepare "rm -f $work/cache/token" "$bin get < $work/input" \
    "curl -s -o /dev/null -H @$work/header $url/admin/github-installation-token"
cold_ours=$(col_median "$work/c.csv" 1); cold_curl=$(col_median "$work/c.csv" 2)

echo "32 concurrent cold git credential fills ..." >&2
start_mock slow --delay-ms 300
printf '[credential]\n\thelper = %s\n' "$bin" > "$GIT_CONFIG_GLOBAL"
rm -rf "$work/cache"
mkdir -p "$work/fills"
(
    export PLATFORM_URL="http://127.0.0.1:$(cat "$work/slow.port")"
    for i in $(seq 32); do
        git credential fill < <(printf 'url=https://github.com/org/repo.git\n\n') > "$work/fills/$i" 2>&1 &
    done
    wait
)
concurrent_requests=$(requests slow)
distinct=$(grep -h '^password=' "$work/fills"/* | sort -u | wc -l)
answered=$(grep -l '^password=' "$work/fills"/* | wc -l)

echo "200 concurrent cold gets ..." >&2
rm -rf "$work/cache" "$work/gets"
mkdir -p "$work/gets"
slow_url="http://127.0.0.1:$(cat "$work/slow.port")"
gets=()
for i in $(seq 200); do
    PLATFORM_URL=$slow_url "$bin" get < "$work/input" > "$work/gets/$i" 2>&1 &
    gets+=($!)
done
wait "${gets[@]}"
gets_requests=$(( $(requests slow) - concurrent_requests ))
gets_answered=$(grep -l '^password=' "$work/gets"/* | wc -l)

# outage NAME URL: 24 concurrent fills with PLATFORM_URL=URL, the fallback
# store after this helper; sets slowest (s), fell_back and attempts.
outage() {
    local name=$1 url=$2 dir=$work/outage-$1
    mkdir -p "$dir"
    printf '[credential]\n\thelper = %s\n\thelper = store --file=%s\n' "$bin" "$work/store" > "$GIT_CONFIG_GLOBAL"
    rm -rf "$work/cache"
    local start
    start=$(date +%s%N)
    (
        export PLATFORM_URL=$url MOLECULE_TOKEN_LOG=debug
        for i in $(seq 24); do
            { git credential fill < <(printf 'url=https://github.com/org/repo.git\n\n') > "$dir/$i" 2> "$dir/$i.err"
              date +%s%N > "$dir/$i.end"; } &
        done
        wait
    )
    slowest=$(cat "$dir"/*.end | sort -n | tail -1 | awk -v s="$start" '{ printf "%.3f", ($1 - s) / 1e9 }')
    fell_back=$(grep -l '^password=fallback-pat$' "$dir"/[0-9]* | wc -l)
    attempts=$(cat "$dir"/*.err | grep -c 'attempt [0-9]* failed' || true)
}

echo "outage: 24 concurrent fills against a refused port, then a 500 ..." >&2
outage refused "http://127.0.0.1:1"
refused_slowest=$slowest refused_fell_back=$fell_back refused_attempts=$attempts
start_mock err --status 500
outage http500 "http://127.0.0.1:$(cat "$work/err.port")"
err_slowest=$slowest err_fell_back=$fell_back err_requests=$(requests err)

echo "outage across 8 owners: 16 concurrent fills, then one each for 8 more owners ..." >&2
# A per-owner platform that never answers in time (--timeout 4); git sends
# the path (useHttpPath), the kept store is reached through fallback.
hung_owners=()
for i in $(seq 16); do hung_owners+=(--owner "org$i"); done
start_mock hung --delay-ms 600000 "${hung_owners[@]}"
printf "[credential]\n\thelper = %s\n\thelper = %s fallback -- 'store --file=%s'\n\tuseHttpPath = true\n" \
    "$bin" "$bin" "$work/store" > "$GIT_CONFIG_GLOBAL"
rm -rf "$work/cache" "$work/owners-outage"
mkdir -p "$work/owners-outage"
# owner_fill N OWNER: one fill, its time in ms in N.ms.
owner_fill() {
    local s e
    s=$(date +%s%N)
    git credential fill < <(printf 'url=https://github.com/%s/app.git\n\n' "$2") > "$work/owners-outage/$1" 2>/dev/null
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 )) > "$work/owners-outage/$1.ms"
}
(
    PLATFORM_URL=http://127.0.0.1:$(cat "$work/hung.port")
    export PLATFORM_URL MOLECULE_TOKEN_TIMEOUT=4
    for i in $(seq 16); do owner_fill "$i" "org$(( (i - 1) % 8 + 1 ))" & done
    wait
    for i in $(seq 9 16); do owner_fill "$((i + 8))" "org$i"; done
)
owners_slowest=$(cat "$work/owners-outage"/*.ms | sort -n | tail -1 | awk '{ printf "%.3f", $1 / 1000 }')
owners_slow=$(cat "$work/owners-outage"/*.ms | awk '$1 > 1500' | wc -l)
owners_fell_back=$(grep -l '^password=fallback-pat$' "$work/owners-outage"/[0-9]* | wc -l)
rm -rf "$work/cache"

echo "git over HTTPS: ls-remote with this helper vs credential-store, a cold clone, an outage ..." >&2
printf 'fallback-pat\n' > "$work/pat"
"$gitsrv" --port 0 --port-file "$work/git.port" --pat-file "$work/pat" --accept-any-token \
    --repo demo --ca-file "$work/ca.pem" --quiet 2>"$work/git.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/git.port" ] && [ -s "$work/ca.pem" ] && break; sleep 0.05; done
[ -s "$work/git.port" ] || { echo "bench/run.sh: the git server did not start (see $work/git.log)" >&2; exit 1; }
githost=127.0.0.1:$(cat "$work/git.port")
remote=https://$githost/demo.git
# GIT_SSL_CAINFO would win over http.sslCAInfo.
unset GIT_SSL_CAINFO
export PLATFORM_URL=$url
rm -rf "$work/cache"
# As configure writes it: a reset line, this helper for the remote's host.
printf '[http]\n\tsslCAInfo = %s\n[credential "https://%s/"]\n\thelper =\n\thelper = %s --host %s\n' \
    "$work/ca.pem" "$githost" "$bin" "$githost" > "$work/git-helper.cfg"
token=$("$bin" --host "$githost" fetch-token "$githost")
printf 'https://x-access-token:%s@%s\n' "$token" "$githost" > "$work/git-store"
chmod 600 "$work/git-store"
printf '[http]\n\tsslCAInfo = %s\n[credential]\n\thelper = store --file=%s\n' \
    "$work/ca.pem" "$work/git-store" > "$work/git-store.cfg"
with_helper="GIT_CONFIG_GLOBAL=$work/git-helper.cfg git ls-remote $remote"
with_store="GIT_CONFIG_GLOBAL=$work/git-store.cfg git ls-remote $remote"
sh -c "$with_helper" | grep -q refs/heads/main || { echo "bench: ls-remote with the helper failed" >&2; exit 1; }
sh -c "$with_store" | grep -q refs/heads/main || { echo "bench: ls-remote with credential-store failed" >&2; exit 1; }
git_runs=$(( runs / 4 > 20 ? runs / 4 : 20 ))
: > "$work/ls.ours"; : > "$work/ls.store"; : > "$work/ls.ratio"
for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then
        runs=$git_runs hf "$work/l.csv" "$with_helper" "$with_store"
        o=$(col_median "$work/l.csv" 1); s=$(col_median "$work/l.csv" 2)
    else
        runs=$git_runs hf "$work/l.csv" "$with_store" "$with_helper"
        s=$(col_median "$work/l.csv" 1); o=$(col_median "$work/l.csv" 2)
    fi
    echo "$o" >> "$work/ls.ours"; echo "$s" >> "$work/ls.store"
    awk -v o="$o" -v s="$s" 'BEGIN { print o / s }' >> "$work/ls.ratio"
done
ls_ours=$(median "$work/ls.ours"); ls_store=$(median "$work/ls.store"); ls_ratio=$(median "$work/ls.ratio")
runs=$git_runs hf "$work/clone.csv" --prepare "rm -rf $work/clone $work/cache/token" \
    "GIT_CONFIG_GLOBAL=$work/git-helper.cfg git clone -q $remote $work/clone" \
    "GIT_CONFIG_GLOBAL=$work/git-store.cfg git clone -q $remote $work/clone"
clone_ours=$(col_median "$work/clone.csv" 1); clone_store=$(col_median "$work/clone.csv" 2)
# The outage: the platform refuses connections, the cache is empty, and the
# operator's PAT waits in the fallback store after this helper.
printf 'https://operator:fallback-pat@%s\n' "$githost" > "$work/pat-store"
chmod 600 "$work/pat-store"
printf '[http]\n\tsslCAInfo = %s\n[credential "https://%s/"]\n\thelper =\n\thelper = %s --host %s\n\thelper = store --file=%s\n' \
    "$work/ca.pem" "$githost" "$bin" "$githost" "$work/pat-store" > "$work/git-outage.cfg"
rm -rf "$work/cache" "$work/ls-outage"
mkdir -p "$work/ls-outage"
start=$(date +%s%N)
(
    export PLATFORM_URL=http://127.0.0.1:1 GIT_CONFIG_GLOBAL=$work/git-outage.cfg
    for i in $(seq 16); do
        { git ls-remote "$remote" > "$work/ls-outage/$i" 2>/dev/null; date +%s%N > "$work/ls-outage/$i.end"; } &
    done
    wait
)
ls_outage_slowest=$(cat "$work/ls-outage"/*.end | sort -n | tail -1 | awk -v s="$start" '{ printf "%.3f", ($1 - s) / 1e9 }')
ls_outage_ok=$(grep -l 'refs/heads/main' "$work/ls-outage"/[0-9]* | wc -l)
export PLATFORM_URL=$url

echo "peak RSS of a warm get ..." >&2
"$bin" get < "$work/input" >/dev/null
: > "$work/rss"
for _ in $(seq 50); do
    /usr/bin/time -f '%M' -a -o "$work/rss" "$bin" get < "$work/input" >/dev/null
done
rss_median=$(median "$work/rss"); rss_max=$(sort -g "$work/rss" | tail -1)
# The same with 300 owners' entries in the cache (a request for one of them).
: > "$work/rss300"
for _ in $(seq 50); do
    MOLECULE_TOKEN_CACHE_DIR=$work/cache300 /usr/bin/time -f '%M' -a -o "$work/rss300" "$bin" get < "$work/input-owner" >/dev/null
done
rss300_median=$(median "$work/rss300"); rss300_max=$(sort -g "$work/rss300" | tail -1)
size=$(stat -c %s "$bin")

ms() { awk -v s="$1" 'BEGIN { printf "%.3f ms", s * 1000 }'; }
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cat <<EOF

molecule-git-token-helper benchmark ($(date -u +%Y-%m-%dT%H:%MZ))
machine: $(nproc) × ${cpu:-unknown CPU}, Linux $(uname -r)
tools:   $git_version, $rustc_version, hyperfine $(hyperfine --version | cut -d' ' -f2), $gh_version
binary:  $bin ($linkage)

warm get                     $(ms "$warm_ours")   (median of $rounds rounds × $runs runs)
git credential-store get     $(ms "$warm_store")
  ratio (ours / store)       $(awk -v r="$warm_ratio" 'BEGIN { printf "%.3f×", r }')   (goal ≤ 1.10×)
warm get, request with a path  $(ms "$path_with")   (owner molecule-ai, today's platform: its default entry)
warm get, no path            $(ms "$path_without")
warm get, narrowed           $(ms "$narrow_with")   (MOLECULE_TOKEN_PERMISSIONS=contents:read: its own entry; 20 gets per sh)
warm get, not narrowed       $(ms "$narrow_without")
  ratio (narrowed / not)     $(awk -v r="$narrow_ratio" 'BEGIN { printf "%.3f×", r }')   (goal ≤ 1.05×)
  ratio (path / no path)     $(awk -v r="$path_ratio" 'BEGIN { printf "%.3f×", r }')   (goal ≤ 1.00×, within noise)
warm get, journal on         $(ms "$journal_on")   (the default; request with a path; $journal_lines lines journaled by the bench)
warm get, journal off        $(ms "$journal_off")
  a journal line costs       $(ms "$(awk -v a="$journal_on" -v b="$journal_off" 'BEGIN { print a - b }')"), $(awk -v r="$journal_ratio" 'BEGIN { printf "%.3f×", r }')
warm get, 300 owners' entries present  $(ms "$many_300")   (request for one of them; 601 files in the cache)
warm get, that owner's entry alone      $(ms "$many_1")
  ratio (300 / 1)            $(awk -v r="$many_ratio" 'BEGIN { printf "%.3f×", r }')   (goal ≤ 1.05×, within noise)
gh --version via the proxy   $(ms "$gh_proxy")   (warm cache; median of $rounds rounds × $runs runs)
gh --version alone           $(ms "$gh_alone")
  ratio (proxy / alone)      $(awk -v r="$gh_ratio" 'BEGIN { printf "%.3f×", r }'), $(ms "$(awk -v p="$gh_proxy" -v a="$gh_alone" 'BEGIN { print p - a }')") added   (goal ≤ about 1 ms)
no-op gh via the proxy       $(ms "$noop_proxy")   (the proxy's own cost: $(ms "$(awk -v p="$noop_proxy" -v a="$noop_alone" 'BEGIN { print p - a }')") over the no-op alone)
no-op gh alone               $(ms "$noop_alone")
no-op gh via the proxy, in a clone     $(ms "$origin_in")   (the owner read from .git/config)
no-op gh via the proxy, no repository  $(ms "$origin_out")
  ratio (clone / none)       $(awk -v r="$origin_ratio" 'BEGIN { printf "%.3f×", r }'), $(ms "$(awk -v i="$origin_in" -v o="$origin_out" 'BEGIN { print i - o }')") for reading the origin
env --shell bash --hook      $(ms "$env_ours")   (warm; the exec a prompt costs; median of $rounds rounds × $runs runs)
warm get, same rounds        $(ms "$env_get")
  ratio (env / get)          $(awk -v r="$env_ratio" 'BEGIN { printf "%.3f×", r }')
bash prompt hook, per prompt $(ms "$hook_ours")   (subshell + exec + eval; $loop in one bash, median of $rounds rounds × $loop_runs runs)
bash running a warm get      $(ms "$hook_get")   (the same loop around a warm get: fork + exec)
cold get (empty cache)       $(ms "$cold_ours")   (median of $runs runs, each from an empty cache)
one curl of the mock URL     $(ms "$cold_curl")
32 concurrent cold fills     $concurrent_requests platform request(s); $answered of 32 answered; $distinct distinct token(s)   (goal: 1)
outage, 24 concurrent fills against a refused port
  slowest fill               $refused_slowest s; $refused_fell_back of 24 at the fallback   (goal ≤ 1 s)
  connection attempts        $refused_attempts   (goal ≤ 4)
outage, 24 concurrent fills against a platform answering 500
  slowest fill               $err_slowest s; $err_fell_back of 24 at the fallback   (goal ≤ 1 s)
  platform requests          $err_requests   (goal ≤ 4)
outage across 8 owners (hung per-owner platform, --timeout 4): 16 fills at once, then 8 new owners one by one
  slowest fill               $owners_slowest s; $owners_slow of 24 over 1.5 s; $owners_fell_back of 24 at the fallback   (goal: at most 2 over 1.5 s)
git ls-remote over HTTPS, this helper (warm)  $(ms "$ls_ours")   (median of $rounds rounds × $git_runs runs)
git ls-remote, credential-store, same token   $(ms "$ls_store")
  ratio (ours / store)       $(awk -v r="$ls_ratio" 'BEGIN { printf "%.3f×", r }')   (goal ≤ 1.05×)
cold git clone, this helper (empty cache, one fetch)  $(ms "$clone_ours")   (median of $git_runs runs)
git clone, credential-store                           $(ms "$clone_store")
outage, 16 parallel git ls-remote, platform refusing connections
  slowest to finish at the PAT  $ls_outage_slowest s; $ls_outage_ok of 16 succeeded   (goal: about 1 s)
200 concurrent cold gets     $gets_requests platform request(s); $gets_answered of 200 answered   (goal: 1)
outage matrix (tests/it/outage.rs; 32 fills per kind: 8 at once, then one every 0.5 s for 12 s; --timeout 4)
$(awk -F'\t' 'NR == 1 { printf "  %-16s %-13s %-15s %-9s %s\n", "kind", "slowest fill", "fills > 1.5 s", "requests", "served again after the platform came back"; next }
    { printf "  %-16s %-13s %-15s %-9s %s s\n", $1, $3 " s", $4 " of " $2 " (" int(100 * $4 / $2 + 0.5) " %)", $5, $6 }' "$matrix")
  (goals: at most 2 fills over 1.5 s per kind, all at the fallback; served again within the capped memory, 60 s)
peak RSS, warm get           $rss_median KiB median, $rss_max KiB max of 50   (goal ≤ 4096 KiB)
peak RSS, 300 owners' cache  $rss300_median KiB median, $rss300_max KiB max of 50   (goal ≤ 4096 KiB)
release binary size          $size bytes ($(awk -v b="$size" 'BEGIN { printf "%.2f MiB", b / 1048576 }'))
EOF
