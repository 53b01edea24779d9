//! The gh proxy where a workspace's sandbox is unusual: no `/proc`, a `gh`
//! on PATH this user may not execute, and a loop marker inherited from
//! someone else. With the real gh (`gh --version` needs no network).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::support::*;

/// A directory holding a `gh` link to this program, and a PATH with it
/// first, then `between`, then the real gh.
fn proxy_path(ws: &Workspace, between: &[&PathBuf]) -> (PathBuf, String) {
    let dir = ws.path().join("proxy-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("gh");
    if !link.exists() {
        std::os::unix::fs::symlink(BIN, &link).unwrap();
    }
    let mut parts = vec![dir.display().to_string()];
    parts.extend(between.iter().map(|d| d.display().to_string()));
    parts.push(real_gh_dir().display().to_string());
    parts.push(std::env::var("PATH").unwrap_or_default());
    (link, parts.join(":"))
}

/// The real gh ran: its version line on stdout, exit 0.
fn assert_real_gh_ran(out: &Out) {
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.starts_with("gh version"), "{out:?}");
}

#[test]
fn without_proc_the_proxy_still_finds_itself_and_runs_gh() {
    let ws = Workspace::new();
    let (link, path) = proxy_path(&ws, &[]);
    let mut c = ws.command(&link);
    c.env("PATH", &path).arg("--version");
    namespace::hide_proc(&mut c);
    let out = ws.run(c, "");
    assert_real_gh_ran(&out);
    // It had a token to give (the platform was asked), and said nothing.
    assert_eq!(ws.platform.count(), 1, "{out:?}");
    assert_eq!(out.helper_lines(), Vec::<&str>::new(), "{out:?}");
}

#[test]
fn a_gh_this_user_may_not_execute_is_skipped_as_execvp_skips_it() {
    let ws = Workspace::new();
    // A gh with execute bits for its owner only, and another owner.
    let locked = ws.path().join("locked-bin");
    std::fs::create_dir_all(&locked).unwrap();
    let gh = locked.join("gh");
    std::fs::write(&gh, "#!/bin/sh\necho locked-gh-ran\n").unwrap();
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&gh, Some(54321), Some(54321)).unwrap();
    let (link, path) = proxy_path(&ws, &[&locked]);
    // Root without the capabilities that let it ignore file modes.
    let mut c = ws.unprivileged(link.to_str().unwrap());
    c.env("PATH", &path).arg("--version");
    let out = ws.run(c, "");
    assert_real_gh_ran(&out);
    assert!(!out.stdout.contains("locked-gh-ran"), "{out:?}");
}

#[test]
fn a_marker_someone_else_left_with_this_process_id_is_not_a_loop() {
    let ws = Workspace::new();
    let (link, path) = proxy_path(&ws, &[]);
    // The shell sets the marker to its own id, then becomes the proxy
    // (same id): as a process with a reused id that inherited a marker
    // from a long-lived descendant of gh would find it.
    let mut c = ws.command("sh");
    c.env("PATH", &path).args([
        "-c",
        &format!("MOLECULE_GH_PROXY_PID=$$ exec {} --version", link.display()),
    ]);
    let out = ws.run(c, "");
    assert_real_gh_ran(&out);
}
