//! The test suite's mock Gitea API, runnable by hand or from scripts:
//!
//! ```text
//! cargo run --example mock-gitea -- --port 3000 --token-file /tmp/configs/secrets.d/GITEA_TOKEN \
//!     --scopes read:user,write:repository --repo team/repo
//! ```

#[allow(dead_code)] // the mocks use what they need of it
#[path = "../tests/support/http_server.rs"]
mod http_server;
#[path = "../tests/support/mock_gitea.rs"]
mod mock_gitea;

use mock_gitea::MockGitea;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: mock-gitea [OPTIONS] (--token TOKEN | --token-file PATH)

Serves on 127.0.0.1 the part of Gitea's API that `status --probe` asks:
GET /api/v1/user (needs read:user), /api/v1/repos/OWNER/REPO/pulls (needs
read:repository) and /api/v1/repos/OWNER/REPO/issues (needs read:issue),
for `Authorization: token TOKEN`. An unknown or missing token gets 401, a
missing scope 403, an unknown repository 404. Runs until killed.

Options:
  --port N             port to listen on (default 3000; 0 = random)
  --token TOKEN        the accepted token
  --token-file PATH    read the accepted token from PATH (whitespace trimmed)
  --scopes LIST        the token's scopes, comma-separated (default all), e.g.
                       read:user,write:repository (write:X implies read:X)
  --login NAME         the token's user (default mock-user)
  --repo OWNER/REPO    a repository that exists; repeatable
  --port-file PATH     once listening, write the port number to PATH (atomically)
  --quiet              no per-request log line on stderr
  -h, --help           print this help

Point the helper at it with
  status --probe --api-url HOST=http://127.0.0.1:PORT/api/v1 --probe-repo OWNER/REPO
";

struct Options {
    port: u16,
    token: String,
    scopes: Vec<String>,
    login: String,
    repos: Vec<String>,
    port_file: Option<PathBuf>,
    quiet: bool,
}

enum Parsed {
    Run(Options),
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut port = 3000;
    let mut token = None;
    let mut token_file = None;
    let mut scopes = vec!["all".to_string()];
    let mut login = "mock-user".to_string();
    let mut repos = Vec::new();
    let mut port_file = None;
    let mut quiet = false;

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (option, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        match option.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--quiet" => quiet = true,
            "--port" | "--token" | "--token-file" | "--scopes" | "--login" | "--repo"
            | "--port-file" => {
                let value = match inline.or_else(|| args.next()) {
                    Some(v) => v,
                    None => return Err(format!("{option} needs a value")),
                };
                match option.as_str() {
                    "--port" => {
                        port = value
                            .parse()
                            .map_err(|_| format!("invalid value {value:?} for --port"))?
                    }
                    "--token" => token = Some(value),
                    "--token-file" => token_file = Some(PathBuf::from(value)),
                    "--scopes" => {
                        scopes = value
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    }
                    "--login" => login = value,
                    "--repo" => {
                        if value.split('/').filter(|p| !p.is_empty()).count() != 2 {
                            return Err(format!("--repo {value:?}: expected OWNER/REPO"));
                        }
                        repos.push(value)
                    }
                    _ => port_file = Some(PathBuf::from(value)),
                }
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }

    let token = match (token, token_file) {
        (Some(_), Some(_)) => return Err("give --token or --token-file, not both".into()),
        (Some(t), None) => t.trim().to_string(),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?
            .trim()
            .to_string(),
        (None, None) => return Err("one of --token or --token-file is required".into()),
    };
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    Ok(Parsed::Run(Options {
        port,
        token,
        scopes,
        login,
        repos,
        port_file,
        quiet,
    }))
}

/// Write `contents` to `path` through a temporary file in the same directory and a rename.
fn write_atomically(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("mock-gitea: {message} (see --help)");
            return ExitCode::from(2);
        }
    };

    let mock = match MockGitea::start_on(options.port) {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!(
                "mock-gitea: cannot listen on 127.0.0.1:{}: {e}",
                options.port
            );
            return ExitCode::FAILURE;
        }
    };
    mock.set_log(!options.quiet);
    let scopes: Vec<&str> = options.scopes.iter().map(String::as_str).collect();
    mock.add_token(&options.token, &options.login, &scopes);
    for repo in &options.repos {
        mock.add_repo(repo);
    }

    if let Some(path) = &options.port_file
        && let Err(e) = write_atomically(path, &format!("{}\n", mock.port()))
    {
        eprintln!("mock-gitea: cannot write port file {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "mock gitea listening on {} (token scopes: {})",
        mock.api_url(),
        options.scopes.join(",")
    );

    loop {
        std::thread::park();
    }
}
