//! `configure --gh-proxy [DIR]` and its undoing: `DIR/gh`, a symbolic link
//! to this program, which then runs as the gh proxy (`commands/gh_proxy.rs`).
//! It works only if `gh` found on PATH is that link, so configure refuses
//! a DIR that is not on PATH, or that holds the real gh, or that comes after
//! a directory holding it.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

use crate::diag::{debug, io_reason, warning};
use crate::gh::{GH, ThisProgram, gh_on_path};

use super::location::program_path;

/// The link to make, checked.
#[derive(Debug)]
pub struct Plan {
    /// `DIR/gh`.
    pub link: PathBuf,
    /// What it points at: this program's path as configure writes it.
    pub target: String,
    /// It is there already.
    pub exists: bool,
}

/// The directory the link goes in by default: the one this program is
/// installed in (the copy on PATH when that is this program).
pub fn default_dir() -> Result<PathBuf> {
    let program = PathBuf::from(program_path()?);
    program
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("{} has no directory", program.display()))
}

/// Check that `DIR/gh` (DIR: `dir`, else [`default_dir`]) would be the `gh`
/// found on PATH, and say whether it is there already.
pub fn plan(dir: Option<&Path>) -> Result<Plan> {
    let target = program_path()?;
    let me = ThisProgram::find()
        .map_err(|e| anyhow!("cannot find this program's own path: {}", io_reason(&e)))?;
    let dir = match dir {
        Some(dir) => std::path::absolute(dir)
            .map_err(|e| anyhow!("cannot resolve {}: {}", dir.display(), io_reason(&e)))?,
        None => default_dir()?,
    };
    let real_dir = std::fs::canonicalize(&dir).map_err(|e| {
        anyhow!(
            "--gh-proxy: cannot use {}: {}",
            dir.display(),
            io_reason(&e)
        )
    })?;
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let on_path: Vec<PathBuf> = std::env::split_paths(&path_var).collect();
    let Some(index) = on_path
        .iter()
        .position(|d| std::fs::canonicalize(d).is_ok_and(|d| d == real_dir))
    else {
        bail!(
            "--gh-proxy: {} is not on PATH, so gh would not be found there; give --gh-proxy a \
             directory on PATH, before the real gh",
            dir.display()
        );
    };
    // A real gh before DIR is found first: the proxy would never run.
    let before = std::env::join_paths(&on_path[..index]).unwrap_or_default();
    if let Some(real) = gh_on_path(Some(&before), &me).find(|g| !g.is_proxy) {
        bail!(
            "--gh-proxy: the real gh, {}, comes before {} on PATH, so gh would not reach the \
             proxy; give --gh-proxy a directory before {}",
            real.path.display(),
            dir.display(),
            real.path.parent().unwrap_or(Path::new("/")).display()
        );
    }
    let link = dir.join(GH);
    let exists = match std::fs::symlink_metadata(&link) {
        Err(_) => false,
        Ok(_) if me.is(&link) => true,
        Ok(meta) if meta.file_type().is_symlink() && std::fs::metadata(&link).is_err() => bail!(
            "--gh-proxy: {} is a broken symbolic link, not one to this program; remove it, then \
             run configure again",
            link.display()
        ),
        Ok(_) => bail!(
            "--gh-proxy: {} is another gh (the real one?), which the proxy must come before on \
             PATH; give --gh-proxy a directory before {}",
            link.display(),
            dir.display()
        ),
    };
    if !gh_on_path(Some(&path_var), &me).any(|g| !g.is_proxy) {
        warning!(
            "--gh-proxy: no gh on PATH after {}: the proxy has nothing to run until the GitHub \
             CLI is installed (apt-get install gh)",
            dir.display()
        );
    }
    Ok(Plan {
        link,
        target,
        exists,
    })
}

impl Plan {
    /// Make the link unless it is there; one line for the user when made.
    pub fn create(&self) -> Result<String> {
        if self.exists {
            debug!("configure: {} is already the gh proxy", self.link.display());
            return Ok(String::new());
        }
        std::os::unix::fs::symlink(&self.target, &self.link).map_err(|e| {
            anyhow!(
                "cannot make the gh proxy {}: {}",
                self.link.display(),
                io_reason(&e)
            )
        })?;
        Ok(format!(
            "configured the gh proxy {} -> {}\n",
            self.link.display(),
            self.target
        ))
    }
}

/// Remove `DIR/gh` (DIR: `dir`, else [`default_dir`]) if it is a symbolic
/// link to this program, and nothing else; one line for the user when removed.
pub fn remove(dir: Option<&Path>) -> Result<String> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => match default_dir() {
            Ok(dir) => dir,
            // Not installed under its own name: no default link to remove.
            Err(e) => {
                debug!("unconfigure: no gh proxy to look for: {e:#}");
                return Ok(String::new());
            }
        },
    };
    let link = dir.join(GH);
    let is_link = std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
    let me = ThisProgram::find()
        .map_err(|e| anyhow!("cannot find this program's own path: {}", io_reason(&e)))?;
    if !is_link || !me.is(&link) {
        debug!(
            "unconfigure: {} is not a link to this program; left alone",
            link.display()
        );
        return Ok(String::new());
    }
    std::fs::remove_file(&link).map_err(|e| {
        anyhow!(
            "cannot remove the gh proxy {}: {}",
            link.display(),
            io_reason(&e)
        )
    })?;
    Ok(format!("removed the gh proxy {}\n", link.display()))
}
