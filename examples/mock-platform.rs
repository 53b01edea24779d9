//! The test suite's mock platform, runnable by hand or from scripts:
//!
//! ```text
//! cargo run --example mock-platform -- --port 8080 --bearer-file /tmp/configs/.auth_token
//! ```

#[allow(dead_code)] // the mocks use what they need of it
#[path = "../tests/support/http_server.rs"]
mod http_server;
#[path = "../tests/support/mock_platform.rs"]
mod mock_platform;

use mock_platform::{MockPlatform, Reply};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
Usage: mock-platform [OPTIONS] (--bearer TOKEN | --bearer-file PATH)

Serves GET /admin/github-installation-token on 127.0.0.1 like the Molecule
platform: 200 {\"token\":\"ghs_…\",\"expires_at\":\"…\"} for the right bearer,
401 for a wrong one, 404 for any other path. Runs until killed.

Options:
  --port N             port to listen on (default 8080; 0 = random)
  --bearer TOKEN       the accepted workspace bearer
  --bearer-file PATH   read the accepted bearer from PATH (whitespace trimmed)
  --expires-in SECS    token lifetime in seconds, may be negative (default 3600)
  --status CODE        answer every authorised token request with this status
  --delay-ms MS        delay every reply by MS milliseconds
  --port-file PATH     once listening, write the port number to PATH (atomically)
  --quiet              no per-request log line on stderr
  -h, --help           print this help
";

struct Options {
    port: u16,
    bearer: String,
    expires_in: i64,
    status: Option<u16>,
    delay_ms: Option<u64>,
    port_file: Option<PathBuf>,
    quiet: bool,
}

enum Parsed {
    Run(Options),
    Help,
}

fn parse_number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("invalid value {value:?} for {option}"))
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut port = 8080;
    let mut bearer = None;
    let mut bearer_file = None;
    let mut expires_in = 3600;
    let mut status = None;
    let mut delay_ms = None;
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
            "--port" | "--bearer" | "--bearer-file" | "--expires-in" | "--status"
            | "--delay-ms" | "--port-file" => {
                let value = match inline.or_else(|| args.next()) {
                    Some(v) => v,
                    None => return Err(format!("{option} needs a value")),
                };
                match option.as_str() {
                    "--port" => port = parse_number(&option, &value)?,
                    "--bearer" => bearer = Some(value),
                    "--bearer-file" => bearer_file = Some(PathBuf::from(value)),
                    "--expires-in" => expires_in = parse_number(&option, &value)?,
                    "--status" => {
                        let code: u16 = parse_number(&option, &value)?;
                        if !(100..=999).contains(&code) {
                            return Err(format!("invalid status {code}"));
                        }
                        status = Some(code);
                    }
                    "--delay-ms" => delay_ms = Some(parse_number(&option, &value)?),
                    _ => port_file = Some(PathBuf::from(value)),
                }
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }

    let bearer = match (bearer, bearer_file) {
        (Some(_), Some(_)) => return Err("give --bearer or --bearer-file, not both".into()),
        (Some(b), None) => b.trim().to_string(),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read bearer file {}: {e}", path.display()))?
            .trim()
            .to_string(),
        (None, None) => return Err("one of --bearer or --bearer-file is required".into()),
    };
    if bearer.is_empty() {
        return Err("the bearer is empty".into());
    }
    Ok(Parsed::Run(Options {
        port,
        bearer,
        expires_in,
        status,
        delay_ms,
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
            eprintln!("mock-platform: {message} (see --help)");
            return ExitCode::from(2);
        }
    };

    let mock = match MockPlatform::start_on(options.port, &options.bearer) {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!(
                "mock-platform: cannot listen on 127.0.0.1:{}: {e}",
                options.port
            );
            return ExitCode::FAILURE;
        }
    };
    mock.set_log(!options.quiet);
    mock.set_expires_in(options.expires_in);
    let mut reply = match options.status {
        Some(code) => Reply::Status {
            code,
            headers: Vec::new(),
        },
        None => Reply::Token,
    };
    if let Some(ms) = options.delay_ms {
        reply = Reply::Delay(Duration::from_millis(ms), Box::new(reply));
    }
    mock.set_default(reply);

    if let Some(path) = &options.port_file
        && let Err(e) = write_atomically(path, &format!("{}\n", mock.port()))
    {
        eprintln!(
            "mock-platform: cannot write port file {}: {e}",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    eprintln!("mock platform listening on {}", mock.url());

    loop {
        std::thread::park();
    }
}
