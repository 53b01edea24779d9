//! Self-tests of the mock platform (tests/support/mock_platform.rs), run
//! once here rather than in every test binary that includes the support code.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::mock_platform::*;

struct Response {
    code: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn send(mock: &MockPlatform, target: &str, bearer: Option<&str>) -> TcpStream {
    let mut stream = TcpStream::connect(mock.addr()).unwrap();
    let auth = bearer
        .map(|b| format!("Authorization: Bearer {b}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: application/json\r\n{auth}\r\n",
        mock.port()
    );
    stream.write_all(request.as_bytes()).unwrap();
    stream
}

fn parse(raw: &[u8]) -> Response {
    let end = find(raw, b"\r\n\r\n").expect("no end of head") + 4;
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap();
    let code = status.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    Response {
        code,
        headers,
        body: raw[end..].to_vec(),
    }
}

fn get(mock: &MockPlatform, target: &str, bearer: Option<&str>) -> Response {
    let mut stream = send(mock, target, bearer);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

/// The value of a top-level string key in the flat JSON objects this mock writes.
fn json_str(body: &str, key: &str) -> Option<String> {
    let start = body.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let end = start + body[start..].find('"')?;
    Some(body[start..end].to_string())
}

fn token_shaped(token: &str) -> bool {
    token.len() == 40
        && token.starts_with("ghs_")
        && token[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[test]
fn rfc3339_known_values() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_795_437_296), "2026-11-23T12:34:56Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
}

#[test]
fn tokens_are_fresh_and_well_formed() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..2000 {
        let token = new_token();
        assert!(token_shaped(&token), "bad token shape");
        assert!(seen.insert(token), "token repeated");
    }
}

#[test]
fn token_reply_shape_and_content_length() {
    let mock = MockPlatform::start("abc");
    let before = unix_now();
    let r = get(&mock, TOKEN_PATH, Some("abc"));
    assert_eq!(r.code, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    let body = r.text();
    assert!(body.starts_with("{\"token\":\"") && body.ends_with("\"}"));
    let token = json_str(&body, "token").unwrap();
    assert!(token_shaped(&token));
    let expires_at = json_str(&body, "expires_at").unwrap();
    let after = unix_now();
    assert!(
        (before + 3600..=after + 3600).any(|t| rfc3339(t) == expires_at),
        "expires_at {expires_at} is not now + 3600"
    );
    assert_eq!(mock.tokens(), vec![token.clone()]);
    assert_eq!(mock.last_token(), Some(token));
}

#[test]
fn expires_in_and_no_expiry() {
    let mock = MockPlatform::start("abc");
    mock.set_expires_in(-60);
    let body = get(&mock, TOKEN_PATH, Some("abc")).text();
    let expires_at = json_str(&body, "expires_at").unwrap();
    let now = unix_now();
    assert!((now - 62..=now - 58).any(|t| rfc3339(t) == expires_at));
    mock.set_default(Reply::TokenNoExpiry);
    let body = get(&mock, TOKEN_PATH, Some("abc")).text();
    assert!(!body.contains("expires_at"));
    assert_eq!(json_str(&body, "token"), mock.last_token());
    assert_eq!(mock.tokens().len(), 2);
}

#[test]
fn bad_bearer_is_401_and_keeps_the_script() {
    let mock = MockPlatform::start("abc");
    mock.push(Reply::Status {
        code: 503,
        headers: vec![("Retry-After".into(), "1".into())],
    });
    let r = get(&mock, TOKEN_PATH, Some("wrong"));
    assert_eq!(r.code, 401);
    assert_eq!(r.text(), "{\"error\":\"invalid bearer\"}");
    assert_eq!(get(&mock, TOKEN_PATH, None).code, 401);
    assert_eq!(mock.pending(), 1);
    let r = get(&mock, TOKEN_PATH, Some("abc"));
    assert_eq!(r.code, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.text(), "{\"error\":\"service unavailable\"}");
    assert_eq!(get(&mock, TOKEN_PATH, Some("abc")).code, 200);
    assert!(mock.tokens().len() == 1);

    mock.set_bearer("rotated");
    assert_eq!(get(&mock, TOKEN_PATH, Some("abc")).code, 401);
    assert_eq!(get(&mock, TOKEN_PATH, Some("rotated")).code, 200);
}

#[test]
fn script_is_fifo_then_default() {
    let mock = MockPlatform::start("abc");
    mock.push(Reply::Body("{\"a\":1}".into()));
    mock.push(Reply::Redirect {
        code: 307,
        location: "http://127.0.0.1:1/x".into(),
    });
    mock.push(Reply::BodyBytes {
        content_type: "text/html".into(),
        body: vec![0xff, 0xfe, b'<'],
    });
    mock.set_default(Reply::status(500));
    let r = get(&mock, TOKEN_PATH, Some("abc"));
    assert_eq!((r.code, r.text().as_str()), (200, "{\"a\":1}"));
    let r = get(&mock, TOKEN_PATH, Some("abc"));
    assert_eq!(r.code, 307);
    assert_eq!(r.header("location"), Some("http://127.0.0.1:1/x"));
    assert_eq!(r.header("content-length"), Some("0"));
    let r = get(&mock, TOKEN_PATH, Some("abc"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.body, vec![0xff, 0xfe, b'<']);
    assert_eq!(get(&mock, TOKEN_PATH, Some("abc")).code, 500);
    assert_eq!(get(&mock, TOKEN_PATH, Some("abc")).code, 500);
    assert!(mock.tokens().is_empty());
}

#[test]
fn bookkeeping_and_404() {
    let mock = MockPlatform::start("abc");
    assert_eq!(mock.count(), 0);
    let r = get(&mock, "/elsewhere?x=1", Some("abc"));
    assert_eq!(r.code, 404);
    assert_eq!(r.text(), "{\"error\":\"not found\"}");
    // The query string is ignored for routing.
    assert_eq!(
        get(&mock, &format!("{TOKEN_PATH}?a=b"), Some("abc")).code,
        200
    );
    mock.push(Reply::TokenWith {
        token: "line\r\nbreak\"q\\".into(),
        expires_at: None,
    });
    let r = get(&mock, TOKEN_PATH, Some("abc"));
    assert_eq!(r.text(), "{\"token\":\"line\\r\\nbreak\\\"q\\\\\"}");
    assert_eq!(mock.count(), 3);
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/elsewhere");
    assert_eq!(requests[0].target, "/elsewhere?x=1");
    assert_eq!(requests[1].path, TOKEN_PATH);
    assert_eq!(requests[1].header("Authorization"), Some("Bearer abc"));
    assert_eq!(requests[1].header("accept"), Some("application/json"));
    assert_eq!(requests[1].header("x-missing"), None);
    assert!(requests[0].at <= requests[1].at && requests[1].at <= requests[2].at);
    let tokens = mock.tokens();
    assert_eq!(tokens.len(), 2);
    assert!(token_shaped(&tokens[0]));
    assert_eq!(tokens[1], "line\r\nbreak\"q\\");
}

#[test]
fn oversized_body_has_exact_size() {
    let mock = MockPlatform::start("abc");
    mock.push(Reply::Oversized(300_000));
    mock.push(Reply::Oversized(10));
    let r = get(&mock, TOKEN_PATH, Some("abc"));
    assert_eq!(r.body.len(), 300_000);
    assert!(r.text().starts_with("{\"token\":\"ghs_"));
    assert!(r.text().ends_with("xx\"}"));
    assert_eq!(mock.tokens().len(), 1);
    assert_eq!(get(&mock, TOKEN_PATH, Some("abc")).body.len(), 10);
    assert_eq!(mock.tokens().len(), 1);
}

#[test]
fn raw_reply_is_sent_verbatim() {
    let mock = MockPlatform::start("abc");
    mock.push(Reply::Raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{".to_vec(),
    ));
    let mut stream = send(&mock, TOKEN_PATH, Some("abc"));
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    assert_eq!(raw, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{");
}

#[test]
fn stall_mid_body_sends_exactly_sent_bytes() {
    let mock = MockPlatform::start("abc");
    mock.push(Reply::StallMidBody { sent: 5 });
    mock.push(Reply::StallMidBody { sent: 500 });
    for sent in [5, 500] {
        let mut stream = send(&mock, TOKEN_PATH, Some("abc"));
        stream
            .set_read_timeout(Some(Duration::from_millis(400)))
            .unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let err = loop {
            match stream.read(&mut buf) {
                Ok(0) => panic!("stalled reply closed"),
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert!(is_timeout(&err));
        let r = parse(&raw);
        assert_eq!(r.body.len(), sent);
        let length: usize = r.header("content-length").unwrap().parse().unwrap();
        assert!(length > sent);
    }
    assert!(mock.tokens().is_empty());
}

#[test]
fn reset_mid_response_resets() {
    let mock = MockPlatform::start("abc");
    mock.push(Reply::ResetMidResponse);
    let mut stream = send(&mock, TOKEN_PATH, Some("abc"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let err = loop {
        match stream.read(&mut buf) {
            Ok(0) => panic!("clean EOF instead of a reset after {raw:?}"),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    if !raw.is_empty() {
        let r = parse(&raw);
        assert_eq!(r.code, 200);
        let length: usize = r.header("content-length").unwrap().parse().unwrap();
        assert!(r.body.len() < length);
    }
    assert!(mock.tokens().is_empty());
}

#[test]
fn hang_is_released_when_the_mock_is_dropped() {
    let mock = MockPlatform::start("abc");
    mock.set_default(Reply::Hang);
    let mut stream = send(&mock, TOKEN_PATH, Some("abc"));
    assert!(mock.wait_for_count(1, Duration::from_secs(5)));
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(is_timeout(&stream.read(&mut buf).unwrap_err()));
    let started = Instant::now();
    drop(mock);
    assert!(started.elapsed() < Duration::from_secs(1));
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("hanging reply sent {n} bytes"),
        Err(e) => assert!(!is_timeout(&e), "still hanging after drop"),
    }
}

#[test]
fn concurrent_delayed_requests() {
    let mock = MockPlatform::start("abc");
    mock.set_default(Reply::Delay(
        Duration::from_millis(300),
        Box::new(Reply::Token),
    ));
    let started = Instant::now();
    let mock = Arc::new(mock);
    let clients: Vec<_> = (0..40)
        .map(|_| {
            let mock = Arc::clone(&mock);
            thread::spawn(move || get(&mock, TOKEN_PATH, Some("abc")).code)
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "requests were serialised"
    );
    assert_eq!(mock.count(), 40);
    let tokens = mock.tokens();
    let distinct: std::collections::HashSet<_> = tokens.iter().collect();
    assert_eq!((tokens.len(), distinct.len()), (40, 40));
}

#[test]
fn malformed_request_is_400_and_counted() {
    let mock = MockPlatform::start("abc");
    let mut stream = TcpStream::connect(mock.addr()).unwrap();
    stream.write_all(b"NONSENSE\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    assert_eq!(parse(&raw).code, 400);
    assert_eq!(mock.count(), 1);
}

#[test]
fn ignores_the_owner_query_without_owners() {
    let mock = MockPlatform::start("abc");
    let r = get(&mock, &format!("{TOKEN_PATH}?owner=orgB"), Some("abc"));
    assert_eq!(r.code, 200);
    assert_eq!(json_str(&r.text(), "owner"), None, "{}", r.text());
    let token = json_str(&r.text(), "token").unwrap();
    let checker = mock.checker();
    assert!(checker.serves(&token, "orgA") && checker.serves(&token, "orgB"));
    assert_eq!(checker.owner_of(&token), Some(None));
    assert_eq!(mock.requested_owners(), vec![Some("orgB".to_string())]);
}

#[test]
fn one_installation_per_listed_owner() {
    let mock = MockPlatform::start("abc");
    mock.set_owners(&["orgA", "orgB"]);
    let checker = mock.checker();
    let b = get(&mock, &format!("{TOKEN_PATH}?owner=ORGB"), Some("abc"));
    assert_eq!(b.code, 200);
    assert_eq!(json_str(&b.text(), "owner").as_deref(), Some("orgB"));
    let token_b = json_str(&b.text(), "token").unwrap();
    assert!(checker.serves(&token_b, "orgb") && !checker.serves(&token_b, "orgA"));
    // No query: the default installation, the first owner listed.
    let a = get(&mock, TOKEN_PATH, Some("abc"));
    assert_eq!(json_str(&a.text(), "owner").as_deref(), Some("orgA"));
    let token_a = json_str(&a.text(), "token").unwrap();
    assert!(checker.serves(&token_a, "orgA") && !checker.serves(&token_a, "orgB"));
    // An owner without an installation: 404, and nothing minted.
    let c = get(&mock, &format!("{TOKEN_PATH}?owner=orgC"), Some("abc"));
    assert_eq!(c.code, 404);
    assert!(c.text().contains("not installed"), "{}", c.text());
    assert_eq!(mock.tokens(), vec![token_b, token_a]);
    // A wrong bearer is still 401 first, whatever the owner.
    assert_eq!(
        get(&mock, &format!("{TOKEN_PATH}?owner=orgC"), Some("x")).code,
        401
    );
    assert_eq!(
        mock.requested_owners(),
        vec![
            Some("ORGB".to_string()),
            None,
            Some("orgC".to_string()),
            Some("orgC".to_string())
        ]
    );
}
