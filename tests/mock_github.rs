//! Self-tests of the HTTPS test infrastructure: the test CA
//! (tests/support/tls.rs), the CONNECT proxy and the mock GitHub API, the
//! latter driven by the real gh.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

#[allow(unused_imports)]
use support::*;

use support::tls::{self, TestCa};

/// A one-shot HTTPS server on 127.0.0.1 answering "hello over tls".
fn one_shot_https(ca: &TestCa, names: &[&str]) -> (u16, std::thread::JoinHandle<String>) {
    let config = ca.server_config(names);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let Ok(mut tls) = tls::accept(&config, stream) else {
            return "no handshake".to_string();
        };
        let alpn = tls
            .conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tls.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let body = "hello over tls";
        write!(
            tls,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        tls.conn.send_close_notify();
        let _ = tls.flush();
        alpn
    });
    (port, server)
}

#[test]
fn test_ca_is_trusted_by_curl_for_an_ip_address() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path());
    let pem = std::fs::read_to_string(ca.ca_pem_path()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let (port, server) = one_shot_https(&ca, &["localhost", "127.0.0.1"]);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca.ca_pem_path())
        .arg(format!("https://127.0.0.1:{port}/"))
        .output()
        .expect("curl");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello over tls");
    assert_eq!(server.join().unwrap(), "http/1.1");
}

#[test]
fn test_ca_is_trusted_by_a_rustls_client_for_a_dns_name_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path());
    let (port, server) = one_shot_https(&ca, &["api.github.com"]);
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = tls::connect(&ca.client_config(), "api.github.com", stream).expect("handshake");
    tls.write_all(b"GET / HTTP/1.1\r\nHost: api.github.com\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer);
    assert!(answer.ends_with("hello over tls"), "{answer}");
    server.join().unwrap();

    // A name the leaf does not carry is refused by the client.
    let (port, server) = one_shot_https(&ca, &["api.github.com"]);
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let refused = tls::connect(&ca.client_config(), "ghe.example.test", stream);
    assert!(refused.is_err(), "a wrong name must not verify");
    assert_eq!(server.join().unwrap(), "no handshake");
}

// ---------------------------------------------------------------------------
// The real gh against the mock.

use support::mock_github::*;

/// A workspace-like environment for the real gh: temp HOME and GH_CONFIG_DIR, the mock platform
/// minting tokens, the mock GitHub API accepting only its live ones, reached through the proxy.
struct GhWorld {
    ws: Workspace,
    stack: GithubStack,
    gh_config: std::path::PathBuf,
}

/// The real gh on PATH, or a panic saying how to install it.
fn require_gh() {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("gh").is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "the real gh is not on PATH: install it with `apt-get install -y gh git-lfs` \
         (or run scripts/test-deps.sh as root)"
    );
}

impl GhWorld {
    fn new() -> GhWorld {
        require_gh();
        let mut ws = Workspace::new();
        let checker = ws.platform.checker();
        let stack = GithubStack::start(ws.path(), Arc::new(move |t: &str| checker.is_live(t)));
        for (k, v) in stack.env() {
            ws.set_env(&k, v);
        }
        let gh_config = ws.path().join("gh-config");
        std::fs::create_dir_all(&gh_config).unwrap();
        ws.set_env("GH_CONFIG_DIR", &gh_config);
        stack.github.add_repo("o/r", Perms::all());
        GhWorld {
            ws,
            stack,
            gh_config,
        }
    }

    /// A token freshly minted by the mock platform (asked over HTTP with the bearer).
    fn mint(&self) -> String {
        let mut stream = TcpStream::connect(self.ws.platform.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            support::mock_platform::TOKEN_PATH,
            self.ws.bearer
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let token = self.ws.platform.last_token().expect("a minted token");
        assert!(answer.contains(&token));
        token
    }

    /// Run gh with `args`, `stdin`, and these extra variables (checked for leaks like any run).
    fn gh(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Out {
        let mut c = self.ws.command("gh");
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        self.ws.run(c, stdin)
    }

    fn log(&self) -> String {
        self.stack.github.describe()
    }
}

/// gh failed because the API refused the token.
fn assert_bad_credentials(out: &Out) {
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("HTTP 401") && out.stderr.contains("Bad credentials"),
        "{out:?}"
    );
}

/// The mock's log holds the request, answered `status`, with the token's last 4 characters only.
fn assert_logged(w: &GhWorld, host: &str, path: &str, status: u16, token: &str) {
    let log = w.stack.github.requests_to(host, path);
    assert!(
        log.iter()
            .any(|r| r.status == status && r.token_tail.as_deref() == Some(&tail4(token))),
        "no {host}{path} -> {status} with that token in:\n{}",
        w.log()
    );
    assert!(!w.log().contains(token), "the whole token is in the log");
}

#[test]
fn gh_api_with_a_live_minted_token_reaches_the_mock_through_the_proxy() {
    let w = GhWorld::new();
    let token = w.mint();
    let out = w.gh(&["api", "repos/o/r"], &[("GH_TOKEN", &token)], "");
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    assert!(out.stdout.contains(r#""full_name":"o/r""#), "{out:?}");
    assert_logged(&w, API_HOST, "/repos/o/r", 200, &token);
    assert!(
        w.stack
            .proxy
            .targets()
            .contains(&"api.github.com:443".to_string()),
        "{:?}",
        w.stack.proxy.connects()
    );
}

#[test]
fn gh_api_with_a_revoked_or_expired_token_fails_with_401() {
    let w = GhWorld::new();
    let revoked = w.mint();
    w.ws.platform.revoke(&revoked);
    let out = w.gh(&["api", "repos/o/r"], &[("GH_TOKEN", &revoked)], "");
    assert_bad_credentials(&out);
    assert_logged(&w, API_HOST, "/repos/o/r", 401, &revoked);

    w.ws.platform.set_expires_in(-60);
    let expired = w.mint();
    assert!(!w.ws.platform.is_live(&expired));
    let out = w.gh(&["api", "repos/o/r"], &[("GITHUB_TOKEN", &expired)], "");
    assert_bad_credentials(&out);
    assert_logged(&w, API_HOST, "/repos/o/r", 401, &expired);

    // A token the platform never minted is no better.
    let out = w.gh(
        &["api", "repos/o/r"],
        &[("GH_TOKEN", "ghs_notmintedbytheplatform00000")],
        "",
    );
    assert_bad_credentials(&out);
}

#[test]
fn gh_api_on_the_enterprise_host_uses_api_v3_and_the_enterprise_token() {
    let w = GhWorld::new();
    let token = w.mint();
    let env = [
        ("GH_HOST", GHE_HOST),
        ("GH_ENTERPRISE_TOKEN", token.as_str()),
    ];
    let out = w.gh(&["api", "repos/o/r"], &env, "");
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    assert!(
        out.stdout
            .contains(r#""url":"https://ghe.example.test/api/v3/repos/o/r""#),
        "{out:?}"
    );
    assert_logged(&w, GHE_HOST, "/api/v3/repos/o/r", 200, &token);
    assert!(
        w.stack
            .proxy
            .targets()
            .contains(&"ghe.example.test:443".to_string())
    );

    // gh does not give the enterprise host GH_TOKEN: a stale enterprise token fails even with a
    // live GH_TOKEN beside it.
    w.ws.platform.revoke(&token);
    let fresh = w.mint();
    let env = [
        ("GH_HOST", GHE_HOST),
        ("GH_ENTERPRISE_TOKEN", token.as_str()),
        ("GH_TOKEN", fresh.as_str()),
    ];
    let out = w.gh(&["api", "repos/o/r"], &env, "");
    assert_bad_credentials(&out);
    assert_logged(&w, GHE_HOST, "/api/v3/repos/o/r", 401, &token);
}

#[test]
fn gh_login_with_token_then_api_without_variables_and_the_precedence_of_a_stale_gh_token() {
    let w = GhWorld::new();
    let token = w.mint();
    let stale = w.mint();
    w.ws.platform.revoke(&stale);

    // Login: gh checks the token's scopes with GET / (an installation token has no
    // X-OAuth-Scopes, which gh accepts) and stores it in hosts.yml.
    let out = w.gh(
        &["auth", "login", "--with-token", "--hostname", "github.com"],
        &[],
        &format!("{token}\n"),
    );
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    assert_logged(&w, API_HOST, "/", 200, &token);
    let hosts = std::fs::read_to_string(w.gh_config.join("hosts.yml")).unwrap();
    assert!(
        hosts.contains("github.com:") && hosts.contains(&token),
        "hosts.yml"
    );

    // No token variable: gh uses the stored login.
    w.stack.github.clear_requests();
    let out = w.gh(&["api", "user"], &[], "");
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    assert!(
        out.stdout.contains(r#""login":"molecule-app[bot]""#),
        "{out:?}"
    );
    assert_logged(&w, API_HOST, "/user", 200, &token);

    // auth status: GET / again, then GraphQL viewer { login }.
    w.stack.github.clear_requests();
    let out = w.gh(&["auth", "status"], &[], "");
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    assert!(
        out.stderr
            .contains("Logged in to github.com as molecule-app[bot]"),
        "{out:?}"
    );
    assert_logged(&w, API_HOST, "/", 200, &token);
    assert_logged(&w, API_HOST, "/graphql", 200, &token);

    // A stale GH_TOKEN wins over the fresh stored login: 401, whatever hosts.yml holds.
    w.stack.github.clear_requests();
    let out = w.gh(&["api", "repos/o/r"], &[("GH_TOKEN", &stale)], "");
    assert_bad_credentials(&out);
    assert_logged(&w, API_HOST, "/repos/o/r", 401, &stale);
    assert!(w.stack.github.requests().iter().all(|r| r.status == 401));

    // The same for GITHUB_TOKEN.
    let out = w.gh(&["api", "repos/o/r"], &[("GITHUB_TOKEN", &stale)], "");
    assert_bad_credentials(&out);

    // auth status names the variable; a new login is refused while it is set.
    let out = w.gh(&["auth", "status"], &[("GH_TOKEN", &stale)], "");
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("The github.com token in GH_TOKEN is no longer valid"),
        "{out:?}"
    );
    let out = w.gh(
        &["auth", "login", "--with-token", "--hostname", "github.com"],
        &[("GH_TOKEN", &stale)],
        &format!("{token}\n"),
    );
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("The value of the GH_TOKEN environment variable is being used"),
        "{out:?}"
    );
}
