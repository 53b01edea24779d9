//! The other clients of git's credentials in a workspace, for real, against
//! the life test's git server over HTTPS (a private dependency in `o/…`):
//! cargo (which runs this helper only with `net.git-fetch-with-cli`, set by
//! `configure --cargo`), npm with a `git+https` dependency, pip with
//! `git+https`, and Go modules (`GOPRIVATE`). Each gets the platform's token
//! with one platform request, stores it nowhere (the PAT store, lockfiles,
//! caches), and gets the operator's PAT during an outage. Every process is
//! bounded in time, with the stale container-start `GH_TOKEN`/`GITHUB_TOKEN`
//! in its environment, and nothing reaches the network: each registry is
//! a port on 127.0.0.1 where nothing listens.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::life::{Life, files_holding};
use crate::support::*;

/// Longest any one client command may run.
const BOUND: &str = "120";

/// A life workspace whose processes hold a stale container-start token
/// (checked for on every stderr, as the platform's tokens are).
fn life() -> Life {
    let stale = format!("ghs_containerStart{}", unique().replace('x', "X"));
    Life::with_env(|ws| {
        ws.add_secret(&stale);
        ws.set_env("GH_TOKEN", &stale);
        ws.set_env("GITHUB_TOKEN", &stale);
    })
}

/// `program` with `args` in `dir`, killed after [`BOUND`] seconds.
fn bounded(l: &Life, dir: &Path, program: &str, args: &[&str]) -> Command {
    let mut c = l.ws.command("timeout");
    c.args(["--kill-after=5", BOUND, program])
        .args(args)
        .current_dir(dir);
    c
}

fn run(l: &Life, c: Command) -> Out {
    let out = l.ws.run(c, "");
    assert_ne!(out.code(), 124, "timed out: {out:?}");
    out
}

/// The tokens the platform handed out: nothing under `dir` (but the
/// helper's own cache) may hold one, nor the operator's store.
fn assert_stored_nowhere(l: &Life, dir: &Path) {
    let found = files_holding(dir, &l.ws.cache, &l.ws.platform.tokens());
    assert!(found.is_empty(), "a token was stored in {found:?}");
    l.assert_store_has_no_token();
}

/// Served by the platform: one request, tokens accepted, the PAT never.
fn assert_served_the_token(l: &Life) {
    assert_eq!(l.ws.platform.count(), 1);
    let (accepted, refused) = l.token_decisions();
    assert!(accepted >= 1 && refused == 0, "{:?}", l.server.decisions());
    assert_eq!(l.server.accepted(Some(FALLBACK_USER)), 0);
}

/// The platform is down and nothing is cached: the operator's PAT.
fn go_down(l: &mut Life) {
    l.ws.forget_cache();
    l.platform_down();
}

fn assert_served_the_pat(l: &Life, before: usize) {
    assert!(
        l.server.accepted(Some(FALLBACK_USER)) >= 1,
        "{:?}",
        l.server.decisions()
    );
    assert_eq!(
        l.token_decisions().0,
        before,
        "no platform token in an outage"
    );
}

// ---------------------------------------------------------------- cargo

/// The cargo running these tests (the toolchain's, not a rustup proxy:
/// CARGO_HOME is the workspace's own), with its rustc.
fn real_cargo() -> (PathBuf, PathBuf) {
    let cargo = PathBuf::from(env!("CARGO"));
    let rustc = cargo.with_file_name("rustc");
    (cargo, rustc)
}

/// A crate `app` depending on the private `o/dep` of the git server, with
/// cargo's home in the workspace. Returns the crate's directory.
fn cargo_project(l: &mut Life) -> PathBuf {
    let dep = l.server.create_bare_with(
        "o/dep",
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"dep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            ("src/lib.rs", "pub fn answer() -> u32 { 42 }\n"),
        ],
    );
    let app = l.dir("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::write(
        app.join("Cargo.toml"),
        format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ndep = {{ git = \"{dep}\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(app.join("src/lib.rs"), "").unwrap();
    let (_, rustc) = real_cargo();
    let home = l.dir("cargo-home");
    l.ws.set_env("CARGO_HOME", &home);
    l.ws.set_env("RUSTC", &rustc);
    l.ws.set_env("CARGO_NET_RETRY", "0");
    l.ws.set_env("CARGO_TERM_COLOR", "never");
    // Should env!("CARGO") be a rustup proxy, it finds its toolchain still.
    for name in ["RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(value) = std::env::var_os(name) {
            l.ws.set_env(name, value);
        }
    }
    app
}

fn cargo_fetch(l: &Life, app: &Path) -> Out {
    let (cargo, _) = real_cargo();
    run(l, bounded(l, app, cargo.to_str().unwrap(), &["fetch"]))
}

/// Why `configure --cargo` exists: with its own transport, cargo never asks
/// this helper while the platform is up: it fails, or takes the PAT of the
/// operator's `credential.helper = store`. Here (cargo's `http.cainfo`
/// trusts the test CA, which puts cargo's own HTTP transport under libgit2:
/// libgit2's OpenSSL refuses a certificate for an IP address) the server's
/// 401 ends it: no helper is asked at all. `status` warns, naming the fix.
#[test]
fn cargo_by_default_never_asks_the_helper() {
    let mut l = life();
    let app = cargo_project(&mut l);
    l.ws.set_env("CARGO_HTTP_CAINFO", l._ca.ca_pem_path());
    let out = cargo_fetch(&l, &app);
    assert_eq!(
        l.ws.platform.count(),
        0,
        "cargo's libgit2 ran the helper: {out:?}"
    );
    assert_eq!(l.token_decisions(), (0, 0), "{out:?}");
    match out.code() {
        0 => assert!(l.server.accepted(Some(FALLBACK_USER)) >= 1, "{out:?}"),
        _ => assert!(out.stderr.contains("got 401"), "{out:?}"),
    }
    // status says so, and names the fix.
    let (mark, message) = cargo_status(&l.ws);
    assert_eq!(mark, "warn", "{message}");
    assert!(message.contains("configure --cargo"), "{message}");
}

/// After `configure --cargo`, cargo fetches the private git dependency
/// with the git CLI: the platform's token, one request, nothing stored; in
/// an outage the PAT; and `unconfigure` gives cargo's config back byte for
/// byte (a file with comments and another table).
#[test]
fn cargo_after_configure_cargo_gets_the_token_and_in_an_outage_the_pat() {
    let mut l = life();
    let app = cargo_project(&mut l);
    let config = l.dir("cargo-home").join("config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let original = "# the operator's\n[net]\nretry = 0 # no retries\n\n[term]\ncolor = \"never\"\n";
    std::fs::write(&config, original).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::Permissions::from_mode(0o640);
    std::fs::set_permissions(&config, mode).unwrap();
    let host = l.server.host();
    let out = l.ws.helper(&["configure", "--host", &host, "--cargo"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    assert!(
        out.stdout.contains("net.git-fetch-with-cli = true"),
        "{out:?}"
    );
    let mode_of = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode_of(&config), 0o640);

    let fetched = cargo_fetch(&l, &app);
    assert_eq!(fetched.code(), 0, "{fetched:?}");
    assert_served_the_token(&l);
    assert!(l.dir("cargo-home").join("git/checkouts").is_dir());
    assert_stored_nowhere(&l, l.ws.path());

    // An outage, with nothing fetched yet.
    std::fs::remove_dir_all(l.dir("cargo-home").join("git")).unwrap();
    std::fs::remove_file(app.join("Cargo.lock")).unwrap();
    let before = l.token_decisions().0;
    go_down(&mut l);
    let fetched = cargo_fetch(&l, &app);
    assert_eq!(fetched.code(), 0, "{fetched:?}");
    // cargo shows git's stderr: the helper's one line says why.
    assert!(
        fetched.stderr.contains("cannot connect to the platform"),
        "{fetched:?}"
    );
    assert_served_the_pat(&l, before);
    assert_stored_nowhere(&l, l.ws.path());

    let out = l.ws.helper(&["unconfigure"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
    assert_eq!(mode_of(&config), 0o640);
}

/// `configure --cargo` in a cargo home without a config creates one, says
/// so, changes nothing the second time, and `unconfigure` removes the file;
/// a file that turns the setting off is left alone, with one warning.
#[test]
fn configure_cargo_creates_and_removes_its_file_and_leaves_a_users_false() {
    let mut ws = Workspace::new();
    let home = ws.path().join("cargo-home");
    ws.set_env("CARGO_HOME", &home);
    let config = home.join("config.toml");
    let (mark, message) = cargo_status(&ws);
    assert_eq!(mark, "warn");
    assert!(message.contains("configure --cargo"), "{message}");
    assert!(message.contains("npm, pip and go"), "{message}");
    let out = ws.helper(&["configure", "--cargo"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!(
            "{}: net.git-fetch-with-cli = true (created)",
            config.display()
        )),
        "{out:?}"
    );
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("[net]\n") && written.contains("git-fetch-with-cli = true\n"));
    assert_eq!(cargo_status(&ws).0, "ok", "{written}");
    let again = ws.helper(&["configure", "--cargo"], "");
    assert_eq!(again.stdout, "", "{again:?}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written);
    let out = ws.helper(&["unconfigure"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!config.exists(), "{out:?}");

    // The legacy name is the file cargo reads: that one is edited.
    let legacy = home.join("config");
    std::fs::write(&legacy, "[net]\ngit-fetch-with-cli = false\n").unwrap();
    let out = ws.helper(&["configure", "--cargo"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "{} sets net.git-fetch-with-cli = false",
            legacy.display()
        )),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&legacy).unwrap(),
        "[net]\ngit-fetch-with-cli = false\n"
    );
    assert!(!config.exists());
    let (mark, message) = cargo_status(&ws);
    assert_eq!(mark, "warn");
    assert!(
        message.starts_with(&format!("{} sets", legacy.display())),
        "{message}"
    );

    // A legacy file without the key gets it, and gives it back.
    std::fs::write(&legacy, "[build]\njobs = 1\n").unwrap();
    let out = ws.helper(&["configure", "--cargo"], "");
    assert!(
        out.stdout
            .starts_with(&format!("{} (cargo's legacy name", legacy.display())),
        "{out:?}"
    );
    assert_eq!(cargo_status(&ws).0, "ok");
    assert!(!config.exists());
    let out = ws.helper(&["unconfigure"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&legacy).unwrap(),
        "[build]\njobs = 1\n"
    );

    ws.set_env("CARGO_NET_GIT_FETCH_WITH_CLI", "true");
    assert_eq!(cargo_status(&ws).0, "ok");
}

/// status's `cargo` check: its mark and message, from `status --json`.
fn cargo_status(ws: &Workspace) -> (String, String) {
    let out = ws.helper(&["status", "--json"], "");
    let checks: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let check = checks
        .as_array()
        .or_else(|| checks["checks"].as_array())
        .and_then(|a| a.iter().find(|c| c["name"] == "cargo"))
        .unwrap_or_else(|| panic!("no cargo check: {out:?}"));
    let field = |k: &str| check[k].as_str().unwrap().to_string();
    (field("status"), field("message"))
}

// ---------------------------------------------------------------- npm

/// A package `app` depending on the private `o/jsdep` by `git+https`,
/// with npm's registry, cache and user config in the workspace.
fn npm_project(l: &mut Life) -> PathBuf {
    let dep = l.server.create_bare_with(
        "o/jsdep",
        &[(
            "package.json",
            "{\"name\": \"jsdep\", \"version\": \"1.0.0\"}\n",
        )],
    );
    let app = l.dir("npm-app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("package.json"),
        format!(
            "{{\"name\": \"app\", \"version\": \"1.0.0\", \"private\": true,\n \
             \"dependencies\": {{\"jsdep\": \"git+{dep}\"}}}}\n"
        ),
    )
    .unwrap();
    let registry = format!("http://127.0.0.1:{}/", dead_port());
    let npmrc = l.dir("npmrc");
    std::fs::write(&npmrc, "").unwrap();
    for (k, v) in [
        ("npm_config_registry", registry.as_str()),
        ("npm_config_userconfig", npmrc.to_str().unwrap()),
        ("npm_config_cache", l.p("npm-cache").as_str()),
        ("npm_config_audit", "false"),
        ("npm_config_fund", "false"),
        ("npm_config_update_notifier", "false"),
        ("npm_config_fetch_retries", "0"),
    ] {
        l.ws.set_env(k, v);
    }
    l.ws.set_env("NODE_EXTRA_CA_CERTS", l._ca.ca_pem_path());
    app
}

fn npm_install(l: &Life, app: &Path) -> Out {
    run(
        l,
        bounded(l, app, "npm", &["install", "--no-audit", "--no-fund"]),
    )
}

/// npm runs git for a `git+https` dependency: the token, one platform
/// request, nothing in the lockfile or npm's cache; in an outage the PAT.
#[test]
fn npm_installs_a_private_git_dependency_with_the_token_and_in_an_outage_the_pat() {
    let mut l = life();
    let app = npm_project(&mut l);
    let out = npm_install(&l, &app);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        app.join("node_modules/jsdep/package.json").is_file(),
        "{out:?}"
    );
    assert_served_the_token(&l);
    assert_stored_nowhere(&l, l.ws.path());

    for gone in ["node_modules", "npm-cache"] {
        let _ = std::fs::remove_dir_all(app.join(gone));
        let _ = std::fs::remove_dir_all(l.dir(gone));
    }
    std::fs::remove_file(app.join("package-lock.json")).unwrap();
    let before = l.token_decisions().0;
    go_down(&mut l);
    let out = npm_install(&l, &app);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(app.join("node_modules/jsdep/package.json").is_file());
    assert_served_the_pat(&l, before);
    assert_stored_nowhere(&l, l.ws.path());
}

// ---------------------------------------------------------------- pip

/// A package built by a backend of its own (PEP 517's `backend-path`), so
/// that pip needs nothing from an index nor setuptools' `wheel` to read it.
const PYPROJECT: &str = "[build-system]\nrequires = []\nbuild-backend = \"backend\"\n\
                         backend-path = [\".\"]\n";
const BACKEND: &str = r#"import os

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name = "pydep-1.0.dist-info"
    os.makedirs(os.path.join(metadata_directory, name))
    with open(os.path.join(metadata_directory, name, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: pydep\nVersion: 1.0\n")
    return name

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("pip download needs only the metadata")
"#;

/// pip runs git for `git+https`: the token, one platform request, nothing
/// in pip's cache or the downloaded archive; in an outage the PAT.
#[test]
fn pip_downloads_a_private_git_package_with_the_token_and_in_an_outage_the_pat() {
    let mut l = life();
    let dep = l.server.create_bare_with(
        "o/pydep",
        &[
            ("pyproject.toml", PYPROJECT),
            ("backend.py", BACKEND),
            ("pydep.py", "ANSWER = 42\n"),
        ],
    );
    let index = format!("http://127.0.0.1:{}/simple", dead_port());
    for (k, v) in [
        ("PIP_INDEX_URL", index.as_str()),
        ("PIP_CACHE_DIR", l.p("pip-cache").as_str()),
        ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        ("PIP_RETRIES", "0"),
        ("PIP_TIMEOUT", "5"),
        ("PIP_NO_INPUT", "1"),
        ("PIP_CONFIG_FILE", "/dev/null"),
    ] {
        l.ws.set_env(k, v);
    }
    let download = |l: &Life, into: &str| {
        let spec = format!("pydep @ git+{dep}");
        let args = [
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-build-isolation",
            "-d",
            into,
            &spec,
        ];
        run(l, bounded(l, l.ws.path(), "python3", &args))
    };
    let out = download(&l, &l.p("wheels"));
    assert_eq!(out.code(), 0, "{out:?}");
    assert_served_the_token(&l);
    assert_stored_nowhere(&l, l.ws.path());

    let _ = std::fs::remove_dir_all(l.dir("pip-cache"));
    let before = l.token_decisions().0;
    go_down(&mut l);
    let out = download(&l, &l.p("wheels-outage"));
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("cannot connect to the platform"),
        "{out:?}"
    );
    assert_served_the_pat(&l, before);
    assert_stored_nowhere(&l, l.ws.path());
}

// ---------------------------------------------------------------- Go

/// Go modules run git for a private module (`GOPRIVATE`: no proxy, no
/// checksum database): the token, one platform request, nothing in the
/// module cache or go.sum; in an outage the PAT. The module path names a
/// host of its own, which git's `insteadOf` sends to the git server (a
/// module path cannot hold the server's port).
#[test]
fn go_downloads_a_private_module_with_the_token_and_in_an_outage_the_pat() {
    let mut l = life();
    const MODULE: &str = "git.example.test/o/godep.git";
    l.server.create_bare_with(
        "o/godep",
        &[
            ("go.mod", &format!("module {MODULE}\n\ngo 1.19\n")),
            ("godep.go", "package godep\n\nconst Answer = 42\n"),
        ],
    );
    let config = std::fs::read_to_string(&l.ws.gitconfig).unwrap();
    l.ws.write_gitconfig(&format!(
        "{config}[url \"{}/\"]\n\tinsteadOf = https://git.example.test/\n",
        l.server.url()
    ));
    let app = l.dir("go-app");
    std::fs::create_dir_all(&app).unwrap();
    // The module by its exact path (`go get` would also look up each shorter
    // prefix of the path as a module, on the network).
    let go_mod = format!("module app\n\ngo 1.19\n\nrequire {MODULE} main\n");
    std::fs::write(app.join("go.mod"), &go_mod).unwrap();
    let proxy = format!("http://127.0.0.1:{}", dead_port());
    for (k, v) in [
        ("GOPRIVATE", "git.example.test"),
        ("GOFLAGS", "-mod=mod"),
        ("GOPROXY", proxy.as_str()),
        ("GOTOOLCHAIN", "local"),
        ("GOTELEMETRY", "off"),
        ("GOPATH", l.p("gopath").as_str()),
        ("GOCACHE", l.p("gocache").as_str()),
    ] {
        l.ws.set_env(k, v);
    }
    let get = |l: &Life| {
        let out = run(l, bounded(l, &app, "go", &["mod", "download", "-json"]));
        assert_eq!(out.code(), 0, "{out:?}");
        assert!(out.stdout.contains("\"Zip\""), "{out:?}");
        out
    };
    get(&l);
    let resolved = std::fs::read_to_string(app.join("go.mod")).unwrap();
    assert!(
        resolved.contains(&format!("{MODULE} v0.0.0-")),
        "{resolved}"
    );
    assert_served_the_token(&l);
    assert_stored_nowhere(&l, l.ws.path());

    // Go's module cache is read-only: `go clean` empties it.
    let clean = run(&l, bounded(&l, &app, "go", &["clean", "-modcache"]));
    assert_eq!(clean.code(), 0, "{clean:?}");
    std::fs::write(app.join("go.mod"), &go_mod).unwrap();
    let _ = std::fs::remove_file(app.join("go.sum"));
    let before = l.token_decisions().0;
    go_down(&mut l);
    get(&l);
    assert_served_the_pat(&l, before);
    assert_stored_nowhere(&l, l.ws.path());
}
