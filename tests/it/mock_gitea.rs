//! Self-tests of the mock Gitea (tests/support/mock_gitea.rs), run once here
//! rather than in every test binary that includes the support code.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::mock_gitea::*;

/// Status and body of one raw HTTP/1.1 request.
fn request(mock: &MockGitea, method: &str, target: &str, auth: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(mock.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let text = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: application/json\r\n{auth}\r\n",
        mock.port()
    );
    stream.write_all(text.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a whole head");
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    assert_eq!(body.len(), length, "{raw}");
    assert!(head.contains("Connection: close"), "{head}");
    (code, body.to_string())
}

fn get(mock: &MockGitea, target: &str, token: &str) -> (u16, String) {
    request(mock, "GET", target, Some(&format!("token {token}")))
}

const PULLS: &str = "/api/v1/repos/o/r/pulls?state=open&limit=1";
const ISSUES: &str = "/api/v1/repos/o/r/issues?state=open&limit=1";

#[test]
fn a_token_with_every_scope_reads_user_pulls_and_issues() {
    let mock = MockGitea::start();
    mock.add_token("tok-all", "alice", &["all"]);
    mock.add_repo("o/r");
    let (code, body) = get(&mock, "/api/v1/user", "tok-all");
    assert_eq!(code, 200);
    assert!(body.contains("\"login\":\"alice\""), "{body}");
    assert_eq!(get(&mock, PULLS, "tok-all"), (200, "[]".into()));
    assert_eq!(get(&mock, ISSUES, "tok-all"), (200, "[]".into()));
    // Gitea takes Bearer as well, and repository names without regard to case.
    let (code, _) = request(
        &mock,
        "GET",
        "/api/v1/repos/O/R/issues",
        Some("Bearer tok-all"),
    );
    assert_eq!(code, 200);
}

#[test]
fn each_route_needs_its_scope_and_write_implies_read() {
    let mock = MockGitea::start();
    mock.add_repo("o/r");
    mock.add_token("tok-repo", "bob", &["read:user", "write:repository"]);
    mock.add_token("tok-issue", "carol", &["read:issue"]);
    assert_eq!(get(&mock, "/api/v1/user", "tok-repo").0, 200);
    assert_eq!(get(&mock, PULLS, "tok-repo").0, 200);
    let (code, body) = get(&mock, ISSUES, "tok-repo");
    assert_eq!(code, 403);
    assert!(
        body.contains("token does not have at least one of required scope(s): [read:issue]"),
        "{body}"
    );
    let (code, body) = get(&mock, "/api/v1/user", "tok-issue");
    assert_eq!(code, 403);
    assert!(body.contains("[read:user]"), "{body}");
    let (code, body) = get(&mock, PULLS, "tok-issue");
    assert_eq!(code, 403);
    assert!(body.contains("[read:repository]"), "{body}");
    assert_eq!(get(&mock, ISSUES, "tok-issue").0, 200);
}

#[test]
fn unknown_missing_and_revoked_tokens_get_401() {
    let mock = MockGitea::start();
    mock.add_repo("o/r");
    mock.add_token("tok", "alice", &["all"]);
    for target in ["/api/v1/user", PULLS, ISSUES] {
        assert_eq!(get(&mock, target, "not-a-token").0, 401, "{target}");
        assert_eq!(request(&mock, "GET", target, None).0, 401, "{target}");
        assert_eq!(
            request(&mock, "GET", target, Some("Basic dXNlcjpwdw==")).0,
            401,
            "{target}"
        );
    }
    mock.revoke("tok");
    assert_eq!(get(&mock, "/api/v1/user", "tok").0, 401);
}

#[test]
fn the_scope_is_checked_before_the_repository_is_looked_up() {
    let mock = MockGitea::start();
    mock.add_token("tok-repo", "bob", &["read:repository"]);
    mock.add_token("tok-all", "alice", &["all"]);
    let unknown = "/api/v1/repos/nobody/nothing/issues";
    assert_eq!(get(&mock, unknown, "tok-repo").0, 403);
    assert_eq!(get(&mock, unknown, "tok-all").0, 404);
    assert_eq!(
        get(&mock, "/api/v1/repos/nobody/nothing/pulls", "tok-all").0,
        404
    );
}

#[test]
fn a_renamed_repository_redirects_to_its_new_name() {
    let mock = MockGitea::start();
    mock.add_token("tok", "alice", &["all"]);
    mock.rename_repo("o/old", "o/new");
    let mut stream = TcpStream::connect(mock.addr()).unwrap();
    stream
        .write_all(
            b"GET /api/v1/repos/O/Old/issues?state=open HTTP/1.1\r\nHost: x\r\n\
              Authorization: token tok\r\n\r\n",
        )
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 307 "), "{raw}");
    assert!(
        raw.contains("\r\nLocation: /api/v1/repos/o/new/issues\r\n"),
        "{raw}"
    );
    assert_eq!(get(&mock, "/api/v1/repos/o/new/pulls", "tok").0, 200);
    // The scope is still checked first.
    mock.add_token("no-issue", "bob", &["read:repository"]);
    assert_eq!(get(&mock, "/api/v1/repos/o/old/issues", "no-issue").0, 403);
}

#[test]
fn other_paths_and_methods() {
    let mock = MockGitea::start();
    mock.add_token("tok", "alice", &["all"]);
    mock.add_repo("o/r");
    for target in [
        "/user",
        "/api/v1",
        "/api/v1/repos/o/r",
        "/api/v1/repos/o/r/labels",
        "/api/v1/repos/o/pulls",
        "/api/v2/user",
    ] {
        assert_eq!(get(&mock, target, "tok").0, 404, "{target}");
    }
    assert_eq!(
        request(&mock, "POST", ISSUES, Some("token tok")).0,
        405,
        "POST"
    );
}

#[test]
fn records_every_request_with_its_headers() {
    let mock = MockGitea::start();
    mock.add_token("tok", "alice", &["all"]);
    get(&mock, "/api/v1/user", "tok");
    request(&mock, "GET", "/nowhere", None);
    assert_eq!(mock.count(), 2);
    let requests = mock.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/api/v1/user");
    assert_eq!(requests[0].header("Authorization"), Some("token tok"));
    assert_eq!(requests[0].header("accept"), Some("application/json"));
    get(&mock, PULLS, "tok");
    let last = mock.requests().pop().unwrap();
    assert_eq!(last.path, "/api/v1/repos/o/r/pulls");
    assert_eq!(last.target, PULLS);
    assert_eq!(requests[1].header("authorization"), None);
}

#[test]
fn urls_and_shutdown() {
    let mock = MockGitea::start();
    let port = mock.port();
    assert_eq!(mock.url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(mock.api_url(), format!("http://127.0.0.1:{port}/api/v1"));
    drop(mock);
    // The listener is closed: nothing answers there any more.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}
