//! gh for the whole life of a workspace (issue 13): the gh proxy, `configure
//! --gh-proxy`, `exec`'s variable rule, `gh-login` and `status`'s gh checks,
//! with the REAL gh against the mock GitHub API (reached by name through the
//! CONNECT proxy, trusting the test CA), in an environment that holds stale
//! `GH_TOKEN`/`GITHUB_TOKEN` as every workspace process does. Where the
//! real gh cannot show a detail (its argv, its exact environment, exec
//! semantics) a fake `gh` script after the proxy on PATH records it.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::mock_github::*;
use crate::support::*;

/// A workspace for the real gh: the mock platform minting tokens, the mock
/// GitHub API accepting only its live ones, gh's own config directory, and
/// `GH_TOKEN`/`GITHUB_TOKEN` holding a token the platform minted and that
/// has since died (revoked), as a workspace's do an hour after its start.
struct World {
    ws: Workspace,
    stack: GithubStack,
    gh_config: PathBuf,
    /// Holds `gh`, a link to the helper: the proxy.
    proxy_dir: PathBuf,
    /// The dead token of the workspace's start.
    stale: String,
    /// PATH without the proxy.
    plain_path: String,
}

impl World {
    /// `hosts`: MOLECULE_GIT_HOSTS, if any.
    fn new(hosts: Option<&str>) -> World {
        let gh_dir = real_gh_dir();
        let mut ws = Workspace::new();
        let (stack, gh_config) = ws.start_github();
        if let Some(hosts) = hosts {
            ws.set_env("MOLECULE_GIT_HOSTS", hosts);
        }
        let proxy_dir = ws.path().join("proxy-bin");
        std::fs::create_dir_all(&proxy_dir).unwrap();
        std::os::unix::fs::symlink(BIN, proxy_dir.join("gh")).unwrap();
        let plain_path = crate::support::test_git::path_string();
        assert!(plain_path.contains(gh_dir.to_str().unwrap()));
        let mut w = World {
            ws,
            stack,
            gh_config,
            proxy_dir,
            stale: String::new(),
            plain_path,
        };
        w.stale = w.mint();
        w.ws.platform.revoke(&w.stale);
        w.ws.set_env("GH_TOKEN", &w.stale);
        w.ws.set_env("GITHUB_TOKEN", &w.stale);
        w
    }

    /// Put the proxy first on PATH for every run.
    fn with_proxy(&mut self) {
        let path = format!("{}:{}", self.proxy_dir.display(), self.plain_path);
        self.ws.set_env("PATH", path);
    }

    /// A token freshly minted by the mock platform.
    fn mint(&self) -> String {
        self.ws.mint()
    }

    /// `gh ARGS` as a shell runs it: found on PATH (argv[0] `gh`).
    fn gh(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut c = self.ws.command("sh");
        c.args(["-c", "exec gh \"$@\"", "gh"]).args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        self.ws.run(c, "")
    }

    /// The token the helper hands out now (the cache's), as git gets it.
    fn current(&self) -> String {
        let out = self.ws.helper(&["fetch-token"], "");
        assert_eq!(out.code(), 0, "{out:?}");
        out.stdout.trim().to_string()
    }

    /// git saw `token` rejected and ran `erase`, as after a failed push:
    /// the cache drops it, and the platform hands out a new one next time.
    fn erase(&self, token: &str) {
        let out = self.ws.helper(
            &["erase"],
            &format!(
                "protocol=https\nhost=github.com\nusername=x-access-token\npassword={token}\n\n"
            ),
        );
        assert_eq!(out.code(), 0, "{out:?}");
    }

    fn log(&self) -> String {
        self.stack.github.describe()
    }

    /// The mock answered `path` on `host` with `status` for `token` (by its tail).
    fn assert_logged(&self, host: &str, path: &str, status: u16, token: &str) {
        let log = self.stack.github.requests_to(host, path);
        assert!(
            log.iter()
                .any(|r| r.status == status && r.token_tail.as_deref() == Some(&tail4(token))),
            "no {host}{path} -> {status} with that token in:\n{}",
            self.log()
        );
    }

    /// No request to the mock carried `token`.
    fn assert_never_sent(&self, token: &str) {
        assert!(
            self.stack
                .github
                .requests()
                .iter()
                .all(|r| r.token_tail.as_deref() != Some(&tail4(token))),
            "a request carried that token:\n{}",
            self.log()
        );
    }
}

fn assert_bad_credentials(out: &Out) {
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains("HTTP 401") && out.stderr.contains("Bad credentials"),
        "{out:?}"
    );
}

// ---- the proxy, with the real gh --------------------------------------------

#[test]
fn proxy_gives_gh_the_current_token_over_stale_variables_before_and_after_revocation() {
    let mut w = World::new(None);
    // Without the proxy, the stale variables win over everything.
    assert_bad_credentials(&w.gh(&["api", "repos/o/r"], &[]));

    w.with_proxy();
    let out = w.gh(&["api", "repos/o/r"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    assert!(out.stdout.contains(r#""full_name":"o/r""#), "{out:?}");
    assert_eq!(out.stderr, "");
    let first = w.current();
    w.assert_logged(API_HOST, "/repos/o/r", 200, &first);

    // The token is revoked; the platform hands out a new one once the cache
    // lets go of the old (git's erase after a rejected push).
    w.ws.platform.revoke(&first);
    w.erase(&first);
    w.stack.github.clear_requests();
    let out = w.gh(&["api", "repos/o/r"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    let second = w.current();
    assert_ne!(first, second);
    w.assert_logged(API_HOST, "/repos/o/r", 200, &second);
    w.assert_never_sent(&first);
    assert_eq!(
        w.ws.platform.count(),
        3,
        "the stale mint, then one fetch per token"
    );
}

#[test]
fn proxy_gives_an_enterprise_host_the_current_token_over_stale_enterprise_variables() {
    let mut w = World::new(Some("github.com,ghe.example.test"));
    w.ws.set_env("GH_ENTERPRISE_TOKEN", w.stale.clone());
    w.ws.set_env("GITHUB_ENTERPRISE_TOKEN", w.stale.clone());
    w.ws.set_env("GH_HOST", GHE_HOST);
    assert_bad_credentials(&w.gh(&["api", "repos/o/r"], &[]));

    w.with_proxy();
    let out = w.gh(&["api", "repos/o/r"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    assert!(
        out.stdout
            .contains(r#""url":"https://ghe.example.test/api/v3/repos/o/r""#),
        "{out:?}"
    );
    let first = w.current();
    w.assert_logged(GHE_HOST, "/api/v3/repos/o/r", 200, &first);

    w.ws.platform.revoke(&first);
    w.erase(&first);
    let out = w.gh(&["api", "repos/o/r"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    let second = w.current();
    assert_ne!(first, second);
    w.assert_logged(GHE_HOST, "/api/v3/repos/o/r", 200, &second);
}

#[test]
fn proxy_never_gives_an_unserved_enterprise_host_the_token() {
    // Only github.com is served: the enterprise variables are not ours to set.
    let mut w = World::new(None);
    let theirs = "ghe_operators_own_token_0000000001";
    w.ws.add_secret(theirs);
    w.ws.set_env("GH_ENTERPRISE_TOKEN", theirs);
    w.ws.set_env("GH_HOST", GHE_HOST);
    w.with_proxy();
    let out = w.gh(&["api", "repos/o/r"], &[]);
    assert_bad_credentials(&out);
    w.assert_logged(GHE_HOST, "/api/v3/repos/o/r", 401, theirs);
    let current = w.current();
    w.assert_never_sent(&current);
    // github.com itself gets the token all the same.
    let out = w.gh(&["api", "repos/o/r"], &[("GH_HOST", "github.com")]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    w.assert_logged(API_HOST, "/repos/o/r", 200, &current);
}

/// An Enterprise-only workspace: the platform serves ghe.example.test, not
/// github.com; the container's stale `GH_TOKEN`/`GITHUB_TOKEN` are set.
fn enterprise_only() -> World {
    World::new(Some(GHE_HOST))
}

/// `gh auth token --hostname github.com` as a shell runs it: the token gh
/// would send to github.com.
fn github_com_token(w: &World) -> Out {
    w.gh(&["auth", "token", "--hostname", "github.com"], &[])
}

#[test]
fn an_enterprise_only_workspace_never_gives_github_com_the_token_through_the_proxy() {
    let mut w = enterprise_only();
    w.with_proxy();
    let out = github_com_token(&w);
    assert_eq!(
        (out.code(), out.stdout.trim()),
        (0, w.stale.as_str()),
        "github.com's pair is left as it was: {out:?}"
    );
    // The Enterprise host gets the fresh token (the enterprise pair).
    let out = w.gh(&["api", "--hostname", GHE_HOST, "repos/o/r"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    let current = w.current();
    w.assert_logged(GHE_HOST, "/api/v3/repos/o/r", 200, &current);
    // github.com gets the stale token it had, never the platform's.
    assert_bad_credentials(&w.gh(&["api", "repos/o/r"], &[]));
    w.assert_logged(API_HOST, "/repos/o/r", 401, &w.stale);
    assert!(
        w.stack
            .github
            .requests()
            .iter()
            .filter(|r| r.host != GHE_HOST)
            .all(|r| r.token_tail.as_deref() != Some(&tail4(&current))),
        "the platform's token reached github.com:\n{}",
        w.log()
    );
    // With none set, github.com gets none.
    let out = w.gh(
        &["auth", "token", "--hostname", "github.com"],
        &[("GH_TOKEN", ""), ("GITHUB_TOKEN", "")],
    );
    assert!(!out.stdout.contains(&current), "{out:?}");
}

#[test]
fn an_enterprise_only_workspace_never_gives_github_com_the_token_through_exec() {
    let w = enterprise_only();
    let mut c = w.ws.command(BIN);
    c.args([
        "exec",
        "--",
        "gh",
        "auth",
        "token",
        "--hostname",
        "github.com",
    ]);
    let out = w.ws.run(c, "");
    assert_eq!(
        (out.code(), out.stdout.trim()),
        (0, w.stale.as_str()),
        "{out:?}"
    );
    let mut c = w.ws.command(BIN);
    c.args(["exec", "--", "gh", "auth", "token", "--hostname", GHE_HOST]);
    let out = w.ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.trim(), w.current());
    let mut c = w.ws.command(BIN);
    c.args(["exec", "--", "sh", "-c", "echo \"$GH_TOKEN $GITHUB_TOKEN\""]);
    let out = w.ws.run(c, "");
    assert_eq!(out.stdout, format!("{0} {0}\n", w.stale));
}

#[test]
fn status_in_an_enterprise_only_workspace_checks_the_enterprise_pair_only() {
    let mut w = enterprise_only();
    // The stale github.com pair is not ours: no warning about it.
    let line = status_line(&w, "gh-env");
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>().join(" "),
        "ok gh-env GH_ENTERPRISE_TOKEN, GITHUB_ENTERPRISE_TOKEN unset"
    );
    w.ws.set_env("GH_ENTERPRISE_TOKEN", w.stale.clone());
    let line = status_line(&w, "gh-env");
    assert!(
        line.starts_with("warn")
            && line.contains("GH_ENTERPRISE_TOKEN holds a token other")
            && !line.contains("GH_TOKEN")
            && !line.contains("GITHUB_TOKEN"),
        "{line}"
    );
}

// ---- gh-login, with the real gh ---------------------------------------------

#[test]
fn gh_login_then_gh_without_the_variables_and_again_only_when_the_token_changed() {
    let w = World::new(None);
    // gh-login runs the gh on PATH; the workspace's stale variables are set.
    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "quiet for cron: {out:?}\n{}",
        w.log()
    );
    let first = w.current();
    w.assert_logged(API_HOST, "/", 200, &first);
    let hosts = std::fs::read_to_string(w.gh_config.join("hosts.yml")).unwrap();
    assert!(hosts.contains("github.com:"), "hosts.yml");

    let unset = [("GH_TOKEN", ""), ("GITHUB_TOKEN", "")];
    let mut c = w.ws.command("env");
    c.args([
        "-u",
        "GH_TOKEN",
        "-u",
        "GITHUB_TOKEN",
        "gh",
        "api",
        "repos/o/r",
    ]);
    let out = w.ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    w.assert_logged(API_HOST, "/repos/o/r", 200, &first);
    // (An empty variable is as good as none to gh.)
    assert_eq!(w.gh(&["api", "repos/o/r"], &unset).code(), 0);

    // The fingerprint: in the cache directory, private, not the token.
    let mark = w.ws.cache.join("gh-login.github.com");
    let text = std::fs::read_to_string(&mark).unwrap();
    assert!(
        text.starts_with("molecule-git-token-helper gh-login v1\nsha256 "),
        "{text}"
    );
    w.ws.assert_no_secret_in(&text, "the fingerprint");
    let mode = std::fs::metadata(&mark).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Unchanged token: gh is not run at all.
    w.stack.github.clear_requests();
    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    assert!(w.stack.github.requests().is_empty(), "{}", w.log());
    // --force logs in anyway.
    let out = w.ws.helper(&["gh-login", "--force"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    w.assert_logged(API_HOST, "/", 200, &first);

    // Revoked, and dropped from the cache as git's erase does: the next
    // gh-login logs in with a fresh token, and gh's login works again.
    w.ws.platform.revoke(&first);
    w.erase(&first);
    assert_eq!(w.gh(&["api", "repos/o/r"], &unset).code(), 1);
    w.stack.github.clear_requests();
    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    let second = w.current();
    assert_ne!(first, second);
    w.assert_logged(API_HOST, "/", 200, &second);
    let out = w.gh(&["api", "repos/o/r"], &unset);
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    w.assert_logged(API_HOST, "/repos/o/r", 200, &second);
}

#[test]
fn gh_login_with_the_proxy_first_on_path_logs_the_real_gh_in() {
    // configure --gh-proxy's set-up: the proxy first on PATH, the cron line's
    // `gh-login` finds `gh` there. With the workspace's stale variables set,
    // and with none set at all: the proxy must not put them back.
    for stale in [true, false] {
        let mut w = World::new(None);
        w.with_proxy();
        assert_eq!(which_gh(&w), w.proxy_dir.join("gh").to_str().unwrap());
        let mut c = w.ws.command(BIN);
        c.arg("gh-login");
        if !stale {
            c.env_remove("GH_TOKEN").env_remove("GITHUB_TOKEN");
        }
        let out = w.ws.run(c, "");
        assert_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "stale variables: {stale}: {out:?}\n{}",
            w.log()
        );
        let token = w.current();
        w.assert_logged(API_HOST, "/", 200, &token);
        let hosts = std::fs::read_to_string(w.gh_config.join("hosts.yml")).unwrap();
        assert!(hosts.contains("github.com:"), "{hosts}");
        // gh's stored login is the fresh token (the real gh, no variables).
        let mut c = w.ws.command(real_gh_dir().join("gh"));
        c.args(["auth", "token", "--hostname", "github.com"])
            .env_remove("GH_TOKEN")
            .env_remove("GITHUB_TOKEN");
        let out = w.ws.run(c, "");
        assert_eq!((out.code(), out.stdout.trim()), (0, token.as_str()));
    }
}

#[test]
fn gh_login_refuses_a_gh_option_naming_the_proxy() {
    let w = World::new(None);
    let link = w.proxy_dir.join("gh");
    let out =
        w.ws.helper(&["gh-login", "--gh", link.to_str().unwrap()], "");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error("is the gh proxy");
    // The proxy alone on PATH: no gh to log in.
    let mut c = w.ws.command(BIN);
    c.arg("gh-login").env("PATH", &w.proxy_dir);
    let out = w.ws.run(c, "");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error("no gh on PATH but the gh proxy");
    assert!(!w.gh_config.join("hosts.yml").exists());
}

#[test]
fn gh_login_drops_a_token_gh_calls_bad_so_the_next_run_gets_a_fresh_one() {
    let w = World::new(None);
    assert_eq!(w.ws.helper(&["gh-login"], "").code(), 0);
    let first = w.current();
    // Revoked behind the cache's back: the cache still holds it.
    w.ws.platform.revoke(&first);
    let out = w.ws.helper(&["gh-login", "--force"], "");
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("HTTP 401"), "gh's own words: {out:?}");
    out.assert_one_error("gh says the token is bad (HTTP 401); dropped it from the cache");
    w.assert_logged(API_HOST, "/", 401, &first);
    assert!(!w.ws.cache.join("gh-login.github.com").exists());

    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    let second = w.current();
    assert_ne!(first, second);
    w.assert_logged(API_HOST, "/", 200, &second);
}

/// Make gh-login's fingerprint for `host` say gh's login was last checked
/// `ago` seconds ago (negative: in the future, a clock that was ahead), as if
/// that much time had passed: its `checked UNIX` line.
fn set_checked(w: &World, host: &str, ago: i64) {
    let path = w.ws.cache.join(format!("gh-login.{host}"));
    let text = std::fs::read_to_string(&path).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("checked "))
        .map(str::to_string)
        .collect();
    lines.push(format!("checked {}", now - ago));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

/// The token gh's stored login holds for github.com (the real gh, no variables).
fn stored_token(w: &World) -> String {
    let mut c = w.ws.command(real_gh_dir().join("gh"));
    c.args(["auth", "token", "--hostname", "github.com"])
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_TOKEN");
    let out = w.ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    out.stdout.trim().to_string()
}

#[test]
fn cron_gh_login_notices_a_revoked_token_within_ten_minutes_without_force() {
    let mut w = World::new(None);
    w.with_proxy();
    assert_eq!(w.ws.helper(&["gh-login"], "").code(), 0);
    let first = w.current();
    assert_eq!(stored_token(&w), first);

    // Revoked behind everyone's back (not expired): the cache still holds it.
    w.ws.platform.revoke(&first);
    // Checked less than 10 minutes ago: cron's run costs nothing, asks nobody.
    set_checked(&w, "github.com", 9 * 60);
    w.stack.github.clear_requests();
    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    assert!(w.stack.github.requests().is_empty(), "{}", w.log());
    assert_eq!(
        w.ws.platform.count(),
        2,
        "the stale mint and the first fetch"
    );

    // Ten minutes on: one cheap check with gh, GitHub says 401, the token is
    // dropped from the cache and gh logged in with a fresh one, in this run.
    set_checked(&w, "github.com", 10 * 60 + 1);
    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    let lines = out.helper_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0]
            .contains("warning: gh-login: github.com: GitHub refused the token gh held (HTTP 401)"),
        "{out:?}"
    );
    w.assert_logged(API_HOST, "/rate_limit", 401, &first);
    let second = w.current();
    assert_ne!(first, second);
    w.assert_logged(API_HOST, "/", 200, &second);
    assert_eq!(stored_token(&w), second);
    // The fresh token's check is recorded: the next run asks nobody.
    w.stack.github.clear_requests();
    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    assert!(w.stack.github.requests().is_empty(), "{}", w.log());
}

#[test]
fn status_reports_a_revoked_token_with_probe_and_is_well_again_after_cron_gh_login() {
    let w = World::new(None);
    assert_eq!(w.ws.helper(&["gh-login"], "").code(), 0);
    let first = w.current();
    w.ws.platform.revoke(&first);
    w.stack.github.clear_requests();
    // Without --probe, status asks GitHub nothing, and says so.
    let line = status_line(&w, "api");
    assert!(
        line.starts_with("skip") && line.contains("not asked whether it accepts the token"),
        "{line}"
    );
    assert!(w.stack.github.requests().is_empty(), "{}", w.log());
    // With --probe, the refused token fails status.
    let out = w.ws.helper(&["status", "--probe"], "");
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stdout.lines().any(|l| l.starts_with("fail  api")
            && l.contains("/rate_limit answered HTTP 401")
            && l.contains("the token is not valid")),
        "{out:?}"
    );
    // Cron's gh-login, 10 minutes on, replaces it; status --probe is well.
    set_checked(&w, "github.com", 10 * 60);
    assert_eq!(w.ws.helper(&["gh-login"], "").code(), 0);
    let out = w.ws.helper(&["status", "--probe"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let line = status_line(&w, "gh-login");
    assert!(
        line.starts_with("ok") && line.contains("last checked by gh-login: github.com "),
        "{line}"
    );
}

#[test]
fn gh_login_checks_a_login_recorded_in_the_future_and_keeps_a_good_one() {
    let w = World::new(None);
    assert_eq!(w.ws.helper(&["gh-login"], "").code(), 0);
    let token = w.current();
    // Written while the clock was an hour ahead: stale, so checked now.
    set_checked(&w, "github.com", -3600);
    w.stack.github.clear_requests();
    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    let asked: Vec<String> = w
        .stack
        .github
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        asked,
        ["/rate_limit"],
        "one cheap check, no login: {}",
        w.log()
    );
    w.assert_logged(API_HOST, "/rate_limit", 200, &token);
    assert_eq!(stored_token(&w), token);
    assert_eq!(w.ws.platform.count(), 2, "the stale mint and one fetch");
    // Recorded as checked now: within the 10 minutes, nobody is asked.
    w.stack.github.clear_requests();
    assert_eq!(w.ws.helper(&["gh-login"], "").code(), 0);
    assert!(w.stack.github.requests().is_empty(), "{}", w.log());

    // gh lost its login (hosts.yml removed): the next check finds none, and
    // gh is logged in again with the same token.
    std::fs::remove_file(w.gh_config.join("hosts.yml")).unwrap();
    set_checked(&w, "github.com", 10 * 60);
    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    assert_eq!(stored_token(&w), token);
}

#[test]
fn gh_login_logs_in_to_an_enterprise_host_too() {
    let w = World::new(Some("github.com,ghe.example.test"));
    let out = w.ws.helper(&["gh-login"], "");
    assert_eq!(
        (out.code(), out.stderr.as_str()),
        (0, ""),
        "{out:?}\n{}",
        w.log()
    );
    let token = w.current();
    w.assert_logged(API_HOST, "/", 200, &token);
    w.assert_logged(GHE_HOST, "/api/v3/", 200, &token);
    let out = w.gh(
        &["api", "repos/o/r"],
        &[
            ("GH_TOKEN", ""),
            ("GITHUB_TOKEN", ""),
            ("GH_HOST", GHE_HOST),
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    w.assert_logged(GHE_HOST, "/api/v3/repos/o/r", 200, &token);
}

// ---- configure --gh-proxy, unconfigure, status, with the real gh ------------

/// `command -v gh` as a shell on the workspace's PATH sees it.
fn which_gh(w: &World) -> String {
    let mut c = w.ws.command("sh");
    c.args(["-c", "command -v gh"]);
    w.ws.run(c, "").stdout.trim().to_string()
}

fn status_line(w: &World, name: &str) -> String {
    let out = w.ws.helper(&["status"], "");
    w.ws.assert_no_secret_in(&out.stdout, "status");
    out.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no {name} line: {out:?}"))
        .to_string()
}

#[test]
fn configure_gh_proxy_puts_the_proxy_first_on_path_and_unconfigure_removes_it() {
    let mut w = World::new(None);
    let bin = w.ws.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    w.ws.set_env("PATH", format!("{}:{}", bin.display(), w.plain_path));
    let real = which_gh(&w);
    assert!(real.ends_with("/gh") && !real.starts_with(bin.to_str().unwrap()));
    let line = status_line(&w, "gh");
    assert!(
        line.starts_with("ok") && line.contains("not the proxy"),
        "{line}"
    );
    let line = status_line(&w, "gh-env");
    assert!(
        line.starts_with("warn")
            && line.contains("GH_TOKEN, GITHUB_TOKEN hold a token other than the current one")
            && line.contains("configure --gh-proxy")
            && line.contains("unset GH_TOKEN GITHUB_TOKEN"),
        "{line}"
    );

    let out =
        w.ws.helper(&["configure", "--gh-proxy", bin.to_str().unwrap()], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let link = bin.join("gh");
    assert_eq!(
        out.stdout,
        format!(
            "configured https://github.com/ in {}\nconfigured the gh proxy {} -> {BIN}\n",
            w.ws.gitconfig.display(),
            link.display()
        )
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(BIN));
    assert_eq!(which_gh(&w), link.to_str().unwrap());
    let out = w.gh(&["api", "repos/o/r"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());
    w.assert_logged(API_HOST, "/repos/o/r", 200, &w.current());
    let line = status_line(&w, "gh");
    assert!(line.contains("the proxy, which runs"), "{line}");
    assert!(line.contains(&real), "{line}");

    // Idempotent: nothing to say the second time.
    let out =
        w.ws.helper(&["configure", "--gh-proxy", bin.to_str().unwrap()], "");
    assert_eq!((out.code(), out.stdout.as_str()), (0, ""), "{out:?}");

    let out =
        w.ws.helper(&["unconfigure", "--gh-proxy", bin.to_str().unwrap()], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout
            .ends_with(&format!("removed the gh proxy {}\n", link.display())),
        "{out:?}"
    );
    assert!(std::fs::symlink_metadata(&link).is_err());
    assert_eq!(which_gh(&w), real);
    assert_bad_credentials(&w.gh(&["api", "repos/o/r"], &[]));
}

#[test]
fn configure_gh_proxy_defaults_to_the_install_directory_and_unconfigure_finds_it_there() {
    let mut w = World::new(None);
    // An install: the program under its own name in a directory on PATH.
    let prefix = w.ws.path().join("prefix-bin");
    std::fs::create_dir_all(&prefix).unwrap();
    let installed = prefix.join("molecule-git-token-helper");
    std::os::unix::fs::symlink(BIN, &installed).unwrap();
    w.ws.set_env("PATH", format!("{}:{}", prefix.display(), w.plain_path));
    let mut c = w.ws.command(&installed);
    c.args(["configure", "--gh-proxy"]);
    let out = w.ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    let link = prefix.join("gh");
    assert!(
        out.stdout.ends_with(&format!(
            "configured the gh proxy {} -> {}\n",
            link.display(),
            installed.display()
        )),
        "{out:?}"
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), installed);
    assert_eq!(w.gh(&["api", "repos/o/r"], &[]).code(), 0);

    // A plain unconfigure takes it out, with the git config.
    let mut c = w.ws.command(&installed);
    c.arg("unconfigure");
    let out = w.ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        out.stdout,
        format!(
            "removed https://github.com/ from {}\nremoved the gh proxy {}\n",
            w.ws.gitconfig.display(),
            link.display()
        )
    );
    assert!(std::fs::symlink_metadata(&link).is_err());

    // A gh link that is not this program's is never removed.
    std::os::unix::fs::symlink(real_gh_dir().join("gh"), &link).unwrap();
    let mut c = w.ws.command(&installed);
    c.arg("unconfigure");
    let out = w.ws.run(c, "");
    assert_eq!((out.code(), out.stdout.as_str()), (0, ""), "{out:?}");
    assert!(std::fs::symlink_metadata(&link).is_ok());
}

#[test]
fn configure_gh_proxy_refuses_where_gh_would_not_reach_it_and_leaves_git_alone() {
    let mut w = World::new(None);
    let off_path = w.ws.path().join("off-path");
    let late = w.ws.path().join("late");
    let holder = w.ws.path().join("holder");
    for d in [&off_path, &late, &holder] {
        std::fs::create_dir_all(d).unwrap();
    }
    let fake = holder.join("gh");
    std::fs::write(&fake, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    w.ws.set_env(
        "PATH",
        format!("{}:{}:{}", holder.display(), w.plain_path, late.display()),
    );
    let cases = [
        (&off_path, "is not on PATH".to_string()),
        (
            &late,
            format!("the real gh, {}, comes before", fake.display()),
        ),
        (&holder, format!("{} is another gh", fake.display())),
    ];
    for (dir, needle) in cases {
        let out =
            w.ws.helper(&["configure", "--gh-proxy", dir.to_str().unwrap()], "");
        assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
        out.assert_one_error(&needle);
        assert_eq!(std::fs::read_to_string(&w.ws.gitconfig).unwrap(), "");
    }
    assert!(std::fs::symlink_metadata(off_path.join("gh")).is_err());
    assert!(std::fs::symlink_metadata(late.join("gh")).is_err());
    assert_eq!(std::fs::read(&fake).unwrap(), b"#!/bin/sh\nexit 0\n");
}

#[test]
fn status_warns_about_stale_variables_until_they_hold_the_current_token() {
    let mut w = World::new(Some("github.com,ghe.example.test"));
    w.ws.set_env("GITHUB_ENTERPRISE_TOKEN", w.stale.clone());
    let current = w.current();
    let line = status_line(&w, "gh-env");
    assert!(
        line.starts_with("warn")
            && line.contains("GH_TOKEN, GITHUB_TOKEN, GITHUB_ENTERPRISE_TOKEN hold a token other")
            && line.contains("unset GH_TOKEN GITHUB_TOKEN GITHUB_ENTERPRISE_TOKEN"),
        "{line}"
    );
    let out = w.ws.helper(&["status"], "");
    assert_eq!(out.code(), 0, "a warning does not fail status: {out:?}");

    w.ws.set_env("GH_TOKEN", &current);
    w.ws.set_env("GITHUB_ENTERPRISE_TOKEN", &current);
    let line = status_line(&w, "gh-env");
    assert!(
        line.starts_with("warn") && line.contains("GITHUB_TOKEN holds a token other"),
        "{line}"
    );
    assert!(!line.contains("GH_TOKEN,"), "{line}");
    w.ws.set_env("GITHUB_TOKEN", &current);
    let line = status_line(&w, "gh-env");
    assert!(
        line.starts_with("ok") && line.contains("hold the current token"),
        "{line}"
    );

    // With only github.com served, the enterprise pair is not looked at.
    let mut w = World::new(None);
    w.ws.set_env("GH_ENTERPRISE_TOKEN", "someone-elses-enterprise-token");
    w.ws.set_env("GH_TOKEN", "");
    w.ws.set_env("GITHUB_TOKEN", "");
    let line = status_line(&w, "gh-env");
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>().join(" "),
        "ok gh-env GH_TOKEN, GITHUB_TOKEN unset"
    );

    // When gh-login last refreshed gh's login.
    let line = status_line(&w, "gh-login");
    assert!(
        line.starts_with("skip") && line.contains("has not logged gh in"),
        "{line}"
    );
    assert_eq!(w.ws.helper(&["gh-login"], "").code(), 0);
    let line = status_line(&w, "gh-login");
    assert!(
        line.starts_with("ok")
            && line.contains("by gh-login: github.com ")
            && line.ends_with(" s ago"),
        "{line}"
    );
}

// ---- the proxy's exec semantics, with a fake gh after it ---------------------

/// A fake `gh` in its own directory: records argv, its kernel command line,
/// environment and stdin under `DIR/log.*`, prints its pid, then exits 0,
/// `exit N` with N, `kill` by SIGTERM, `nested` runs `gh inner` as a child.
fn fake_gh_dir(ws: &Workspace) -> PathBuf {
    let dir = ws.path().join("fake-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log");
    let script = format!(
        "#!/bin/sh\n\
         log={log}\n\
         echo \"pid=$$\"\n\
         printf '%s\\n' \"$@\" > $log.argv\n\
         tr '\\0' '\\n' < /proc/$$/cmdline > $log.cmdline\n\
         env > $log.env\n\
         case \"$1\" in\n\
           exit) exit \"$2\" ;;\n\
           kill) kill -TERM $$ ; sleep 5 ; exit 99 ;;\n\
           stdin) cat ;;\n\
           nested) gh inner; echo \"nested rc=$?\" ;;\n\
           inner) echo inner-ran ;;\n\
         esac\n",
        log = log.display()
    );
    let gh = dir.join("gh");
    std::fs::write(&gh, script).unwrap();
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn fake_log(dir: &Path, what: &str) -> String {
    std::fs::read_to_string(dir.join(format!("log.{what}"))).unwrap_or_default()
}

/// A workspace with stale variables, the proxy, then the fake gh, then the system.
fn proxied_fake() -> (Workspace, PathBuf, PathBuf) {
    let mut ws = Workspace::new();
    let proxy = ws.path().join("proxy-bin");
    std::fs::create_dir_all(&proxy).unwrap();
    std::os::unix::fs::symlink(BIN, proxy.join("gh")).unwrap();
    let fake = fake_gh_dir(&ws);
    ws.set_env(
        "PATH",
        format!(
            "{}:{}:{}",
            proxy.display(),
            fake.display(),
            crate::support::test_git::path_string()
        ),
    );
    for name in [
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
    ] {
        ws.set_env(name, format!("stale-{name}"));
    }
    (ws, proxy, fake)
}

/// Run the proxy as `gh ARGS` with `stdin`; returns its pid and what it left.
fn run_proxy(ws: &Workspace, proxy: &Path, args: &[&str], stdin: &str) -> (u32, Out) {
    let mut c = ws.command(proxy.join("gh"));
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let pid = child.id();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let out = Out {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    ws.assert_no_secret_in(&out.stderr, "stderr");
    (pid, out)
}

fn env_value(env: &str, name: &str) -> Option<String> {
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
}

#[test]
fn proxy_execs_the_next_gh_with_argv_stdin_and_status_untouched_and_the_token_only_in_its_env() {
    let (ws, proxy, fake) = proxied_fake();
    let args = ["stdin", "--json", "a b", "", "-"];
    let (pid, out) = run_proxy(&ws, &proxy, &args, "piped input\n");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr, "");
    // exec, not a child: the same process, its stdin, its stdout.
    assert_eq!(out.stdout, format!("pid={pid}\npiped input\n"));
    assert_eq!(fake_log(&fake, "argv"), "stdin\n--json\na b\n\n-\n");
    let cmdline = fake_log(&fake, "cmdline");
    assert_eq!(
        cmdline,
        format!(
            "/bin/sh\n{}\nstdin\n--json\na b\n\n-\n",
            fake.join("gh").display()
        )
    );
    ws.assert_no_secret_in(&cmdline, "gh's argv");

    // github.com only: GH_TOKEN and GITHUB_TOKEN replaced, the enterprise pair untouched.
    let token = ws.platform.last_token().unwrap();
    let env = fake_log(&fake, "env");
    assert_eq!(env_value(&env, "GH_TOKEN"), Some(token.clone()));
    assert_eq!(env_value(&env, "GITHUB_TOKEN"), Some(token.clone()));
    for name in ["GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"] {
        assert_eq!(env_value(&env, name), Some(format!("stale-{name}")));
    }

    let (_, out) = run_proxy(&ws, &proxy, &["exit", "7"], "");
    assert_eq!(out.code(), 7, "{out:?}");
    let (_, out) = run_proxy(&ws, &proxy, &["kill"], "");
    assert_eq!(out.status.signal(), Some(15), "{out:?}");
    assert_eq!(ws.platform.count(), 1, "one fetch, then the cache");
}

#[test]
fn proxy_sets_the_enterprise_pair_only_when_an_enterprise_host_is_served() {
    let (mut ws, proxy, fake) = proxied_fake();
    ws.set_env("MOLECULE_GIT_HOSTS", "github.com,ghe.example.test");
    let (_, out) = run_proxy(&ws, &proxy, &["api", "user"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let token = ws.platform.last_token().unwrap();
    let env = fake_log(&fake, "env");
    for name in [
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
    ] {
        assert_eq!(env_value(&env, name), Some(token.clone()), "{name}");
    }
    // exec follows the same rule.
    let out = ws.helper(
        &[
            "exec",
            "--",
            "sh",
            "-c",
            "echo \"$GH_TOKEN $GITHUB_TOKEN $GH_ENTERPRISE_TOKEN $GITHUB_ENTERPRISE_TOKEN\"",
        ],
        "",
    );
    assert_eq!(out.stdout, format!("{token} {token} {token} {token}\n"));
    ws.set_env("MOLECULE_GIT_HOSTS", "github.com");
    let out = ws.helper(
        &[
            "exec",
            "--",
            "sh",
            "-c",
            "echo \"$GH_TOKEN $GITHUB_TOKEN $GH_ENTERPRISE_TOKEN $GITHUB_ENTERPRISE_TOKEN\"",
        ],
        "",
    );
    assert_eq!(
        out.stdout,
        format!("{token} {token} stale-GH_ENTERPRISE_TOKEN stale-GITHUB_ENTERPRISE_TOKEN\n")
    );
}

#[test]
fn proxy_without_a_token_says_why_and_runs_gh_with_the_environment_unchanged() {
    let (ws, proxy, fake) = proxied_fake();
    ws.platform.set_default(Reply::status(500));
    let (pid, out) = run_proxy(&ws, &proxy, &["exit", "3"], "");
    assert_eq!(out.code(), 3, "{out:?}");
    assert_eq!(out.stdout, format!("pid={pid}\n"));
    let lines = out.helper_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].starts_with("molecule-git-token-helper: warning: gh proxy: no fresh token")
            && lines[0].contains("HTTP 500")
            && lines[0].contains(&format!("running {}", fake.join("gh").display())),
        "{out:?}"
    );
    let env = fake_log(&fake, "env");
    assert_eq!(
        env_value(&env, "GH_TOKEN").as_deref(),
        Some("stale-GH_TOKEN")
    );
    assert_eq!(
        env_value(&env, "GITHUB_TOKEN").as_deref(),
        Some("stale-GITHUB_TOKEN")
    );
}

#[test]
fn proxy_with_no_other_gh_on_path_exits_127_at_once() {
    let (mut ws, proxy, _) = proxied_fake();
    let proxy_twice = ws.path().join("proxy-too");
    std::fs::create_dir_all(&proxy_twice).unwrap();
    std::os::unix::fs::symlink(proxy.join("gh"), proxy_twice.join("gh")).unwrap();
    // Every gh on PATH is this program (two links to it): none to run.
    ws.set_env(
        "PATH",
        format!("{}:{}", proxy.display(), proxy_twice.display()),
    );
    let (_, out) = run_proxy(&ws, &proxy, &["--version"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (127, ""), "{out:?}");
    out.assert_one_error("gh proxy: no gh on PATH but this proxy");
    assert_eq!(ws.platform.count(), 0, "no token asked for");
}

#[test]
fn a_proxy_that_execs_a_proxy_stops_but_gh_may_run_gh_through_it() {
    let (mut ws, proxy, fake) = proxied_fake();
    // gh running gh (an alias, an extension) as a child reaches the proxy again.
    let (_, out) = run_proxy(&ws, &proxy, &["nested"], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.ends_with("inner-ran\nnested rc=0\n"), "{out:?}");

    // A wrapper that execs gh from PATH again: a loop through the proxy.
    let wrapper = ws.path().join("wrapper-bin");
    std::fs::create_dir_all(&wrapper).unwrap();
    let script = wrapper.join("gh");
    std::fs::write(&script, "#!/bin/sh\nexec gh \"$@\"\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    ws.set_env(
        "PATH",
        format!(
            "{}:{}:{}:{}",
            proxy.display(),
            wrapper.display(),
            fake.display(),
            crate::support::test_git::path_string()
        ),
    );
    let (_, out) = run_proxy(&ws, &proxy, &["exit", "0"], "");
    assert_eq!((out.code(), out.stdout.as_str()), (127, ""), "{out:?}");
    out.assert_one_error("gh proxy: another gh proxy ran this one");
    assert_eq!(
        fake_log(&fake, "argv"),
        "inner\n",
        "the fake gh did not run again"
    );
}

// ---- gh-login's rules, with a fake gh ---------------------------------------

/// A fake gh for gh-login: logs one line per call ("HOST"), fails for the
/// hosts in FAIL_HOSTS (saying HTTP 401 for those in BAD_HOSTS).
fn login_gh(ws: &Workspace) -> (PathBuf, PathBuf) {
    let gh = ws.path().join("login-gh");
    let log = ws.path().join("login-gh.log");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\n\
             cat > /dev/null\n\
             echo \"$5\" >> {log}\n\
             case \" $BAD_HOSTS \" in *\" $5 \"*) echo 'error validating token: HTTP 401: Bad credentials' >&2; exit 1 ;; esac\n\
             case \" $FAIL_HOSTS \" in *\" $5 \"*) echo \"error connecting to $5\" >&2; exit 1 ;; esac\n\
             exit 0\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    (gh, log)
}

fn calls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn gh_login_gives_the_token_to_platform_hosts_only() {
    let mut ws = Workspace::new();
    ws.set_env("MOLECULE_GIT_HOSTS", "github.com,ghe.example.test");
    ws.set_env("MOLECULE_SECRET_HOSTS", "git.example.test=GITEA_TOKEN");
    ws.write_secret("GITEA_TOKEN", "gitea-secret-0123456789");
    let (gh, log) = login_gh(&ws);
    let gh = gh.to_str().unwrap();
    for (host, needle) in [
        ("git.example.test", "served from secrets.d/GITEA_TOKEN"),
        ("elsewhere.example", "not a platform host"),
    ] {
        let out = ws.helper(
            &[
                "gh-login",
                "--gh",
                gh,
                "--hostname",
                "github.com",
                "--hostname",
                host,
            ],
            "",
        );
        assert_eq!((out.code(), out.stdout.as_str()), (2, ""), "{out:?}");
        out.assert_one_error(needle);
    }
    assert!(calls(&log).is_empty(), "gh ran");
    assert_eq!(ws.platform.count(), 0, "no token fetched");

    let out = ws.helper(
        &["gh-login", "--gh", gh, "--hostname", "GHE.example.test"],
        "",
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(calls(&log), ["ghe.example.test"]);
}

#[test]
fn gh_login_attempts_every_host_with_one_line_per_failure_and_skips_ports() {
    let mut ws = Workspace::new();
    ws.set_env(
        "MOLECULE_GIT_HOSTS",
        "a.example,b.example:8443,c.example,d.example",
    );
    ws.set_env("FAIL_HOSTS", "a.example d.example");
    let (gh, log) = login_gh(&ws);
    let out = ws.helper(&["gh-login", "--gh", gh.to_str().unwrap()], "");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    assert_eq!(calls(&log), ["a.example", "c.example", "d.example"]);
    let lines = out.helper_lines();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert!(
        lines[0]
            .starts_with("molecule-git-token-helper: warning: gh-login: skipping b.example:8443"),
        "{out:?}"
    );
    assert!(
        lines[1].contains("error: ") && lines[1].contains("--hostname a.example failed"),
        "{out:?}"
    );
    assert!(
        lines[2].contains("error: ") && lines[2].contains("--hostname d.example failed"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("error connecting to a.example\n"),
        "{out:?}"
    );

    // The hosts that succeeded are not logged in again; the failed ones are.
    let out = ws.helper(&["gh-login", "--gh", gh.to_str().unwrap()], "");
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        calls(&log),
        [
            "a.example",
            "c.example",
            "d.example",
            "a.example",
            "d.example"
        ]
    );
    ws.set_env("FAIL_HOSTS", "");
    let out = ws.helper(&["gh-login", "--gh", gh.to_str().unwrap()], "");
    assert_eq!(out.code(), 0, "{out:?}");
    let out = ws.helper(&["gh-login", "--gh", gh.to_str().unwrap()], "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(calls(&log).len(), 7, "{:?}", calls(&log));
    assert_eq!(ws.platform.count(), 1);
}

#[test]
fn gh_login_drops_the_cached_token_when_gh_says_401_and_only_then() {
    let mut ws = Workspace::new();
    let (gh, _) = login_gh(&ws);
    let gh = gh.to_str().unwrap();
    ws.set_env("FAIL_HOSTS", "github.com");
    let out = ws.helper(&["gh-login", "--gh", gh], "");
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(ws.cache_entry().exists(), "kept: gh did not call it bad");

    ws.set_env("FAIL_HOSTS", "");
    ws.set_env("BAD_HOSTS", "github.com");
    let out = ws.helper(&["gh-login", "--gh", gh], "");
    assert_eq!(out.code(), 1, "{out:?}");
    out.assert_one_error("gh says the token is bad (HTTP 401); dropped it from the cache");
    assert!(!ws.cache_entry().exists());
    ws.set_env("BAD_HOSTS", "");
    assert_eq!(ws.helper(&["gh-login", "--gh", gh], "").code(), 0);
    assert_eq!(ws.platform.count(), 2, "a fresh fetch after the 401");
}

// ---- install.sh --gh-proxy ---------------------------------------------------

#[test]
fn install_sh_gh_proxy_links_gh_for_an_install_and_uninstall_removes_the_link() {
    let mut w = World::new(None);
    let prefix = w.ws.path().join("prefix");
    let bin = prefix.join("bin");
    w.ws.set_env("PATH", format!("{}:{}", bin.display(), w.plain_path));
    let install_sh = format!("{}/install.sh", env!("CARGO_MANIFEST_DIR"));
    let p = prefix.to_str().unwrap();
    let mut c = w.ws.command(&install_sh);
    c.args(["--prefix", p, "--binary", BIN, "--gh-proxy"]);
    let out = w.ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    let link = bin.join("gh");
    let helper = bin.join("molecule-git-token-helper");
    assert!(
        out.stdout.contains(&format!(
            "configured the gh proxy {} -> {}\n",
            link.display(),
            helper.display()
        )),
        "{out:?}"
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), helper);
    assert_eq!(which_gh(&w), link.to_str().unwrap());
    let out = w.gh(&["api", "repos/o/r"], &[]);
    assert_eq!(out.code(), 0, "{out:?}\n{}", w.log());

    // Uninstalling (even without --configure) takes the link with the binary.
    let mut c = w.ws.command(&install_sh);
    c.args(["--uninstall", "--prefix", p]);
    let out = w.ws.run(c, "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout
            .contains(&format!("removed {}\n", link.display())),
        "{out:?}"
    );
    assert!(std::fs::symlink_metadata(&link).is_err());
    assert!(std::fs::symlink_metadata(&helper).is_err());
    assert_ne!(which_gh(&w), link.to_str().unwrap());
}

// ---- gh-login's bounds (issue 24 item 4) ------------------------------------

/// Wait (bounded) until `done` holds; false if it never did.
fn wait_until(limit: std::time::Duration, done: impl Fn() -> bool) -> bool {
    let until = std::time::Instant::now() + limit;
    while !done() {
        if std::time::Instant::now() > until {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

/// Run `c` to its end, or kill it after `limit` (then `None`).
fn run_within(mut c: std::process::Command, limit: std::time::Duration) -> Option<Out> {
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (sender, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match done.recv_timeout(limit) {
        Ok(output) => {
            let output = output.unwrap();
            Some(Out {
                status: output.status,
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
        Err(_) => {
            // SAFETY: kill touches no memory; the child is ours, not reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            None
        }
    }
}

#[test]
fn gh_login_gives_a_gh_that_hangs_a_deadline_and_runs_one_at_a_time() {
    // The real gh against an API that never answers (gh 2.23 gives up after
    // 60 s): with --timeout 2, gh-login ends within 10 s, one line naming gh.
    let w = World::new(None);
    w.stack.github.set_hang(true);
    let started = std::time::Instant::now();
    let mut first = w.ws.command(BIN);
    first
        .args(["--timeout", "2", "gh-login"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let first = first.spawn().unwrap();
    // gh reached the API and waits for its answer.
    assert!(
        wait_until(std::time::Duration::from_secs(8), || w.stack.github.held()
            >= 1),
        "gh never reached the mock\n{}",
        w.log()
    );
    // A second run meanwhile (cron, a minute later): at once, quietly, 0,
    // starting no gh.
    let second_started = std::time::Instant::now();
    let out = w.ws.helper(&["--timeout", "2", "gh-login"], "");
    assert_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out:?}"
    );
    assert!(
        second_started.elapsed() < std::time::Duration::from_secs(2),
        "the second run waited {:?}",
        second_started.elapsed()
    );
    let output = first.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    let out = Out {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    w.ws.assert_no_secret_in(&out.stderr, "stderr");
    assert!(
        elapsed < std::time::Duration::from_secs(10),
        "took {elapsed:?}"
    );
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error("auth login --with-token --hostname github.com: no answer within 6 s");
    // gh was killed: the mock saw its connection close; and the second run
    // sent nothing.
    assert_eq!(w.stack.github.held(), 1, "{}", w.log());
    assert!(
        wait_until(std::time::Duration::from_secs(5), || w
            .stack
            .github
            .released()
            == 1),
        "gh's connection is still open"
    );
    let lock = w.ws.cache.join("gh-login-run.lock");
    let mode = std::fs::metadata(&lock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // The lock is free again: the next run (the API answering) logs in.
    w.stack.github.set_hang(false);
    let out = w.ws.helper(&["--timeout", "2", "gh-login"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
}

#[test]
fn gh_login_gives_its_check_of_gh_s_login_the_same_deadline() {
    // A login last checked 11 minutes ago is checked with `gh api
    // rate_limit`; against an API that never answers, that gh is killed
    // too, with one line naming it.
    let w = World::new(None);
    assert_eq!(w.ws.helper(&["gh-login"], "").code(), 0);
    set_checked(&w, "github.com", 11 * 60);
    w.stack.github.set_hang(true);
    let started = std::time::Instant::now();
    let out = w.ws.helper(&["--timeout", "2", "gh-login"], "");
    let elapsed = started.elapsed();
    assert!(
        elapsed < std::time::Duration::from_secs(10),
        "took {elapsed:?}"
    );
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error("api --hostname github.com rate_limit: no answer within 6 s");
    assert_eq!(w.stack.github.held(), 1, "{}", w.log());
}

#[test]
fn gh_login_kills_a_hanging_gh_with_its_process_group() {
    // What the real gh cannot show: a gh whose own child holds the pipes.
    let w = World::new(None);
    let pid_file = w.ws.path().join("grandchild.pid");
    let fake = w.ws.path().join("hanging-gh");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nsleep 300 & echo $! > {}\nwait\n",
            pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = w.ws.command(BIN);
    c.args(["--timeout", "1", "gh-login", "--gh", fake.to_str().unwrap()]);
    let out = run_within(c, std::time::Duration::from_secs(20)).expect("gh-login never ended");
    assert_eq!((out.code(), out.stdout.as_str()), (1, ""), "{out:?}");
    out.assert_one_error("hanging-gh auth login --with-token --hostname github.com: no answer");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
    };
    assert!(
        wait_until(std::time::Duration::from_secs(5), gone),
        "gh's child {pid} lives on"
    );
}
