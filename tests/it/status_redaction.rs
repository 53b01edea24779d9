//! `status` prints no secret, by construction: an API that echoes the
//! credential, helper lines with secrets as arguments. And what happened,
//! for the person debugging a failed push: the last platform failure and
//! the last token git rejected.

use crate::support::http_server::{Server, response_head};
use crate::support::*;

const URL: &str = "https://github.com/org/repo.git";

/// `status ARGS` and `status --json ARGS`: stdout of both, and the JSON.
fn status(ws: &Workspace, args: &[&str]) -> (Out, Out, serde_json::Value) {
    let out = ws.helper(&[&["status"], args].concat(), "");
    let json = ws.helper(&[&["status", "--json"], args].concat(), "");
    let value: serde_json::Value = serde_json::from_str(&json.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {json:?}"));
    (out, json, value)
}

/// An API that answers every request 401 with its `Authorization` header
/// in the JSON `message` (as a careless front proxy might).
fn echoing_api() -> Server {
    Server::start("echo-api", 0, |mut conn, head| {
        let Ok(head) = head else { return };
        let said = head.header("authorization").unwrap_or("").replace('"', "");
        let body = format!(r#"{{"message":"Bad credentials: {said}"}}"#);
        conn.consume_head();
        conn.write(&response_head(
            401,
            "application/json",
            Some(body.len()),
            &[],
        ));
        conn.write(body.as_bytes());
        conn.finish();
    })
    .unwrap()
}

#[test]
fn an_api_that_echoes_the_token_does_not_make_status_print_it() {
    let ws = Workspace::new();
    let api = echoing_api();
    let api_url = format!("github.com={}", api.url());
    let (out, json, _) = status(&ws, &["--probe", "--api-url", &api_url]);
    let token = ws.platform.last_token().expect("a token");
    // The API did say it back (so the test can fail), and status did not.
    assert!(
        out.stdout.contains("Bad credentials"),
        "the echoing API was not asked: {out:?}"
    );
    for shown in [&out.stdout, &json.stdout] {
        assert!(!shown.contains(&token), "the token is printed: {shown}");
        ws.assert_no_secret_in(shown, "stdout");
    }
}

#[test]
fn secrets_given_to_helpers_as_arguments_are_not_printed() {
    let ws = Workspace::new();
    let secret = |n: u32| format!("S3cret{n}x{}", unique());
    let (s1, s2, s3, s4, s5) = (secret(1), secret(2), secret(3), secret(4), secret(5));
    ws.write_gitconfig(&format!(
        "[credential]\n\
         \thelper = /opt/helper --password {s1}\n\
         \thelper = /opt/helper --token={s2}\n\
         \thelper = \"!printf 'username=bot\\\\npassword=%s\\\\n' {s3}\"\n\
         \thelper = /opt/other -p {s4} --user bob\n\
         \thelper = \"!f() {{ curl -s https://bot:{s5}@vault.example/x; }}; f\"\n\
         \thelper = {BIN}\n"
    ));
    let (out, json, _) = status(&ws, &[]);
    assert!(out.stdout.contains("/opt/helper"), "{out:?}");
    for s in [&s1, &s2, &s3, &s4, &s5] {
        for shown in [&out.stdout, &json.stdout] {
            assert!(!shown.contains(s.as_str()), "{s} is printed: {shown}");
        }
    }
    // The rest of the lines is still there to read.
    assert!(out.stdout.contains("--password ***"), "{out:?}");
    assert!(out.stdout.contains("--user bob"), "{out:?}");
    assert!(
        out.stdout.contains("https://***@vault.example/x"),
        "{out:?}"
    );
}

#[test]
fn status_shows_the_last_platform_failure_and_the_last_rejected_token() {
    let ws = Workspace::new();
    ws.configure_generic();
    let (out, _, value) = status(&ws, &[]);
    assert!(
        line(&out, "history").contains("no platform failure"),
        "{out:?}"
    );
    assert_eq!(json_check(&value, "history")["status"], "ok");

    // Two failures in a row (the memory lapses in between), with nothing
    // cached (status itself fetched a token).
    ws.forget_cache();
    ws.platform.set_default(Reply::status(503));
    let mut quick = ws.command("git");
    quick
        .env("MOLECULE_TOKEN_TIMEOUT", "1")
        .args(["credential", "fill"]);
    ws.run(quick, &format!("url={URL}\n\n")).assert_fallback();
    std::fs::remove_file(ws.cache.join("token.failed")).unwrap();
    // (The outage memory is the platform's.)
    std::fs::remove_file(ws.cache.join("platform.state")).unwrap();
    let mut quick = ws.command("git");
    quick
        .env("MOLECULE_TOKEN_TIMEOUT", "1")
        .args(["credential", "fill"]);
    ws.run(quick, &format!("url={URL}\n\n")).assert_fallback();
    // (Its live platform check gives up after a second.)
    let (out, _, value) = status(&ws, &["--timeout", "1"]);
    let history = line(&out, "history");
    assert!(history.starts_with("warn"), "{out:?}");
    assert!(history.contains("HTTP 503"), "{out:?}");
    assert!(
        history.contains("2 failures since the last success"),
        "{out:?}"
    );
    let message = json_check(&value, "history")["message"].as_str().unwrap();
    assert!(message.contains("HTTP 503"), "{value}");

    // The platform is back; git rejects the token it was given.
    ws.platform.set_default(Reply::Token);
    std::fs::remove_file(ws.cache.join("token.failed")).unwrap();
    // (The outage memory is the platform's.)
    std::fs::remove_file(ws.cache.join("platform.state")).unwrap();
    let token = ws.fill(URL).served_token();
    let out = ws.git(
        &["credential", "reject"],
        &format!("url={URL}\nusername=x-access-token\npassword={token}\n\n"),
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let (out, _, value) = status(&ws, &[]);
    let history = line(&out, "history");
    assert!(history.starts_with("ok"), "{out:?}");
    assert!(
        history.contains("0 failures since the last success") && history.contains("recovered"),
        "{out:?}"
    );
    assert!(
        history.contains("git last rejected a token 0 s ago"),
        "{out:?}"
    );
    assert!(
        json_check(&value, "history")["message"]
            .as_str()
            .unwrap()
            .contains("git last rejected a token"),
        "{value}"
    );
    // The record is private, small, and holds no token.
    let record = ws.cache.join("token.history");
    let text = std::fs::read_to_string(&record).unwrap();
    ws.assert_no_secret_in(&text, "token.history");
    assert!(!text.contains(&token));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&record).unwrap().mode() & 0o777, 0o600);
}

/// The line for check `name`.
fn line<'a>(out: &'a Out, name: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no {name} line: {out:?}"))
}

fn json_check<'a>(value: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {value}"))
}
