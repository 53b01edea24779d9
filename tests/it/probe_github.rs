//! `status --probe` for the platform's hosts, through the real HTTPS mock of
//! GitHub (tests/support/mock_github.rs) with the test CA (SSL_CERT_FILE)
//! and the CONNECT proxy (HTTPS_PROXY): the rate limit, the installation,
//! and for each --probe-repo the repository, its pulls and issues, and push.
//! Every run checks that no token or bearer reached stdout or stderr.

use std::sync::Arc;

use crate::support::mock_github::*;
use crate::support::mock_platform::rfc3339;
use crate::support::*;

/// A workspace whose platform mints the tokens the mock GitHub accepts,
/// reached by name through the CONNECT proxy, its CA trusted.
struct World {
    ws: Workspace,
    stack: GithubStack,
}

impl World {
    fn new() -> World {
        let mut ws = Workspace::new();
        let checker = ws.platform.checker();
        let stack = GithubStack::start(ws.path(), Arc::new(move |t: &str| checker.is_live(t)));
        for (k, v) in stack.env() {
            ws.set_env(&k, v);
        }
        World { ws, stack }
    }

    fn github(&self) -> &MockGithub {
        &self.stack.github
    }

    /// `status --probe ARGS`, then the same with --json: the same exit code,
    /// no secret in either stdout (the workspace checks stderr).
    fn probe(&self, args: &[&str]) -> (Out, serde_json::Value) {
        let out = self.run(&[&["status", "--probe"], args].concat());
        let json = self.run(&[&["status", "--probe", "--json"], args].concat());
        assert_eq!(json.code(), out.code(), "{json:?}");
        let value: serde_json::Value = serde_json::from_str(&json.stdout)
            .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {json:?}"));
        (out, value)
    }

    fn run(&self, args: &[&str]) -> Out {
        let out = self.ws.helper(args, "");
        self.ws.assert_no_secret_in(&out.stdout, "stdout");
        for token in self.ws.platform.tokens() {
            assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
        }
        out
    }
}

/// The one line of check `name` whose message contains `needle`.
fn line<'a>(out: &'a Out, name: &str, needle: &str) -> &'a str {
    let found: Vec<&str> = (out.stdout.lines())
        .filter(|l| l.split_whitespace().nth(1) == Some(name) && l.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {name} line with {needle:?} in: {out:?}"
    );
    found[0]
}

fn mark(line: &str) -> &str {
    line.split_whitespace().next().unwrap()
}

/// The statuses of the JSON checks named `name` whose message contains `needle`.
fn json_marks(value: &serde_json::Value, name: &str, needle: &str) -> Vec<String> {
    (value["checks"].as_array().unwrap().iter())
        .filter(|c| c["name"] == name && c["message"].as_str().unwrap().contains(needle))
        .map(|c| c["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_permission_is_ok_on_github_com_and_an_enterprise_host() {
    let mut w = World::new();
    w.ws.set_env("MOLECULE_GIT_HOSTS", format!("github.com,{GHE_HOST}"));
    w.github().add_repo("o/r", Perms::all());
    w.github().add_repo("o/other", Perms::read_only());
    let (out, json) = w.probe(&["--probe-repo", "o/r"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(json["ok"], true);
    for (host, api, git) in [
        ("github.com", "https://api.github.com", "https://github.com"),
        (
            GHE_HOST,
            "https://ghe.example.test/api/v3",
            "https://ghe.example.test",
        ),
    ] {
        let rate = line(&out, "api", &format!("{host}: {api}/rate_limit: core "));
        assert_eq!(mark(rate), "ok", "{out:?}");
        assert!(
            rate.contains("/5000 left, resets ") && rate.contains("; graphql 5000/5000 left"),
            "{out:?}"
        );
        let installation = line(&out, "api", &format!("{host}: the App's installation"));
        assert_eq!(
            installation,
            format!("ok    api       {host}: the App's installation can see 2 repositories")
        );
        assert_eq!(
            line(&out, "api", &format!("{host}: o/r:")),
            format!(
                "ok    api       {host}: o/r: the App can see it; open pull requests and issues \
                 listed"
            )
        );
        let push = line(&out, "push", &format!("{host}: o/r:"));
        assert_eq!(mark(push), "ok", "{out:?}");
        assert!(
            push.contains(&format!(
                "the token can push ({git}/o/r.git/info/refs?service=git-receive-pack answered \
                 HTTP 200; nothing written)"
            )),
            "{out:?}"
        );
        assert!(
            json_marks(&json, "api", &format!("{host}: "))
                .iter()
                .all(|m| m == "ok"),
            "{json}"
        );
    }
    // What was asked, with which credential: the token as the API wants it,
    // Basic x-access-token as git sends it, always the token git gets (the
    // cached one; the platform check mints others, never used).
    let token = w.ws.helper(&["fetch-token"], "").stdout.trim().to_string();
    assert!(w.ws.platform.tokens().contains(&token), "{token}");
    let asked: Vec<String> = (w.github().requests().iter())
        .map(|r| {
            assert_eq!(
                r.token_tail.as_deref(),
                Some(tail4(&token).as_str()),
                "{r:?}"
            );
            format!(
                "{} {} {}?{} {}",
                r.host, r.scheme, r.path, r.query, r.status
            )
        })
        .collect();
    let one_run = |api_host: &str, prefix: &str, web_host: &str| {
        vec![
            format!("{api_host} token {prefix}/rate_limit? 200"),
            format!("{api_host} token {prefix}/installation/repositories?per_page=1 200"),
            format!("{api_host} token {prefix}/repos/o/r? 200"),
            format!("{api_host} token {prefix}/repos/o/r/pulls?per_page=1 200"),
            format!("{api_host} token {prefix}/repos/o/r/issues?per_page=1 200"),
            format!("{web_host} basic /o/r.git/info/refs?service=git-receive-pack 200"),
        ]
    };
    let run = [
        one_run(API_HOST, "", WEB_HOST),
        one_run(GHE_HOST, "/api/v3", GHE_HOST),
    ]
    .concat();
    assert_eq!(asked, [run.clone(), run].concat());
    // Reached by name through the CONNECT proxy, TLS checked with the test CA.
    let targets = w.stack.proxy.targets();
    for target in [
        "api.github.com:443",
        "github.com:443",
        "ghe.example.test:443",
    ] {
        assert!(targets.iter().any(|t| t == target), "{targets:?}");
    }
}

#[test]
fn issues_missing_warns_naming_issues_read_and_the_repository() {
    let w = World::new();
    w.github().add_repo(
        "o/r",
        Perms::parse("contents=write,pull_requests=read,issues=none"),
    );
    let (out, json) = w.probe(&["--probe-repo", "o/r"]);
    assert_eq!(out.code(), 0, "warnings alone leave 0: {out:?}");
    assert_eq!(json["ok"], true);
    assert_eq!(
        line(&out, "api", "o/r:"),
        "warn  api       github.com: o/r: pull requests listed; issues refused (HTTP 403 \
         \"Resource not accessible by integration\"): the App lacks issues=read; grant it in the \
         GitHub App's permissions (the App's settings: Permissions & events), then accept the new \
         permissions on the installation"
    );
    assert_eq!(json_marks(&json, "api", "lacks issues=read"), ["warn"]);
    assert_eq!(mark(line(&out, "push", "o/r")), "ok", "{out:?}");
}

#[test]
fn a_repository_outside_the_installation_warns_naming_it_and_the_installation() {
    let w = World::new();
    w.github().add_repo("o/r", Perms::all());
    let (out, json) = w.probe(&["--probe-repo", "o/r", "--probe-repo", "o/elsewhere"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(json["ok"], true);
    assert_eq!(mark(line(&out, "api", "o/r:")), "ok", "{out:?}");
    assert_eq!(
        line(&out, "api", "o/elsewhere:"),
        "warn  api       github.com: o/elsewhere: https://api.github.com/repos/o/elsewhere \
         answered HTTP 404 \"Not Found\": the App's installation cannot see o/elsewhere (the App \
         is not installed there, or there is no such repository); the fix is in the App's \
         installation settings: Repository access, add o/elsewhere"
    );
    // Nothing more is asked about it: its lists and git would say 404 again.
    assert!(
        (w.github().requests().iter())
            .all(|r| !r.path.contains("elsewhere") || r.path == "/repos/o/elsewhere"),
        "{}",
        w.github().describe()
    );
    assert_eq!(
        (out.stdout.lines())
            .filter(|l| l.contains("o/elsewhere"))
            .count(),
        1,
        "{out:?}"
    );
    // Taking o/r out of the installation turns its line into the same warning.
    w.github().remove_repo("o/r");
    let out = w.run(&["status", "--probe", "--probe-repo", "o/r"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let repo = line(&out, "api", "o/r:");
    assert!(
        repo.starts_with("warn") && repo.contains("installation cannot see o/r"),
        "{out:?}"
    );
    assert!(
        line(&out, "api", "installation can see no repository").starts_with("warn"),
        "{out:?}"
    );
}

#[test]
fn no_push_warns_naming_contents_write() {
    let w = World::new();
    w.github().add_repo("o/r", Perms::read_only());
    let (out, json) = w.probe(&["--probe-repo", "o/r"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(mark(line(&out, "api", "o/r:")), "ok", "{out:?}");
    assert_eq!(
        line(&out, "push", "o/r:"),
        "warn  push      github.com: o/r: the token cannot push \
         (https://github.com/o/r.git/info/refs?service=git-receive-pack answered HTTP 403): the \
         App lacks contents=write; grant it in the GitHub App's permissions (the App's settings: \
         Permissions & events), then accept the new permissions on the installation"
    );
    assert_eq!(json_marks(&json, "push", "contents=write"), ["warn"]);
    // Nothing was pushed: only the advertisement was asked for.
    let git: Vec<GhRequest> = w.github().requests_to(WEB_HOST, "/o/r.git/info/refs");
    assert_eq!(git.len(), 2, "{}", w.github().describe());
    assert!(git.iter().all(|r| r.method == "GET" && r.scheme == "basic"));
}

#[test]
fn two_percent_of_the_rate_limit_left_warns_with_the_reset_time() {
    let w = World::new();
    w.github().add_repo("o/r", Perms::all());
    w.github().set_rate_limit(5000, 100);
    let reset = w.github().rate_limit().reset;
    let out = w.run(&["status", "--probe"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let rate = line(&out, "api", "/rate_limit");
    assert!(rate.starts_with("warn"), "{out:?}");
    assert!(
        rate.contains(&format!(
            "core 100/5000 left (2 %), resets {}",
            rfc3339(reset as i64)
        )) && rate.contains("under 10 % of core left"),
        "{out:?}"
    );
    // Spent: a failure saying when it resets, and nothing else is asked.
    w.github().set_rate_limit(5000, 0);
    w.github().clear_requests();
    let (out, json) = w.probe(&["--probe-repo", "o/r"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(json["ok"], false);
    let rate = line(&out, "api", "/rate_limit");
    assert!(
        rate.starts_with("fail") && rate.contains(&format!("core until {}", rfc3339(reset as i64))),
        "{out:?}"
    );
    assert!(
        line(&out, "api", "the installation and o/r not probed").starts_with("skip"),
        "{out:?}"
    );
    assert!(
        (w.github().requests().iter()).all(|r| r.path == "/rate_limit"),
        "{}",
        w.github().describe()
    );
}

#[test]
fn a_token_github_refuses_fails_naming_the_platform() {
    let w = World::new();
    w.github().add_repo("o/r", Perms::all());
    // A token in the cache that the platform has since revoked.
    // (fetch-token prints it: the one run here whose stdout may hold it.)
    let fetched = w.ws.helper(&["fetch-token"], "");
    assert_eq!(fetched.code(), 0, "{fetched:?}");
    let token = fetched.stdout.trim().to_string();
    w.ws.platform.revoke(&token);
    let (out, json) = w.probe(&["--probe-repo", "o/r"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(json["ok"], false);
    assert_eq!(
        line(&out, "api", "/rate_limit"),
        format!(
            "fail  api       github.com: https://api.github.com/rate_limit answered HTTP 401 \
             \"Bad credentials\": the token is not valid; the platform ({}) handed out a token \
             github.com does not accept (revoked, expired, or from another GitHub App)",
            w.ws.platform.token_url()
        )
    );
    assert!(
        line(&out, "api", "not probed: the token is not valid").starts_with("skip"),
        "{out:?}"
    );
    assert!(
        (w.github().requests().iter()).all(|r| r.path == "/rate_limit" && r.status == 401),
        "{}",
        w.github().describe()
    );
}

#[test]
fn https_goes_through_https_proxy_but_the_platform_and_http_never_do() {
    let mut w = World::new();
    w.github().add_repo("o/r", Perms::all());
    // Every proxy variable names the CONNECT proxy: only the https GitHub
    // URLs may use it; the platform (plain http) is asked directly.
    let proxy = w.stack.proxy.url();
    w.ws.set_proxies(&proxy);
    let out = w.run(&["status", "--probe", "--probe-repo", "o/r"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(mark(line(&out, "platform", "answered")), "ok", "{out:?}");
    assert!(w.ws.platform.count() >= 1);
    assert_eq!(mark(line(&out, "push", "o/r:")), "ok", "{out:?}");
    let targets = w.stack.proxy.targets();
    assert!(
        targets
            .iter()
            .all(|t| t == "api.github.com:443" || t == "github.com:443"),
        "{targets:?}"
    );
    assert!(!targets.is_empty());

    // An http API is never proxied: this one is a dead local port, asked
    // directly and found dead, and the proxy sees nothing of it.
    let before = targets.len();
    let dead = dead_port();
    let api = format!("github.com=http://127.0.0.1:{dead}");
    let out = w.run(&["status", "--probe", "--api-url", &api]);
    assert_eq!(out.code(), 1, "{out:?}");
    let rate = line(&out, "api", "/rate_limit");
    assert!(
        rate.starts_with("fail")
            && rate.contains(&format!(
                "cannot connect to http://127.0.0.1:{dead}/rate_limit"
            )),
        "{out:?}"
    );
    assert_eq!(w.stack.proxy.targets().len(), before);
}

#[test]
fn git_url_points_the_push_probe_elsewhere() {
    let w = World::new();
    w.github().add_repo("o/r", Perms::parse("contents=write"));
    let out = w.run(&[
        "status",
        "--probe",
        "--probe-repo",
        "o/r",
        "--git-url",
        &format!("github.com=https://{GHE_HOST}/"),
    ]);
    // pulls and issues: none, so warnings; push: asked of the other URL.
    assert_eq!(out.code(), 0, "{out:?}");
    let push = line(&out, "push", "o/r:");
    assert!(
        push.starts_with("ok")
            && push
                .contains("(https://ghe.example.test/o/r.git/info/refs?service=git-receive-pack"),
        "{out:?}"
    );
    assert!(
        line(&out, "api", "o/r:").contains("lacks pull_requests=read and issues=read"),
        "{out:?}"
    );
    assert_eq!(
        w.github().requests_to(GHE_HOST, "/o/r.git/info/refs").len(),
        1
    );
    assert!(
        w.github()
            .requests_to(WEB_HOST, "/o/r.git/info/refs")
            .is_empty()
    );
}

#[test]
fn without_probe_nothing_is_asked_and_usage_is_checked() {
    let w = World::new();
    let out = w.run(&["status"]);
    assert_eq!(
        line(&out, "api", "github.com:"),
        "skip  api       github.com: https://api.github.com not asked whether it accepts the token \
         (status --probe asks it)"
    );
    assert!(w.github().requests().is_empty());
    assert!(w.stack.proxy.targets().is_empty());

    // --git-url names a platform host; --probe-host a served one.
    let mut w = w;
    w.ws.set_env("MOLECULE_SECRET_HOSTS", "git.example.test=GITEA_TOKEN");
    for (flag, value, error) in [
        (
            "--git-url",
            "git.example.test=https://x",
            "--git-url names git.example.test, which is not served from the platform",
        ),
        (
            "--git-url",
            "gitlab.com=https://x",
            "--git-url names gitlab.com, which is not served from the platform",
        ),
        (
            "--probe-host",
            "gitlab.com",
            "--probe-host names gitlab.com, which is not served",
        ),
    ] {
        let out = w.run(&["status", "--probe", flag, value]);
        assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
        out.assert_one_error(error);
    }
    // --probe-host picks the hosts asked: the secret host only, here.
    let out = w.run(&["status", "--probe", "--probe-host", "git.example.test"]);
    assert!(!out.stdout.contains("api.github.com"), "{out:?}");
    assert!(w.github().requests().is_empty());
}

#[test]
fn probes_give_up_at_the_deadline() {
    let mut w = World::new();
    w.ws.set_env("MOLECULE_TOKEN_TIMEOUT", "1");
    // Accepts connections (the kernel does) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("github.com=http://{}", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let out = w.run(&[
        "status",
        "--probe",
        "--probe-repo",
        "o/r",
        "--api-url",
        &api,
    ]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{out:?}"
    );
    assert_eq!(out.code(), 1, "{out:?}");
    let rate = line(&out, "api", "/rate_limit");
    assert!(
        rate.starts_with("fail") && rate.contains("did not answer within the 1 s deadline"),
        "{out:?}"
    );
    assert!(
        line(&out, "api", "the installation and o/r not probed").starts_with("skip"),
        "{out:?}"
    );
}
