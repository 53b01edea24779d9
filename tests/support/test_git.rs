//! Which git the tests drive: `MOLECULE_TEST_GIT` (a path, or a name looked
//! up on PATH), else the first `git` on PATH. Every command the support code
//! builds gets [`path`] as its PATH: a directory holding only a `git` link to
//! the chosen git, then the test process's own PATH; so the tests' git, the
//! git the helper binary runs (`configure` runs `git config`) and the git
//! that scripts and shells find are all the chosen one. (git runs its own
//! helpers, `git credential-store` and the like, from its exec path, which
//! it puts first on its children's PATH: the chosen git's too.)
//!
//! `scripts/test.sh` runs the git-facing tests once per git on the machine.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The git the tests drive.
#[derive(Debug)]
pub struct TestGit {
    /// The chosen git, as given or found (not the link).
    pub program: PathBuf,
    /// `git --version`'s numbers: (2, 39, 5).
    pub version: (u32, u32, u32),
    /// The directory holding the `git` link, first on every PATH.
    pub dir: PathBuf,
}

pub fn test_git() -> &'static TestGit {
    static GIT: OnceLock<TestGit> = OnceLock::new();
    GIT.get_or_init(choose)
}

/// The PATH of every command the tests run: the chosen git's directory
/// first, then this process's PATH.
pub fn path() -> OsString {
    let mut dirs = vec![test_git().dir.clone()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).expect("PATH entries without ':'")
}

/// [`path`] as a string, for tests that prepend their own directories.
pub fn path_string() -> String {
    path().into_string().expect("a UTF-8 PATH")
}

/// Whether the chosen git is at least `major.minor`. A test that needs a
/// newer git calls it first and returns when not, after saying why on
/// stderr past the test harness's capture (so a skip is never silent; the
/// test's name says the version it needs too).
pub fn git_at_least(major: u32, minor: u32, test: &str) -> bool {
    let (have_major, have_minor, _) = test_git().version;
    let enough = (have_major, have_minor) >= (major, minor);
    if !enough {
        say(&format!(
            "SKIPPED {test}: needs git >= {major}.{minor}; the tests drive {} ({})",
            test_git().program.display(),
            version_text(&test_git().version)
        ));
    }
    enough
}

pub fn version_text(v: &(u32, u32, u32)) -> String {
    format!("{}.{}.{}", v.0, v.1, v.2)
}

fn choose() -> TestGit {
    let given = std::env::var_os("MOLECULE_TEST_GIT").filter(|v| !v.is_empty());
    let name = given.clone().unwrap_or_else(|| "git".into());
    let program = find(Path::new(&name)).unwrap_or_else(|| {
        panic!(
            "no git to test with: {} is not an executable file{}",
            Path::new(&name).display(),
            if given.is_some() {
                " (MOLECULE_TEST_GIT)"
            } else {
                " on PATH"
            }
        )
    });
    let out = Command::new(&program)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --version: {e}", program.display()));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = parse_version(&text)
        .unwrap_or_else(|| panic!("{} --version printed {text:?}", program.display()));
    // One directory per chosen git, shared by the test binaries that run
    // at once; the link is made under a temporary name and renamed into
    // place, so a reader never sees it half made.
    let label: String = program
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    // (Integration tests have cargo's target tmp dir; the examples that
    // share this file, the system's.)
    let tmp = option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = tmp.join(format!("test-git{label}"));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("git");
    if std::fs::read_link(&link).ok().as_deref() != Some(program.as_path()) {
        let temp = dir.join(format!("git.{}", std::process::id()));
        let _ = std::fs::remove_file(&temp);
        std::os::unix::fs::symlink(&program, &temp).unwrap();
        std::fs::rename(&temp, &link).unwrap();
    }
    say(&format!(
        "the tests drive {} (git {})",
        program.display(),
        version_text(&version)
    ));
    TestGit {
        program,
        version,
        dir,
    }
}

/// A line on this process's stderr, written past the harness's capture
/// (which takes only what `print!`/`eprint!` write).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `name` itself when it has a slash, else the first on PATH; an
/// executable file either way.
fn find(name: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.to_string_lossy().contains('/') {
        let path = std::path::absolute(name).ok()?;
        return executable(&path).then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| executable(p))
}

/// `git version 2.39.5` (also `2.43.0.windows.1`, `2.39.3 (Apple Git-146)`).
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let rest = text.trim().strip_prefix("git version ")?;
    let mut parts = rest
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next()?.ok()?;
    let patch = parts.next().and_then(|p| p.ok()).unwrap_or(0);
    Some((major, minor, patch))
}
