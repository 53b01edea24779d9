//! The `cargo` line, when cargo is on PATH: whether cargo fetches git
//! dependencies with the git CLI (which runs this helper) or with its own
//! libgit2 transport (which never runs it); and the other clients that go
//! through git and so need nothing (npm, pip, go).

use super::render::{Check, Mark, check};
use crate::cargo::{Effective, KEY, VARIABLE, effective};

/// The clients that fetch from GitHub by running git.
const THROUGH_GIT: &str = "npm, pip and go fetch git dependencies by running git: nothing to do";

/// The `cargo` check, when cargo is on PATH.
pub fn check_cargo(checks: &mut Vec<Check>) {
    if !on_path("cargo") {
        return;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    checks.push(judge(&effective(&cwd)));
}

fn judge(found: &Effective) -> Check {
    let mut message = match (found.with_cli, found.source.as_str()) {
        (true, source) => format!(
            "fetches git dependencies with the git CLI, which runs this helper ({source}); \
             {THROUGH_GIT}"
        ),
        (false, "cargo's default") => format!(
            "fetches git dependencies with its own libgit2 transport, which never runs this \
             helper (a private one fails, or gets the PAT of a credential.helper): run \
             molecule-git-token-helper configure --cargo, or set {VARIABLE}=true; {THROUGH_GIT}"
        ),
        (false, source) => format!(
            "{source} sets net.{KEY} = false: cargo's libgit2 transport never runs this helper \
             (a private git dependency fails, or gets the PAT of a credential.helper); set it to \
             true; {THROUGH_GIT}"
        ),
    };
    for (file, why) in &found.unreadable {
        message += &format!(" ({} is not TOML: {why})", file.display());
    }
    check(
        "cargo",
        if found.with_cli { Mark::Ok } else { Mark::Warn },
        message,
    )
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.is_absolute() && dir.join(program).is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(with_cli: bool, source: &str) -> Effective {
        Effective {
            with_cli,
            source: source.to_string(),
            unreadable: Vec::new(),
        }
    }

    #[test]
    fn warns_with_the_fix_unless_cargo_runs_git() {
        let c = judge(&found(true, "/h/.cargo/config.toml"));
        assert_eq!(c.status, Mark::Ok);
        assert!(
            c.message.contains("/h/.cargo/config.toml") && c.message.contains("npm, pip and go")
        );
        let c = judge(&found(false, "cargo's default"));
        assert_eq!(c.status, Mark::Warn);
        assert!(c.message.contains("configure --cargo"), "{}", c.message);
        let c = judge(&found(false, "/p/.cargo/config"));
        assert!(
            c.message
                .starts_with("/p/.cargo/config sets net.git-fetch-with-cli = false")
        );
    }
}
