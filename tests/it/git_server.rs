//! Self-tests of the HTTPS git remote (tests/support/git_server.rs) with the real git and the
//! real git-lfs: git trusts the test CA through `http.sslCAInfo` in the workspace's global
//! config, and its credentials come from git's `store` helper behind a wrapper that logs each
//! operation (get/store/erase), so that each test also counts what git asks per command.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::support::git_server::*;
use crate::support::tls::TestCa;
use crate::support::*;

/// A workspace whose git talks to a [`GitServer`] over HTTPS, credentials from a logged `store`.
struct Remote {
    ws: Workspace,
    server: GitServer,
    _ca: TestCa,
    /// the tokens the server's check accepts
    live: Arc<Mutex<HashSet<String>>>,
    store: PathBuf,
    cred_log: PathBuf,
}

impl Remote {
    /// The server accepts the operator PAT and the tokens in `live`; the store is empty.
    fn new() -> Remote {
        let ws = Workspace::new();
        let ca = TestCa::new(ws.path());
        let live: Arc<Mutex<HashSet<String>>> = Arc::default();
        let for_check = Arc::clone(&live);
        let check: TokenCheck = Arc::new(move |t: &str| for_check.lock().unwrap().contains(t));
        let server = GitServer::start(
            ca.server_config(&["127.0.0.1"]),
            check,
            Some((FALLBACK_USER, FALLBACK_PAT)),
        );
        let store = ws.path().join("store");
        let cred_log = ws.path().join("credential.log");
        std::fs::write(&store, "").unwrap();
        ws.write_gitconfig(&format!(
            "[http]\n\tsslCAInfo = {ca}\n\
             [user]\n\tname = Tester\n\temail = tester@example.invalid\n\
             [init]\n\tdefaultBranch = main\n\
             [advice]\n\tdetachedHead = false\n\
             [credential]\n\thelper = \"!f() {{ echo \\\"$1\\\" >> {log}; \
             git credential-store --file={store} \\\"$@\\\"; }}; f\"\n",
            ca = ca.ca_pem_path().display(),
            log = cred_log.display(),
            store = store.display(),
        ));
        Remote {
            ws,
            server,
            _ca: ca,
            live,
            store,
            cred_log,
        }
    }

    /// Store `user:password` for the server's host (replacing what the store held).
    fn store_credential(&self, user: &str, password: &str) {
        self.ws.add_secret(password);
        std::fs::write(
            &self.store,
            format!("https://{user}:{password}@{}\n", self.server.host()),
        )
        .unwrap();
    }

    /// A new token the server accepts.
    fn live_token(&self) -> String {
        let token = format!("ghs_live{}", unique().replace('x', "0"));
        self.live.lock().unwrap().insert(token.clone());
        token
    }

    /// Run git (its `-C` given in args when needed); returns the output and the credential
    /// operations git asked for during it.
    fn git(&self, args: &[&str]) -> (Out, Vec<String>) {
        let before = self.cred_ops().len();
        let out = self.ws.git(args, "");
        let ops = self.cred_ops()[before..].to_vec();
        (out, ops)
    }

    /// git must succeed; returns the credential operations it asked for.
    fn ok(&self, args: &[&str]) -> Vec<String> {
        let (out, ops) = self.git(args);
        assert_eq!(out.code(), 0, "git {args:?} failed: {out:?}");
        eprintln!("credential requests of git {}: {ops:?}", args.join(" "));
        ops
    }

    fn cred_ops(&self) -> Vec<String> {
        std::fs::read_to_string(&self.cred_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.ws.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.dir(name).display().to_string()
    }
}

fn count(ops: &[String], op: &str) -> usize {
    ops.iter().filter(|o| *o == op).count()
}

/// `n` bytes that do not compress (xorshift), so that a push of them is a large, chunked POST.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// No decision shows more than the last 4 characters of a password.
fn assert_tails_only(server: &GitServer, secrets: &[&str]) {
    for d in server.decisions() {
        let shown = format!("{d} {d:?}");
        for secret in secrets {
            assert!(!shown.contains(secret), "a password in the log: {shown}");
        }
        assert!(
            d.password_tail
                .as_ref()
                .is_none_or(|t| t.chars().count() <= 4)
        );
    }
}

#[test]
fn with_the_pat_clone_commit_push_fetch_pull_and_ls_remote_succeed() {
    let r = Remote::new();
    let url = r
        .server
        .create_bare_with("demo", &[("README.md", "hello\n")]);
    r.store_credential(FALLBACK_USER, FALLBACK_PAT);

    let clone_ops = r.ok(&["clone", "--quiet", &url, &r.p("a")]);
    assert_eq!(
        std::fs::read_to_string(r.dir("a/README.md")).unwrap(),
        "hello\n"
    );
    // A large incompressible file makes the push a chunked POST (above http.postBuffer).
    std::fs::write(r.dir("a/big.bin"), noise(3 << 20, 7)).unwrap();
    std::fs::write(r.dir("a/README.md"), "hello again\n").unwrap();
    r.ok(&["-C", &r.p("a"), "add", "."]);
    r.ok(&["-C", &r.p("a"), "commit", "--quiet", "-m", "two files"]);
    let push_ops = r.ok(&["-C", &r.p("a"), "push", "--quiet", "origin", "main"]);

    let fetch_ops = r.ok(&["-C", &r.p("a"), "fetch", "--quiet", "origin"]);
    let ls_ops = r.ok(&["ls-remote", &url]);
    let (ls, _) = r.git(&["ls-remote", &url, "refs/heads/main"]);
    let head = r.ws.git(&["-C", &r.p("a"), "rev-parse", "HEAD"], "");
    assert!(ls.stdout.starts_with(head.stdout.trim()), "{ls:?} {head:?}");

    // A second clone sees the push, and pulls a further one.
    r.ok(&["clone", "--quiet", &url, &r.p("b")]);
    assert_eq!(
        std::fs::read(r.dir("b/big.bin")).unwrap(),
        noise(3 << 20, 7)
    );
    std::fs::write(r.dir("a/third"), "3\n").unwrap();
    r.ok(&["-C", &r.p("a"), "add", "third"]);
    r.ok(&["-C", &r.p("a"), "commit", "--quiet", "-m", "third"]);
    r.ok(&["-C", &r.p("a"), "push", "--quiet"]);
    let pull_ops = r.ok(&["-C", &r.p("b"), "pull", "--quiet", "--ff-only"]);
    assert_eq!(std::fs::read_to_string(r.dir("b/third")).unwrap(), "3\n");

    // git asks once per command and stores what worked.
    for ops in [&clone_ops, &push_ops, &fetch_ops, &ls_ops, &pull_ops] {
        assert_eq!(count(ops, "get"), 1, "{ops:?}");
        assert_eq!(count(ops, "store"), 1, "{ops:?}");
        assert_eq!(count(ops, "erase"), 0, "{ops:?}");
    }
    // Every request was decided; only the anonymous first ones were refused.
    let decisions = r.server.decisions();
    assert!(
        r.server.accepted(Some(FALLBACK_USER)) >= 10,
        "{decisions:#?}"
    );
    assert_eq!(r.server.refused(Some(FALLBACK_USER)), 0, "{decisions:#?}");
    assert_eq!(r.server.accepted(Some(TOKEN_USER)), 0);
    assert!(decisions.iter().all(|d| d.accepted || d.user.is_none()));
    assert!(
        decisions
            .iter()
            .filter(|d| d.accepted)
            .all(|d| d.reason == "pat" && d.password_tail.as_deref() == Some("6789"))
    );
    assert!(
        decisions
            .iter()
            .any(|d| d.method == "POST" && d.path == "/demo.git/git-receive-pack")
    );
    assert_tails_only(&r.server, &[FALLBACK_PAT]);
}

#[test]
fn with_a_live_token_clone_and_push_succeed_and_a_dead_one_is_refused() {
    let r = Remote::new();
    let url = r.server.create_bare_with("demo", &[("a.txt", "a\n")]);
    let token = r.live_token();
    r.store_credential(TOKEN_USER, &token);

    r.ok(&["clone", "--quiet", &url, &r.p("a")]);
    std::fs::write(r.dir("a/b.txt"), "b\n").unwrap();
    r.ok(&["-C", &r.p("a"), "add", "b.txt"]);
    r.ok(&["-C", &r.p("a"), "commit", "--quiet", "-m", "b"]);
    r.ok(&["-C", &r.p("a"), "push", "--quiet"]);
    assert!(r.server.accepted(Some(TOKEN_USER)) >= 4);
    assert_eq!(r.server.refused(Some(TOKEN_USER)), 0);
    assert_eq!(r.server.accepted(Some(FALLBACK_USER)), 0);
    let tail = tail(&token);
    assert!(
        r.server
            .decisions()
            .iter()
            .filter(|d| d.accepted)
            .all(|d| d.reason == "token" && d.password_tail.as_deref() == Some(tail.as_str()))
    );

    // The platform revokes it: the next command fails once, git erases it from the store.
    r.live.lock().unwrap().clear();
    r.server.clear_decisions();
    let (out, ops) = r.git(&["-C", &r.p("a"), "fetch", "origin"]);
    eprintln!("credential requests of a fetch with a revoked token: {ops:?}");
    assert_eq!(out.code(), 128, "{out:?}");
    assert_eq!(count(&ops, "get"), 1, "{ops:?}");
    assert_eq!(count(&ops, "erase"), 1, "{ops:?}");
    assert_eq!(
        r.server.refused(Some(TOKEN_USER)),
        1,
        "{:#?}",
        r.server.decisions()
    );
    assert!(
        r.server
            .decisions()
            .iter()
            .any(|d| !d.accepted && d.reason == "token refused")
    );
    assert_eq!(std::fs::read_to_string(&r.store).unwrap().trim(), "");
    assert_tails_only(&r.server, &[&token]);
}

#[test]
fn a_wrong_password_fails_with_128_and_the_refusal_is_logged() {
    let r = Remote::new();
    let url = r.server.create_bare_with("demo", &[("a.txt", "a\n")]);
    let wrong = "not-the-pat-wxyz";
    r.store_credential(FALLBACK_USER, wrong);

    let (out, ops) = r.git(&["clone", &url, &r.p("a")]);
    eprintln!("credential requests of a clone with a wrong PAT: {ops:?}");
    assert_eq!(out.code(), 128, "{out:?}");
    assert!(out.stderr.contains("Authentication failed"), "{out:?}");
    assert!(!r.dir("a").exists());
    let refused: Vec<Decision> = r
        .server
        .decisions()
        .into_iter()
        .filter(|d| d.user.as_deref() == Some(FALLBACK_USER))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert!(!refused[0].accepted);
    assert_eq!(refused[0].reason, "wrong pat");
    assert_eq!(refused[0].password_tail.as_deref(), Some("wxyz"));
    assert_eq!(refused[0].path, "/demo.git/info/refs");
    assert_eq!(r.server.accepted(Some(FALLBACK_USER)), 0);
    assert_tails_only(&r.server, &[wrong]);

    // The right PAT, but the server refuses everything; then accepts again.
    r.store_credential(FALLBACK_USER, FALLBACK_PAT);
    r.server.refuse_all(true);
    let (out, _) = r.git(&["ls-remote", &url]);
    assert_eq!(out.code(), 128, "{out:?}");
    assert!(
        r.server
            .decisions()
            .iter()
            .any(|d| d.reason == "refusing all")
    );
    r.server.refuse_all(false);
    r.store_credential(FALLBACK_USER, FALLBACK_PAT);
    r.ok(&["ls-remote", &url]);

    // A changed PAT: the old one is refused from now on.
    r.server.set_pat(Some((FALLBACK_USER, "a-new-pat-0000")));
    let (out, _) = r.git(&["ls-remote", &url]);
    assert_eq!(out.code(), 128, "{out:?}");
}

#[test]
fn a_repository_with_an_https_submodule_clones_recursively() {
    let r = Remote::new();
    let lib = r
        .server
        .create_bare_with("lib", &[("lib.txt", "library\n")]);
    let app = r.server.create_bare_with("app", &[("app.txt", "app\n")]);
    r.store_credential(FALLBACK_USER, FALLBACK_PAT);

    r.ok(&["clone", "--quiet", &app, &r.p("work")]);
    r.ok(&[
        "-C",
        &r.p("work"),
        "submodule",
        "--quiet",
        "add",
        &lib,
        "lib",
    ]);
    r.ok(&["-C", &r.p("work"), "commit", "--quiet", "-m", "add lib"]);
    r.ok(&["-C", &r.p("work"), "push", "--quiet"]);

    let ops = r.ok(&[
        "clone",
        "--quiet",
        "--recurse-submodules",
        &app,
        &r.p("fresh"),
    ]);
    assert_eq!(
        std::fs::read_to_string(r.dir("fresh/lib/lib.txt")).unwrap(),
        "library\n"
    );
    assert!(count(&ops, "get") >= 1, "{ops:?}");
    assert!(
        r.server
            .decisions()
            .iter()
            .any(|d| d.accepted && d.path == "/lib.git/git-upload-pack")
    );
}

/// git-lfs on PATH, or a panic that says how to install it.
fn require_git_lfs(r: &Remote) {
    let found = std::process::Command::new("git-lfs")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "git-lfs is missing: apt-get install -y git-lfs");
    r.ok(&["lfs", "install", "--skip-repo"]);
}

#[test]
fn git_lfs_pushes_and_fetches_an_object_through_the_batch_endpoint() {
    let r = Remote::new();
    require_git_lfs(&r);
    let url = r
        .server
        .create_bare_with("media", &[("README.md", "media\n")]);
    r.store_credential(FALLBACK_USER, FALLBACK_PAT);

    r.ok(&["clone", "--quiet", &url, &r.p("a")]);
    r.ok(&["-C", &r.p("a"), "lfs", "track", "*.bin"]);
    let content = noise(200_000, 11);
    let oid = sha256_hex(&content);
    std::fs::write(r.dir("a/blob.bin"), &content).unwrap();
    r.ok(&["-C", &r.p("a"), "add", ".gitattributes", "blob.bin"]);
    r.ok(&["-C", &r.p("a"), "commit", "--quiet", "-m", "an LFS object"]);
    let push_ops = r.ok(&["-C", &r.p("a"), "push", "--quiet", "origin", "main"]);
    assert_eq!(r.server.lfs_objects("media"), vec![oid.clone()]);
    assert!(
        r.server
            .decisions()
            .iter()
            .any(|d| d.accepted && d.method == "PUT" && d.path.ends_with(&oid)),
        "{:#?}",
        r.server.decisions()
    );

    // A clone without smudging, then `git lfs fetch` and checkout.
    let mut c = r.ws.command("git");
    c.env("GIT_LFS_SKIP_SMUDGE", "1")
        .args(["clone", "--quiet", &url, &r.p("b")]);
    let out = r.ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    let pointer = std::fs::read_to_string(r.dir("b/blob.bin")).unwrap();
    assert!(pointer.contains(&oid), "{pointer}");
    let fetch_ops = r.ok(&["-C", &r.p("b"), "lfs", "fetch", "origin", "main"]);
    r.ok(&["-C", &r.p("b"), "lfs", "checkout"]);
    assert_eq!(std::fs::read(r.dir("b/blob.bin")).unwrap(), content);
    assert!(
        r.server
            .decisions()
            .iter()
            .any(|d| d.accepted && d.method == "GET" && d.path.ends_with(&oid))
    );

    // A plain clone smudges through the same endpoint.
    let clone_ops = r.ok(&["clone", "--quiet", &url, &r.p("c")]);
    assert_eq!(std::fs::read(r.dir("c/blob.bin")).unwrap(), content);
    for ops in [&push_ops, &fetch_ops, &clone_ops] {
        assert!(count(ops, "get") >= 1, "{ops:?}");
        assert_eq!(count(ops, "erase"), 0, "{ops:?}");
    }
    assert!(
        r.server
            .decisions()
            .iter()
            .any(|d| d.path == "/media.git/info/lfs/objects/batch" && d.accepted)
    );
    assert_eq!(r.server.refused(Some(FALLBACK_USER)), 0);
    assert_tails_only(&r.server, &[FALLBACK_PAT]);
}

/// One raw HTTP/1.1 request over plain TCP; (status, headers and body as text).
fn raw(server: &GitServer, request: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(request).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    (code, text)
}

fn basic(user: &str, password: &str) -> String {
    base64_encode(format!("{user}:{password}").as_bytes())
}

#[test]
fn the_http_side_refuses_without_credentials_and_checks_lfs_uploads() {
    let server = GitServer::start_plain(
        Arc::new(|t: &str| t == "ghs_good"),
        Some(("operator", "pat-1234")),
    );
    server.create_bare("r");
    let get = |auth: &str| {
        raw(
            &server,
            format!(
                "GET /r.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    };
    let (code, text) = get("");
    assert_eq!(code, 401, "{text}");
    assert!(
        text.contains("WWW-Authenticate: Basic realm=\"test\""),
        "{text}"
    );
    let (code, _) = get(&format!(
        "Authorization: Basic {}\r\n",
        basic("x-access-token", "ghs_bad")
    ));
    assert_eq!(code, 401);
    let (code, _) = get(&format!(
        "Authorization: Basic {}\r\n",
        basic("someone", "pat-1234")
    ));
    assert_eq!(code, 401);
    let (code, text) = get(&format!(
        "Authorization: Basic {}\r\n",
        basic("x-access-token", "ghs_good")
    ));
    assert_eq!(code, 200, "{text}");
    assert!(
        text.contains("application/x-git-upload-pack-advertisement"),
        "{text}"
    );
    let reasons: Vec<&str> = server.decisions().iter().map(|d| d.reason).collect();
    assert_eq!(
        reasons,
        ["no credentials", "token refused", "unknown user", "token"]
    );
    assert_eq!(server.refused(None), 1);
    assert_eq!(server.refused(Some("x-access-token")), 1);
    assert_eq!(server.accepted(Some("x-access-token")), 1);

    // An LFS upload whose content does not hash to its oid is refused and not stored.
    let auth = format!("Authorization: Basic {}\r\n", basic("operator", "pat-1234"));
    let oid = sha256_hex(b"right");
    let put = |content: &[u8]| {
        let mut request = format!(
            "PUT /r.git/info/lfs/objects/{oid} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
            content.len()
        )
        .into_bytes();
        request.extend_from_slice(content);
        raw(&server, &request)
    };
    assert_eq!(put(b"wrong").0, 422);
    assert!(server.lfs_objects("r").is_empty());
    assert_eq!(put(b"right").0, 200);
    assert_eq!(server.lfs_objects("r"), vec![oid.clone()]);
    let batch = format!(
        r#"{{"operation":"download","transfers":["basic"],"objects":[{{"oid":"{oid}","size":5}},{{"oid":"{}","size":1}}]}}"#,
        sha256_hex(b"absent")
    );
    let (code, text) = raw(
        &server,
        format!(
            "POST /r.git/info/lfs/objects/batch HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/vnd.git-lfs+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{batch}",
            batch.len()
        )
        .as_bytes(),
    );
    assert_eq!(code, 200, "{text}");
    let href = format!("{}/r.git/info/lfs/objects/{oid}", server.url());
    assert!(text.contains(&href), "{text}");
    assert!(text.contains(r#""code":404"#), "{text}");
}

#[test]
fn dropping_the_server_stops_it() {
    let server = GitServer::start_plain(Arc::new(|_: &str| false), None);
    let port = server.port();
    // A connection left open is closed by the drop, and nothing listens after it.
    let mut open = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    open.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    drop(server);
    let mut rest = Vec::new();
    assert!(matches!(open.read_to_end(&mut rest), Ok(0) | Err(_)));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
