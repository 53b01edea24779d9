//! What the mock examples (`mock-platform`, `mock-gitea`) share: the options
//! every mock takes, the way options are read, and main's shape (help, usage
//! errors, start, port file, announce, serve until killed). Each example
//! includes it with `mod common;`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

/// What the command line asks for.
pub enum Parsed<T> {
    Run(T),
    Help,
}

/// The options of every mock example, and `own`, those of one.
pub struct Options<T> {
    /// --port N
    pub port: u16,
    /// the accepted credential, from --NAME or --NAME-file, whitespace trimmed
    pub secret: String,
    /// --port-file PATH
    pub port_file: Option<PathBuf>,
    /// --quiet
    pub quiet: bool,
    pub own: T,
}

/// The command line, one option at a time; an option's value is inline (`--option=value`) or
/// the next argument.
pub struct Args {
    args: std::vec::IntoIter<String>,
    inline: Option<String>,
}

impl Args {
    /// The next option, its inline value kept for [`Args::value`].
    fn next_option(&mut self) -> Option<String> {
        let arg = self.args.next()?;
        let (option, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        self.inline = inline;
        Some(option)
    }

    /// The value of `option`.
    pub fn value(&mut self, option: &str) -> Result<String, String> {
        self.inline
            .take()
            .or_else(|| self.args.next())
            .ok_or_else(|| format!("{option} needs a value"))
    }

    /// The value of `option`, a number.
    pub fn number<N: FromStr>(&mut self, option: &str) -> Result<N, String> {
        let value = self.value(option)?;
        value
            .parse()
            .map_err(|_| format!("invalid value {value:?} for {option}"))
    }
}

/// Read `args`: `-h`/`--help`, `--quiet`, `--port N` (default `default_port`), `--port-file PATH`,
/// and the credential as `--SECRET VALUE` or `--SECRET-file PATH` (exactly one of them) here;
/// any other option goes to `own_option`, which answers false for one it does not know.
pub fn parse<T>(
    args: impl IntoIterator<Item = String>,
    default_port: u16,
    secret: &str,
    mut own: T,
    mut own_option: impl FnMut(&mut T, &str, &mut Args) -> Result<bool, String>,
) -> Result<Parsed<Options<T>>, String> {
    let (secret_option, secret_file_option) = (format!("--{secret}"), format!("--{secret}-file"));
    let mut port = default_port;
    let mut given = None;
    let mut file = None;
    let mut port_file = None;
    let mut quiet = false;

    let mut args = Args {
        args: args.into_iter().collect::<Vec<_>>().into_iter(),
        inline: None,
    };
    while let Some(option) = args.next_option() {
        match option.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--quiet" => quiet = true,
            "--port" => port = args.number(&option)?,
            "--port-file" => port_file = Some(PathBuf::from(args.value(&option)?)),
            o if o == secret_option => given = Some(args.value(&option)?),
            o if o == secret_file_option => file = Some(PathBuf::from(args.value(&option)?)),
            other => {
                if !own_option(&mut own, other, &mut args)? {
                    return Err(format!("unexpected argument {other:?}"));
                }
            }
        }
    }

    let value = match (given, file) {
        (Some(_), Some(_)) => return Err(format!("give --{secret} or --{secret}-file, not both")),
        (Some(s), None) => s.trim().to_string(),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {secret} file {}: {e}", path.display()))?
            .trim()
            .to_string(),
        (None, None) => return Err(format!("one of --{secret} or --{secret}-file is required")),
    };
    if value.is_empty() {
        return Err(format!("the {secret} is empty"));
    }
    Ok(Parsed::Run(Options {
        port,
        secret: value,
        port_file,
        quiet,
        own,
    }))
}

/// A started mock, the port it listens on, and the line that announces it.
pub struct Listening<M> {
    pub port: u16,
    pub banner: String,
    pub mock: M,
}

/// main of mock example `name`: print `usage` for --help, exit 2 on a usage error, `start` the mock
/// (exit 1 if it cannot listen), write the port file, announce it on stderr and serve until killed.
pub fn main<T, M>(
    name: &str,
    usage: &str,
    parsed: Result<Parsed<Options<T>>, String>,
    start: impl FnOnce(&Options<T>) -> io::Result<Listening<M>>,
) -> ExitCode {
    let options = match parsed {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            print!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{name}: {message} (see --help)");
            return ExitCode::from(2);
        }
    };

    let Listening { port, banner, mock } = match start(&options) {
        Ok(listening) => listening,
        Err(e) => {
            eprintln!("{name}: cannot listen on 127.0.0.1:{}: {e}", options.port);
            return ExitCode::FAILURE;
        }
    };

    if let Some(path) = &options.port_file
        && let Err(e) = write_atomically(path, &format!("{port}\n"))
    {
        eprintln!("{name}: cannot write port file {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    eprintln!("{banner}");

    // The mock serves on its own threads for as long as it lives.
    let _mock = mock;
    loop {
        std::thread::park();
    }
}

/// Write `contents` to `path` through a temporary file in the same directory and a rename.
fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
