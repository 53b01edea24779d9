//! Self-tests of the HTTPS test infrastructure: the test CA
//! (tests/support/tls.rs), the CONNECT proxy and the mock GitHub API, the
//! latter driven by the real gh.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

#[allow(unused_imports)]
use crate::support::*;

use crate::support::tls::{self, TestCa};

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

use crate::support::mock_github::*;

/// A workspace-like environment for the real gh: temp HOME and GH_CONFIG_DIR, the mock platform
/// minting tokens, the mock GitHub API accepting only its live ones, reached through the proxy.
struct GhWorld {
    ws: Workspace,
    stack: GithubStack,
    gh_config: std::path::PathBuf,
}

impl GhWorld {
    fn new() -> GhWorld {
        real_gh_dir();
        let mut ws = Workspace::new();
        let (stack, gh_config) = ws.start_github();
        GhWorld {
            ws,
            stack,
            gh_config,
        }
    }

    /// A token freshly minted by the mock platform.
    fn mint(&self) -> String {
        self.ws.mint()
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

// ---------------------------------------------------------------------------
// The routes of issue 15's probe, with a plain client (curl through the proxy, trusting the CA).

/// One answer seen by curl: status, headers (names lower-cased), body.
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// GET `url` with curl through the stack's proxy; `authorization` goes in through curl's config
/// on stdin, never in argv.
fn curl(stack: &GithubStack, url: &str, authorization: Option<&str>) -> Seen {
    let mut child = Command::new("curl")
        .args([
            "-sS",
            "-i",
            "--suppress-connect-headers",
            "--max-time",
            "10",
        ])
        .args(["--noproxy", "", "--proxy", &stack.proxy.url(), "--cacert"])
        .arg(stack.ca.ca_pem_path())
        .args(["--config", "-", url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("curl");
    let config = authorization
        .map(|a| format!("header = \"Authorization: {a}\"\n"))
        .unwrap_or_default();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(config.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "curl {url}: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Seen {
        status,
        headers,
        body: body.to_string(),
    }
}

fn basic(token: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("x-access-token:{token}");
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

#[test]
fn probe_routes_answer_as_github_does_for_an_app_installation() {
    let dir = tempfile::tempdir().unwrap();
    let live = "ghs_livetokenlivetokenlive0001".to_string();
    let accepted = live.clone();
    let stack = GithubStack::start(dir.path(), Arc::new(move |t: &str| t == accepted));
    let gh = &stack.github;
    gh.add_repo("o/full", Perms::all());
    gh.add_repo(
        "o/noissues",
        Perms::parse("contents=read,pulls=read,issues=none"),
    );
    gh.set_rate_limit(100, 50);
    gh.set_rate_limit_reset(2_000_000_000);
    let auth = format!("token {live}");
    let api = "https://api.github.com";

    // The rate limit: spends nothing, reports both budgets and the headers.
    let seen = curl(&stack, &format!("{api}/rate_limit"), Some(&auth));
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(
        seen.body
            .contains(r#""core":{"limit":100,"remaining":50,"reset":2000000000,"used":50}"#)
            && seen.body.contains(r#""graphql":{"limit":5000"#)
            && seen.body.contains(r#""rate":{"limit":100,"remaining":50"#),
        "{}",
        seen.body
    );
    assert_eq!(seen.header("x-ratelimit-remaining"), Some("50"));
    assert_eq!(seen.header("x-ratelimit-reset"), Some("2000000000"));

    // The installation's repositories, one per page; Bearer is as good as token.
    let seen = curl(
        &stack,
        &format!("{api}/installation/repositories?per_page=1"),
        Some(&format!("Bearer {live}")),
    );
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(
        seen.body.starts_with(r#"{"total_count":2,"#),
        "{}",
        seen.body
    );
    assert_eq!(
        seen.body.matches(r#""full_name""#).count(),
        1,
        "{}",
        seen.body
    );
    assert_eq!(seen.header("x-ratelimit-remaining"), Some("49"));

    // A repository outside the installation: 404.
    let seen = curl(&stack, &format!("{api}/repos/o/elsewhere"), Some(&auth));
    assert_eq!(seen.status, 404);
    assert!(
        seen.body.contains(r#""message":"Not Found""#),
        "{}",
        seen.body
    );
    let seen = curl(
        &stack,
        &format!("{api}/repos/o/elsewhere/issues?per_page=1"),
        Some(&auth),
    );
    assert_eq!(seen.status, 404);

    // Issues not granted: 403 naming the permission; pulls granted: 200.
    let seen = curl(
        &stack,
        &format!("{api}/repos/o/noissues/issues?per_page=1"),
        Some(&auth),
    );
    assert_eq!(seen.status, 403, "{}", seen.body);
    assert_eq!(
        seen.header("x-accepted-github-permissions"),
        Some("issues=read")
    );
    assert!(
        seen.body
            .contains(r#""message":"Resource not accessible by integration""#),
        "{}",
        seen.body
    );
    let seen = curl(
        &stack,
        &format!("{api}/repos/o/noissues/pulls?per_page=1"),
        Some(&auth),
    );
    assert_eq!(seen.status, 200, "{}", seen.body);
    let seen = curl(&stack, &format!("{api}/repos/o/full"), Some(&auth));
    assert_eq!(seen.status, 200);
    assert!(seen.body.contains(r#""push":true"#), "{}", seen.body);

    // The same API on the Enterprise host, under /api/v3.
    let seen = curl(
        &stack,
        "https://ghe.example.test/api/v3/repos/o/noissues/issues?per_page=1",
        Some(&auth),
    );
    assert_eq!(seen.status, 403);
    assert_eq!(
        seen.header("x-accepted-github-permissions"),
        Some("issues=read")
    );

    // Push access through git's smart HTTP probe on the web host.
    let refs = "info/refs?service=git-receive-pack";
    let seen = curl(
        &stack,
        &format!("https://github.com/o/full.git/{refs}"),
        Some(&basic(&live)),
    );
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-git-receive-pack-advertisement")
    );
    assert!(
        seen.body
            .starts_with("001f# service=git-receive-pack\n0000"),
        "{:?}",
        seen.body
    );
    let seen = curl(
        &stack,
        &format!("https://ghe.example.test/o/noissues.git/{refs}"),
        Some(&basic(&live)),
    );
    assert_eq!(seen.status, 403, "{}", seen.body);
    let seen = curl(
        &stack,
        &format!("https://github.com/o/full.git/{refs}"),
        None,
    );
    assert_eq!(seen.status, 401);
    assert!(
        seen.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );

    // Bad credentials, exactly as GitHub words them; they spend nothing.
    let before = gh.rate_limit().remaining;
    let seen = curl(
        &stack,
        &format!("{api}/repos/o/full"),
        Some("token ghs_revoked0000000000"),
    );
    assert_eq!(seen.status, 401);
    assert_eq!(seen.body, BAD_CREDENTIALS);
    assert_eq!(gh.rate_limit().remaining, before);

    // Every other API request spent one unit; an empty budget answers 403.
    assert_eq!(before, 50 - 7);
    gh.set_rate_limit(100, 1);
    assert_eq!(
        curl(&stack, &format!("{api}/user"), Some(&auth)).status,
        200
    );
    let seen = curl(&stack, &format!("{api}/user"), Some(&auth));
    assert_eq!(seen.status, 403);
    assert!(
        seen.body.contains("API rate limit exceeded"),
        "{}",
        seen.body
    );
    assert_eq!(seen.header("x-ratelimit-remaining"), Some("0"));

    // The log keeps 4 characters of a token, never more.
    let log = gh.requests();
    assert!(
        log.iter()
            .all(|r| r.token_tail.as_ref().is_none_or(|t| t.chars().count() <= 4))
    );
    assert!(!gh.describe().contains(&live), "{}", gh.describe());
    assert!(log.iter().any(|r| r.host == "github.com"
        && r.path == "/o/full.git/info/refs"
        && r.scheme == "basic"
        && r.token_tail.as_deref() == Some("0001")));
}

#[test]
fn connect_proxy_refuses_unknown_targets_and_logs_them() {
    let dir = tempfile::tempdir().unwrap();
    let stack = GithubStack::start(dir.path(), Arc::new(|_: &str| false));
    let mut stream = TcpStream::connect(stack.proxy.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // A routed name on another port is not routed either.
    let mut stream = TcpStream::connect(stack.proxy.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"CONNECT api.github.com:80 HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_eq!(
        stack.proxy.targets(),
        vec![
            "evil.example:443".to_string(),
            "api.github.com:80".to_string()
        ]
    );
    assert!(stack.proxy.connects().iter().all(|c| c.status == 403));
    assert!(stack.github.requests().is_empty());
}

#[test]
fn platform_tokens_are_live_until_revoked_or_expired_and_checkers_see_it_from_other_threads() {
    use crate::support::mock_platform::{expires_at_in, parse_rfc3339, rfc3339};
    let w = GhWorld::new();
    let checker = w.ws.platform.checker();
    let plain = w.mint();
    assert!(w.ws.platform.is_live(&plain) && checker.is_live(&plain));
    assert!(!checker.is_live("ghs_nevermintedbythisplatform0000"));

    w.ws.platform.push(Reply::TokenWith {
        token: "ghs_expiredalready".to_string(),
        expires_at: Some(expires_at_in(-1)),
    });
    w.ws.platform.push(Reply::TokenWith {
        token: "ghs_offsetexpiry".to_string(),
        expires_at: Some("2999-01-01T01:00:00.123+01:00".to_string()),
    });
    w.ws.platform.push(Reply::TokenNoExpiry);
    assert!(!checker.is_live(&w.mint()));
    assert!(checker.is_live(&w.mint()));
    let forever = w.mint();
    assert!(checker.is_live(&forever));

    // A revocation made here is seen by a checker on another thread (as the mock GitHub uses it).
    w.ws.platform.revoke(&forever);
    let other = checker.clone();
    assert!(
        !std::thread::spawn(move || other.is_live(&forever))
            .join()
            .unwrap()
    );
    assert!(checker.is_live(&plain));

    for unix in [0, 951_782_400, 1_700_000_000, 4_102_444_800] {
        assert_eq!(parse_rfc3339(&rfc3339(unix)), Some(unix));
    }
    assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
    assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
    assert_eq!(parse_rfc3339("soon"), None);
}
