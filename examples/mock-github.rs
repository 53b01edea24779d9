//! The test suite's HTTPS mock of the GitHub API, with its test CA and CONNECT
//! proxy, runnable by hand or from scripts:
//!
//! ```text
//! cargo run --example mock-github -- --token-file /tmp/token --repo o/r \
//!     --repo o/noissues=contents=read,pulls=read,issues=none
//! ```
//!
//! It prints the CA file and the proxy URL; give them to gh (or curl, git) as
//! `SSL_CERT_FILE` and `HTTPS_PROXY` and address github.com, api.github.com or
//! ghe.example.test by name.

mod common;
#[path = "../tests/support/connect_proxy.rs"]
mod connect_proxy;
#[path = "../tests/support/mock_github.rs"]
mod mock_github;
#[path = "../tests/support/tls.rs"]
mod tls;

use common::{Args, Listening};
use connect_proxy::ConnectProxy;
use mock_github::{MockGithub, Perms};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tls::TestCa;

const USAGE: &str = "\
Usage: mock-github [OPTIONS] (--token TOKEN | --token-file PATH)

Serves over HTTPS on 127.0.0.1 the part of the GitHub API that gh and
`status --probe` use, for api.github.com, github.com (git smart HTTP) and
the Enterprise host ghe.example.test (API under /api/v3), with a CA made at
start, and runs a CONNECT proxy that sends those names (port 443) to it.
Only the given token is valid (`Authorization: token|Bearer TOKEN`, or
Basic x-access-token:TOKEN for git); anything else gets 401 Bad credentials.
Runs until killed.

Options:
  --port N               port of the HTTPS mock (default 0 = random)
  --proxy-port N         port of the CONNECT proxy (default 0 = random)
  --token TOKEN          the accepted token
  --token-file PATH      read the accepted token from PATH (whitespace trimmed)
  --repo OWNER/REPO[=PERMS]
                         a repository in the installation; repeatable. PERMS is
                         contents=LEVEL,pulls=LEVEL,issues=LEVEL with LEVEL
                         none, read or write (default: all write)
  --rate-limit LIMIT/REMAINING
                         the core rate-limit budget (default 5000/5000)
  --login NAME           what GET /user and GraphQL viewer answer
                         (default molecule-app[bot])
  --scopes LIST          send X-OAuth-Scopes: LIST (default: no header, as for
                         an installation token)
  --dir PATH             where to write the CA certificate (default: a new
                         directory under the system temp directory)
  --port-file PATH       once listening, write the mock's port to PATH (atomically)
  --quiet                no per-request log line on stderr
  -h, --help             print this help

Then, for example:
  SSL_CERT_FILE=CA HTTPS_PROXY=PROXY GH_TOKEN=TOKEN gh api repos/OWNER/REPO
  SSL_CERT_FILE=CA HTTPS_PROXY=PROXY molecule-git-token-helper status --probe --probe-repo O/R
  (scripts/probe-github-demo.sh sets up the platform, this mock and such a run)
";

/// mock-github's own options.
struct Own {
    proxy_port: u16,
    repos: Vec<(String, Perms)>,
    rate_limit: Option<(u64, u64)>,
    login: Option<String>,
    scopes: Option<String>,
    dir: Option<PathBuf>,
}

fn parse_perms(text: &str) -> Result<Perms, String> {
    for item in text.split(',').filter(|s| !s.is_empty()) {
        let ok = item.split_once('=').is_some_and(|(name, level)| {
            matches!(name, "contents" | "pulls" | "pull_requests" | "issues")
                && matches!(level, "none" | "read" | "write")
        });
        if !ok {
            return Err(format!(
                "permission {item:?}: expected contents|pulls|issues=none|read|write"
            ));
        }
    }
    Ok(Perms::parse(text))
}

fn own_option(own: &mut Own, option: &str, args: &mut Args) -> Result<bool, String> {
    match option {
        "--proxy-port" => own.proxy_port = args.number(option)?,
        "--repo" => {
            let value = args.value(option)?;
            let (name, perms) = match value.split_once('=') {
                Some((name, perms)) => (name.to_string(), parse_perms(perms)?),
                None => (value.clone(), Perms::all()),
            };
            if name.split('/').filter(|p| !p.is_empty()).count() != 2 {
                return Err(format!("--repo {value:?}: expected OWNER/REPO[=PERMS]"));
            }
            own.repos.push((name, perms));
        }
        "--rate-limit" => {
            let value = args.value(option)?;
            let parsed = value
                .split_once('/')
                .and_then(|(l, r)| Some((l.parse().ok()?, r.parse().ok()?)));
            match parsed {
                Some(pair) => own.rate_limit = Some(pair),
                None => return Err(format!("--rate-limit {value:?}: expected LIMIT/REMAINING")),
            }
        }
        "--login" => own.login = Some(args.value(option)?),
        "--scopes" => own.scopes = Some(args.value(option)?),
        "--dir" => own.dir = Some(PathBuf::from(args.value(option)?)),
        _ => return Ok(false),
    }
    Ok(true)
}

/// The mock and the proxy, kept alive together.
struct Running {
    _github: MockGithub,
    _proxy: ConnectProxy,
}

fn main() -> ExitCode {
    let own = Own {
        proxy_port: 0,
        repos: Vec::new(),
        rate_limit: None,
        login: None,
        scopes: None,
        dir: None,
    };
    let parsed = common::parse(std::env::args().skip(1), 0, "token", own, own_option);
    common::main("mock-github", USAGE, parsed, |options| {
        let own = &options.own;
        let dir = own.dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("mock-github-{}", std::process::id()))
        });
        std::fs::create_dir_all(&dir)?;
        let ca = TestCa::new(&dir);
        let accepted = options.secret.clone();
        let github = MockGithub::start_on(
            options.port,
            &ca,
            Arc::new(move |token: &str| token == accepted),
        )?;
        for (name, perms) in &own.repos {
            github.add_repo(name, *perms);
        }
        if let Some((limit, remaining)) = own.rate_limit {
            github.set_rate_limit(limit, remaining);
        }
        if let Some(login) = &own.login {
            github.set_login(login);
        }
        github.set_oauth_scopes(own.scopes.as_deref());
        let proxy = ConnectProxy::start_on(own.proxy_port, &github.proxy_routes())?;
        github.set_log(!options.quiet);
        let banner = format!(
            "mock github listening on 127.0.0.1:{port} (api.github.com, github.com, ghe.example.test)\n\
             CA certificate: {ca}\n\
             CONNECT proxy: {proxy}\n\
             use: SSL_CERT_FILE={ca} HTTPS_PROXY={proxy} GH_TOKEN=… gh api repos/OWNER/REPO",
            port = github.port(),
            ca = ca.ca_pem_path().display(),
            proxy = proxy.url(),
        );
        Ok(Listening {
            port: github.port(),
            banner,
            mock: Running {
                _github: github,
                _proxy: proxy,
            },
        })
    })
}
