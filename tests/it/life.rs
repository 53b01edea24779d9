//! A workspace's life, end to end: the real git over HTTPS against a real
//! git server (`git http-backend` behind TLS, checking HTTP Basic auth on
//! every request: tokens the mock platform minted that are neither expired
//! nor revoked, or the operator's PAT), with the helper registered by its own
//! `configure` in front of a `store` fallback that holds the PAT.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::support::git_server::{GitServer, TOKEN_USER, TokenCheck};
use crate::support::tls::TestCa;
use crate::support::*;

/// A workspace whose git reaches a [`GitServer`] over HTTPS.
pub struct Life {
    pub ws: Workspace,
    pub server: GitServer,
    pub _ca: TestCa,
    /// The operator's `store`, kept by configure as the wrapped fallback.
    pub store: PathBuf,
}

impl Life {
    /// The server accepts live platform tokens and the operator's PAT; git's
    /// global config trusts the test CA and has a `store` holding the PAT;
    /// then the helper's own `configure --host 127.0.0.1:PORT` puts itself
    /// first and keeps the store as its fallback.
    pub fn new() -> Life {
        Life::with_env(|_| {})
    }

    /// As [`Life::new`], with variables set before anything runs.
    pub fn with_env(set: impl FnOnce(&mut Workspace)) -> Life {
        Life::with_check(set, |ws| {
            let checker = ws.platform.checker();
            Arc::new(move |t: &str| checker.is_live(t))
        })
    }

    /// As [`Life::with_env`], with the server's check of a password made
    /// from the workspace (to record what it was asked, say).
    pub fn with_check(
        set: impl FnOnce(&mut Workspace),
        check: impl FnOnce(&Workspace) -> TokenCheck,
    ) -> Life {
        let mut ws = Workspace::new();
        set(&mut ws);
        let ca = TestCa::new(ws.path());
        let check = check(&ws);
        let server = GitServer::start(
            ca.server_config(&["127.0.0.1"]),
            check,
            Some((FALLBACK_USER, FALLBACK_PAT)),
        );
        let store = ws.path().join("operator-store");
        std::fs::write(
            &store,
            format!("https://{FALLBACK_USER}:{FALLBACK_PAT}@{}\n", server.host()),
        )
        .unwrap();
        ws.write_gitconfig(&format!(
            "[http]\n\tsslCAInfo = {ca}\n\
             [user]\n\tname = Tester\n\temail = tester@example.invalid\n\
             [init]\n\tdefaultBranch = main\n\
             [advice]\n\tdetachedHead = false\n\
             [credential]\n\thelper = store --file={store}\n",
            ca = ca.ca_pem_path().display(),
            store = store.display(),
        ));
        let out = ws.helper(&["configure", "--host", &server.host()], "");
        assert_eq!(out.code(), 0, "{out:?}");
        Life {
            ws,
            server,
            _ca: ca,
            store,
        }
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.ws.path().join(name)
    }

    pub fn p(&self, name: &str) -> String {
        self.dir(name).display().to_string()
    }

    /// git with `args`; must succeed.
    pub fn ok(&self, args: &[&str]) -> Out {
        let out = self.ws.git(args, "");
        assert_eq!(out.code(), 0, "git {args:?}: {out:?}");
        out
    }

    /// The decisions the server made for our token user, accepted or not.
    pub fn token_decisions(&self) -> (usize, usize) {
        (
            self.server.accepted(Some(TOKEN_USER)),
            self.server.refused(Some(TOKEN_USER)),
        )
    }

    /// The operator's store holds no installation token.
    pub fn assert_store_has_no_token(&self) {
        let text = std::fs::read_to_string(&self.store).unwrap();
        assert!(!text.contains("ghs_"), "{text}");
        assert!(!text.contains(TOKEN_USER), "{text}");
    }

    /// Point the helper at a port where nothing listens.
    pub fn platform_down(&mut self) {
        self.ws
            .set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    }
}

fn commit_file(l: &Life, repo: &str, name: &str, text: &str) {
    std::fs::write(Path::new(&l.p(repo)).join(name), text).unwrap();
    l.ok(&["-C", &l.p(repo), "add", name]);
    l.ok(&["-C", &l.p(repo), "commit", "--quiet", "-m", name]);
}

#[test]
fn clone_commit_push_fetch_pull_and_ls_remote_make_one_platform_request() {
    let l = Life::new();
    let url = l
        .server
        .create_bare_with("repo", &[("README.md", "hello\n")]);
    l.ok(&["clone", "--quiet", &url, &l.p("a")]);
    commit_file(&l, "a", "one.txt", "one\n");
    l.ok(&["-C", &l.p("a"), "push", "--quiet"]);
    l.ok(&["clone", "--quiet", &url, &l.p("b")]);
    commit_file(&l, "b", "two.txt", "two\n");
    l.ok(&["-C", &l.p("b"), "push", "--quiet"]);
    l.ok(&["-C", &l.p("a"), "fetch", "--quiet"]);
    l.ok(&["-C", &l.p("a"), "pull", "--quiet", "--ff-only"]);
    assert!(l.dir("a/two.txt").exists());
    let refs = l.ok(&["ls-remote", &url]);
    assert!(refs.stdout.contains("refs/heads/main"), "{refs:?}");

    assert_eq!(l.ws.platform.count(), 1, "{:?}", l.ws.platform.requests());
    let (accepted, refused) = l.token_decisions();
    assert!(accepted >= 7, "{:#?}", l.server.decisions());
    assert_eq!(refused, 0, "{:#?}", l.server.decisions());
    assert_eq!(l.server.accepted(Some(FALLBACK_USER)), 0);
    // git approved our token after every command: the store kept none.
    l.assert_store_has_no_token();
}

#[test]
fn sixteen_parallel_clones_with_an_empty_cache_make_one_platform_request() {
    let l = Life::new();
    let url = l
        .server
        .create_bare_with("repo", &[("README.md", "hello\n")]);
    let outs: Vec<Out> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (l, url) = (&l, &url);
                s.spawn(move || {
                    l.ws.git(&["clone", "--quiet", url, &l.p(&format!("c{i}"))], "")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert_eq!(out.code(), 0, "{out:?}");
    }
    assert_eq!(l.ws.platform.count(), 1, "{:?}", l.ws.platform.requests());
    assert_eq!(l.server.accepted(Some(FALLBACK_USER)), 0);
}

#[test]
fn a_repository_with_an_https_submodule_clones_recursively_with_the_token() {
    let l = Life::new();
    let lib = l
        .server
        .create_bare_with("lib", &[("lib.txt", "library\n")]);
    let app = l.server.create_bare_with("app", &[("app.txt", "app\n")]);
    l.ok(&["clone", "--quiet", &app, &l.p("work")]);
    l.ok(&[
        "-C",
        &l.p("work"),
        "submodule",
        "--quiet",
        "add",
        &lib,
        "lib",
    ]);
    l.ok(&["-C", &l.p("work"), "commit", "--quiet", "-m", "add lib"]);
    l.ok(&["-C", &l.p("work"), "push", "--quiet"]);
    l.ok(&[
        "clone",
        "--quiet",
        "--recurse-submodules",
        &app,
        &l.p("fresh"),
    ]);
    assert_eq!(
        std::fs::read_to_string(l.dir("fresh/lib/lib.txt")).unwrap(),
        "library\n"
    );
    assert!(l.server.decisions().iter().any(|d| d.accepted
        && d.user.as_deref() == Some(TOKEN_USER)
        && d.path == "/lib.git/git-upload-pack"));
    assert_eq!(l.ws.platform.count(), 1);
    assert_eq!(l.server.accepted(Some(FALLBACK_USER)), 0);
}

/// git 2.47 asks for a credential once per command: when the server refuses
/// the cached token, that command fails; git's `erase` makes the helper drop
/// the token, and the next command gets a fresh one.
#[test]
fn a_revoked_token_fails_one_command_and_the_next_gets_a_fresh_token() {
    let l = Life::new();
    let url = l
        .server
        .create_bare_with("repo", &[("README.md", "hello\n")]);
    l.ok(&["clone", "--quiet", &url, &l.p("a")]);
    let first = l.ws.platform.last_token().unwrap();
    l.ws.platform.revoke(&first);

    let failed = l.ws.git(&["-C", &l.p("a"), "fetch", "--quiet"], "");
    assert_eq!(failed.code(), 128, "{failed:?}");
    assert!(
        !l.ws.cache_entry().exists(),
        "erase dropped the revoked token"
    );
    assert_eq!(l.ws.platform.count(), 1);

    l.ok(&["-C", &l.p("a"), "fetch", "--quiet"]);
    assert_eq!(l.ws.platform.count(), 2);
    let second = l.ws.platform.last_token().unwrap();
    assert_ne!(first, second);
    commit_file(&l, "a", "after.txt", "after revocation\n");
    l.ok(&["-C", &l.p("a"), "push", "--quiet"]);
    assert_eq!(l.ws.platform.count(), 2);
    assert_eq!(l.server.accepted(Some(FALLBACK_USER)), 0);
    l.assert_store_has_no_token();
}

#[test]
fn with_the_platform_down_git_reaches_the_operators_pat() {
    let mut l = Life::new();
    let url = l
        .server
        .create_bare_with("repo", &[("README.md", "hello\n")]);
    l.ok(&["clone", "--quiet", &url, &l.p("a")]);
    l.ws.forget_cache();
    l.platform_down();

    commit_file(&l, "a", "outage.txt", "pushed with the PAT\n");
    let push = l.ok(&["-C", &l.p("a"), "push", "--quiet"]);
    assert!(
        push.stderr.contains("cannot connect to the platform"),
        "{push:?}"
    );
    assert!(l.server.accepted(Some(FALLBACK_USER)) >= 1);

    // Sixteen commands at once, all at the PAT.
    let outs: Vec<Out> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (l, url) = (&l, &url);
                s.spawn(move || l.ws.git(&["ls-remote", url], ""))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert_eq!(out.code(), 0, "{out:?}");
        assert!(out.stdout.contains("refs/heads/main"), "{out:?}");
    }
    assert_eq!(l.server.refused(Some(FALLBACK_USER)), 0);
    // The PAT was handed back to the store by git's approve; nothing else.
    let store = std::fs::read_to_string(&l.store).unwrap();
    assert!(store.contains(FALLBACK_PAT), "{store}");
    l.assert_store_has_no_token();
}

#[test]
fn after_a_push_with_the_platform_up_the_pat_store_holds_no_token() {
    let l = Life::new();
    let url = l
        .server
        .create_bare_with("repo", &[("README.md", "hello\n")]);
    l.ok(&["clone", "--quiet", &url, &l.p("a")]);
    commit_file(&l, "a", "x.txt", "x\n");
    l.ok(&["-C", &l.p("a"), "push", "--quiet"]);
    assert!(l.token_decisions().0 >= 2);
    let store = std::fs::read_to_string(&l.store).unwrap();
    assert_eq!(
        store,
        format!(
            "https://{FALLBACK_USER}:{FALLBACK_PAT}@{}\n",
            l.server.host()
        )
    );
}

/// An old entrypoint left a dead `x-access-token` line above the PAT in the
/// operator's store. With the platform down, the first command meets the
/// dead token and fails; git's `erase` reaches the store through the
/// fallback wrapper and removes exactly that line; the next command gets the
/// PAT.
#[test]
fn a_dead_stored_token_above_the_pat_costs_one_command() {
    let mut l = Life::new();
    let url = l
        .server
        .create_bare_with("repo", &[("README.md", "hello\n")]);
    let dead = "ghs_deadTokenLeftByAnOldEntrypoint0123";
    l.ws.add_secret(dead);
    let host = l.server.host();
    std::fs::write(
        &l.store,
        format!(
            "https://{TOKEN_USER}:{dead}@{host}\nhttps://{FALLBACK_USER}:{FALLBACK_PAT}@{host}\n"
        ),
    )
    .unwrap();
    l.platform_down();

    let first = l.ws.git(&["ls-remote", &url], "");
    assert_eq!(first.code(), 128, "{first:?}");
    let store = std::fs::read_to_string(&l.store).unwrap();
    assert!(
        !store.contains(dead),
        "erase did not reach the store: {store}"
    );
    assert!(store.contains(FALLBACK_PAT), "{store}");

    let second = l.ok(&["ls-remote", &url]);
    assert!(second.stdout.contains("refs/heads/main"), "{second:?}");
    assert!(l.server.accepted(Some(FALLBACK_USER)) >= 1);
}

/// The operator's PAT kept under the user name `x-access-token` (what the
/// old entrypoint wrote), and a server that refuses the platform's token:
/// git rejects it, and the erase must not reach the store, whose
/// `credential-store` on git < 2.41 erases every entry of the host and
/// user name (the PAT with it). Run with each git (scripts/test.sh).
#[test]
fn a_refused_platform_token_leaves_the_pat_stored_under_its_user_name() {
    let mut l = Life::new();
    let url = l
        .server
        .create_bare_with("repo", &[("README.md", "hello\n")]);
    let host = l.server.host();
    let pat = format!("operator-pat-{}", unique());
    l.ws.add_secret(&pat);
    let line = format!("https://{TOKEN_USER}:{pat}@{host}\n");
    std::fs::write(&l.store, &line).unwrap();
    // Every x-access-token credential is checked as this PAT: the
    // platform's token is refused.
    l.server.set_pat(Some((TOKEN_USER, &pat)));

    let refused = l.ws.git(&["ls-remote", &url], "");
    assert_eq!(refused.code(), 128, "{refused:?}");
    assert!(
        l.ws.platform.count() >= 1,
        "the platform's token was not tried"
    );
    assert_eq!(
        std::fs::read_to_string(&l.store).unwrap(),
        line,
        "the erase of the refused token cost the operator the PAT"
    );

    l.platform_down();
    let out = l.ok(&["ls-remote", &url]);
    assert!(out.stdout.contains("refs/heads/main"), "{out:?}");
    assert!(
        l.server.accepted(Some(TOKEN_USER)) >= 1,
        "the PAT was not used"
    );
}

/// git-lfs on PATH, or a panic that says how to install it.
fn require_git_lfs(l: &Life) {
    let found = std::process::Command::new("git-lfs")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "git-lfs is missing: apt-get install -y git-lfs");
    l.ok(&["lfs", "install", "--skip-repo"]);
}

#[test]
fn git_lfs_pushes_and_fetches_an_object_with_the_helpers_token() {
    let l = Life::new();
    require_git_lfs(&l);
    let url = l
        .server
        .create_bare_with("media", &[("README.md", "media\n")]);
    l.ok(&["clone", "--quiet", &url, &l.p("a")]);
    l.ok(&["-C", &l.p("a"), "lfs", "track", "*.bin"]);
    let content: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(l.dir("a/blob.bin"), &content).unwrap();
    l.ok(&["-C", &l.p("a"), "add", ".gitattributes", "blob.bin"]);
    l.ok(&["-C", &l.p("a"), "commit", "--quiet", "-m", "an LFS object"]);
    l.ok(&["-C", &l.p("a"), "push", "--quiet", "origin", "main"]);
    assert_eq!(l.server.lfs_objects("media").len(), 1);

    l.ok(&["clone", "--quiet", &url, &l.p("b")]);
    assert_eq!(std::fs::read(l.dir("b/blob.bin")).unwrap(), content);
    let lfs_by_token = |method: &str| {
        l.server.decisions().iter().any(|d| {
            d.accepted
                && d.user.as_deref() == Some(TOKEN_USER)
                && d.method == method
                && d.path.contains("/info/lfs/objects")
        })
    };
    assert!(lfs_by_token("PUT"), "{:#?}", l.server.decisions());
    assert!(lfs_by_token("GET"), "{:#?}", l.server.decisions());
    assert_eq!(l.server.accepted(Some(FALLBACK_USER)), 0);
    assert_eq!(l.ws.platform.count(), 1);
    l.assert_store_has_no_token();
}

/// Every process's argv, sampled until `stop`: what a token must never be in.
pub fn sample_argv(stop: &std::sync::atomic::AtomicBool, seen: &std::sync::Mutex<Vec<String>>) {
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                if let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) {
                    let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
                    if text.contains("ghs_") {
                        seen.lock().unwrap().push(text);
                    }
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Files under `dir` (not `skip`) that hold any of `secrets`.
pub fn files_holding(dir: &Path, skip: &Path, secrets: &[String]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.starts_with(skip) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            found.extend(files_holding(&path, skip, secrets));
        } else if meta.is_file() {
            let text =
                String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
            if secrets.iter().any(|s| text.contains(s.as_str())) {
                found.push(path);
            }
        }
    }
    found
}

/// The whole life of a workspace, at 40-second token lifetimes: every few
/// seconds `git fetch` and `git push` to the HTTPS remote, `gh api` through
/// the gh proxy, and a script that calls the API with curl and
/// `$GITHUB_TOKEN`, under `exec` and as an agent's `bash -c` with `BASH_ENV`
/// naming shell-init's script, all with the container-start GH_TOKEN/GITHUB_TOKEN
/// (dead) in the environment, for more than three lifetimes. Midway the
/// platform answers 503 for 10 s. While it is up nothing fails; during the
/// outage git reaches the operator's PAT; the platform sees a few requests
/// per lifetime; no token in any stderr, argv or file outside the cache.
#[test]
fn a_workspace_lives_through_three_token_lifetimes_and_an_outage() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    const LIFETIME: i64 = 40;
    const OUTAGE: Duration = Duration::from_secs(10);
    // The failure memory (5 s) keeps processes at the fallback for a moment
    // after the platform is back.
    const AFTER_OUTAGE: Duration = Duration::from_secs(6);
    real_gh_dir();
    let mut l = Life::with_env(|ws| ws.set_env("MOLECULE_TOKEN_REFRESH_WINDOW", "10"));
    l.ws.platform.set_expires_in(LIFETIME);
    let (stack, _gh_config) = l.ws.start_github();
    // git reaches its remote on 127.0.0.1 directly; gh and curl go by name.
    l.ws.set_env("NO_PROXY", "127.0.0.1");
    l.ws.set_env("no_proxy", "127.0.0.1");
    let proxy_dir = l.dir("proxy-bin");
    std::fs::create_dir_all(&proxy_dir).unwrap();
    std::os::unix::fs::symlink(BIN, proxy_dir.join("gh")).unwrap();
    let path = crate::support::test_git::path_string();
    l.ws.set_env("PATH", format!("{}:{path}", proxy_dir.display()));
    // The container-start tokens: minted once, long dead.
    let stale = "ghs_containerStartTokenDiedLongAgo000";
    l.ws.add_secret(stale);
    l.ws.set_env("GH_TOKEN", stale);
    l.ws.set_env("GITHUB_TOKEN", stale);

    let url = l
        .server
        .create_bare_with("repo", &[("README.md", "hello\n")]);
    l.ok(&["clone", "--quiet", &url, &l.p("a")]);
    let curl_script = format!(
        "printf 'header = \"Authorization: token %s\"\\n' \"$GITHUB_TOKEN\" | \
         curl -sS -f -o /dev/null -K - --cacert {ca} https://api.github.com/repos/o/r",
        ca = stack.ca.ca_pem_path().display()
    );

    // An agent's commands: `bash -c` with BASH_ENV naming shell-init's script,
    // as install.sh writes it.
    let env_bash = l.dir("env.bash");
    let script = l.ws.helper(&["shell-init", "bash"], "");
    assert_eq!(script.code(), 0, "{script:?}");
    std::fs::write(&env_bash, &script.stdout).unwrap();

    let stop = AtomicBool::new(false);
    let argv_seen = std::sync::Mutex::new(Vec::new());
    let started = Instant::now();
    let total = Duration::from_secs(3 * LIFETIME as u64 + 15);
    let outage_at = Duration::from_secs(60);
    let mut outage: Option<(Instant, Option<Instant>)> = None;
    let mut failures_while_up = Vec::new();
    let mut git_at_pat_during_outage = 0;
    let mut round = 0;
    std::thread::scope(|s| {
        s.spawn(|| sample_argv(&stop, &argv_seen));
        while started.elapsed() < total {
            round += 1;
            // The outage: the platform answers 503, and the cache starts empty.
            match outage {
                None if started.elapsed() >= outage_at => {
                    l.ws.platform.set_default(Reply::status(503));
                    l.ws.forget_cache();
                    outage = Some((Instant::now(), None));
                }
                Some((begun, None)) if begun.elapsed() >= OUTAGE => {
                    l.ws.platform.set_default(Reply::Token);
                    outage = Some((begun, Some(Instant::now())));
                }
                _ => {}
            }
            let up = match outage {
                None => true,
                Some((_, Some(ended))) => ended.elapsed() >= AFTER_OUTAGE,
                Some((_, None)) => false,
            };
            let pat_before = l.server.accepted(Some(FALLBACK_USER));
            std::fs::write(l.dir(&format!("a/round{round}.txt")), "x\n").unwrap();
            let ops: Vec<(&str, Out)> = vec![
                (
                    "fetch",
                    l.ws.git(&["-C", &l.p("a"), "fetch", "--quiet"], ""),
                ),
                ("add", l.ws.git(&["-C", &l.p("a"), "add", "."], "")),
                (
                    "commit",
                    l.ws.git(&["-C", &l.p("a"), "commit", "--quiet", "-m", "round"], ""),
                ),
                ("push", l.ws.git(&["-C", &l.p("a"), "push", "--quiet"], "")),
                ("gh api", {
                    let mut c = l.ws.command("sh");
                    c.args(["-c", "exec gh api repos/o/r --jq .full_name"]);
                    l.ws.run(c, "")
                }),
                (
                    "exec curl",
                    l.ws.helper(&["exec", "--", "sh", "-c", &curl_script], ""),
                ),
                ("bash -c curl with BASH_ENV", {
                    let mut c = l.ws.command("bash");
                    c.args(["-c", &curl_script]).env("BASH_ENV", &env_bash);
                    l.ws.run(c, "")
                }),
            ];
            for (name, out) in &ops {
                let git = matches!(*name, "fetch" | "add" | "commit" | "push");
                if out.code() != 0 && (up || git) {
                    failures_while_up.push(format!(
                        "round {round} at {:?}, {name}: {out:?}",
                        started.elapsed()
                    ));
                }
            }
            if !up && l.server.accepted(Some(FALLBACK_USER)) > pat_before {
                git_at_pat_during_outage += 1;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(failures_while_up, Vec::<String>::new());
    assert!(
        outage.is_some_and(|(_, end)| end.is_some()),
        "no outage happened"
    );
    assert!(
        git_at_pat_during_outage >= 1,
        "git never reached the PAT during the outage"
    );
    // A token per lifetime and a refresh, the outage's few, and the
    // recovery: a small constant per lifetime, not one per operation.
    let lifetimes = started.elapsed().as_secs() / LIFETIME as u64 + 1;
    let requests = l.ws.platform.count() as u64;
    assert!(
        requests <= 4 * lifetimes,
        "{requests} platform requests in {lifetimes} lifetimes over {round} rounds"
    );
    assert!(
        requests >= 3,
        "tokens were not renewed: {requests} requests"
    );
    let mut tokens = l.ws.platform.tokens();
    tokens.push(stale.to_string());
    // Other tests run beside this one: only this workspace's tokens count.
    let leaked: Vec<String> = argv_seen
        .into_inner()
        .unwrap()
        .into_iter()
        .filter(|argv| tokens.iter().any(|t| argv.contains(t.as_str())))
        .collect();
    assert_eq!(leaked, Vec::<String>::new());
    let cache = l.ws.cache.clone();
    assert_eq!(
        files_holding(l.ws.path(), &cache, &tokens),
        Vec::<PathBuf>::new()
    );
}
