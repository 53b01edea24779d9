//! One error type for the whole program. Its variant decides the exit code
//! and whether a line is printed; `main` is the one place that prints it.
//!
//! For `get`, every error means "git, ask the next helper" (exit 1). "Not my
//! host" is not an error at all: `get` answers nothing and exits 0, which
//! [`crate::commands::credential::Answer::NotOurs`] makes explicit.

use std::fmt;

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Error {
    /// A setting or argument is invalid: exit 2, like clap's own errors.
    Usage(String),
    /// The work failed: exit 1 with one line naming what failed.
    Failed(anyhow::Error),
    /// `exec` could not start the command: 127 when it was not found, 126
    /// when it could not be run, as in a shell.
    CannotRun { code: u8, message: String },
    /// `status` found a failing check; its report on stdout says which: exit
    /// 1, no error line.
    ChecksFailed,
    /// A failure already reported to this user (`env --hook`, between
    /// prompts): exit 1, no line again.
    Reported,
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Failed(_) | Error::ChecksFailed | Error::Reported => 1,
            Error::CannotRun { code, .. } => *code,
        }
    }

    /// The one line for stderr, if any.
    pub fn line(&self) -> Option<String> {
        match self {
            Error::Usage(message) | Error::CannotRun { message, .. } => Some(message.clone()),
            Error::Failed(error) => Some(format!("{error:#}")),
            Error::ChecksFailed | Error::Reported => None,
        }
    }
}

impl Error {
    /// A failed exec of `program` (`exec`, the gh proxy), in a shell's
    /// codes: 127 not found, 126 not runnable.
    pub fn cannot_run(program: &std::ffi::OsStr, error: &std::io::Error) -> Error {
        let (code, why) = match error.kind() {
            std::io::ErrorKind::NotFound => (127, "command not found".to_string()),
            _ => (126, crate::diag::io_reason(error)),
        };
        Error::CannotRun {
            code,
            message: format!("cannot run {}: {why}", program.to_string_lossy()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line().unwrap_or_else(|| "a check failed".into()))
    }
}

impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Error {
        Error::Failed(error)
    }
}

impl From<crate::settings::UsageError> for Error {
    fn from(error: crate::settings::UsageError) -> Error {
        Error::Usage(error.0)
    }
}

impl From<crate::git::protocol::RequestError> for Error {
    fn from(error: crate::git::protocol::RequestError) -> Error {
        Error::Failed(error.into())
    }
}

/// What a command returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;
