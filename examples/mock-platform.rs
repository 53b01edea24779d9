//! The test suite's mock platform, runnable by hand or from scripts:
//!
//! ```text
//! cargo run --example mock-platform -- --port 8080 --bearer-file /tmp/configs/.auth_token
//! ```

mod common;
#[allow(dead_code)] // the mocks use what they need of it
#[path = "../tests/support/http_server.rs"]
mod http_server;
#[path = "../tests/support/mock_platform.rs"]
mod mock_platform;

use common::{Args, Listening};
use mock_platform::{MockPlatform, Narrowing, Reply};
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
  --owner ORG          serve ORG's GitHub App installation (repeatable): a token
                       per owner for ?owner=ORG, with \"owner\" in the answer;
                       404 for an owner not listed; no query: the first ORG's.
                       Without --owner the query is ignored (today's platform)
  --narrowing MODE     answer ?permissions=…&repositories=… (narrowed tokens):
                       honour (default: mint what was asked and say so), ignore
                       (today's platform: a full token, nothing said), wider (a
                       full token, an answer that says more than was asked)
  --port-file PATH     once listening, write the port number to PATH (atomically)
  --quiet              no per-request log line on stderr
  -h, --help           print this help
";

/// mock-platform's own options.
struct Own {
    expires_in: i64,
    status: Option<u16>,
    delay_ms: Option<u64>,
    owners: Vec<String>,
    narrowing: Narrowing,
}

fn own_option(own: &mut Own, option: &str, args: &mut Args) -> Result<bool, String> {
    match option {
        "--expires-in" => own.expires_in = args.number(option)?,
        "--status" => {
            let code: u16 = args.number(option)?;
            if !(100..=999).contains(&code) {
                return Err(format!("invalid status {code}"));
            }
            own.status = Some(code);
        }
        "--delay-ms" => own.delay_ms = Some(args.number(option)?),
        "--owner" => {
            let owner = args.value(option)?;
            let valid = (1..=39).contains(&owner.len())
                && owner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                return Err(format!("invalid owner {owner:?} (a GitHub login)"));
            }
            own.owners.push(owner);
        }
        "--narrowing" => {
            own.narrowing = match args.value(option)?.as_str() {
                "honour" | "honor" => Narrowing::Honour,
                "ignore" => Narrowing::Ignore,
                "wider" => Narrowing::Wider,
                other => {
                    return Err(format!(
                        "invalid --narrowing {other:?}: honour, ignore or wider"
                    ));
                }
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn main() -> ExitCode {
    let own = Own {
        expires_in: 3600,
        status: None,
        delay_ms: None,
        owners: Vec::new(),
        narrowing: Narrowing::Honour,
    };
    let parsed = common::parse(std::env::args().skip(1), 8080, "bearer", own, own_option);
    common::main("mock-platform", USAGE, parsed, |options| {
        let mock = MockPlatform::start_on(options.port, &options.secret)?;
        mock.set_log(!options.quiet);
        mock.set_expires_in(options.own.expires_in);
        let owners: Vec<&str> = options.own.owners.iter().map(String::as_str).collect();
        mock.set_owners(&owners);
        mock.set_narrowing(options.own.narrowing);
        let mut reply = match options.own.status {
            Some(code) => Reply::Status {
                code,
                headers: Vec::new(),
            },
            None => Reply::Token,
        };
        if let Some(ms) = options.own.delay_ms {
            reply = Reply::Delay(Duration::from_millis(ms), Box::new(reply));
        }
        mock.set_default(reply);
        Ok(Listening {
            port: mock.port(),
            banner: format!("mock platform listening on {}", mock.url()),
            mock,
        })
    })
}
