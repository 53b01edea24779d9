//! Conditional includes: a helper the global config brings in with
//! `[includeIf "gitdir:~/work/"]` applies inside ~/work only. configure,
//! run from $HOME or from inside such a repository, never turns it into a
//! fallback for every repository and never hides it silently: it warns,
//! naming the condition and the file, and the README's remedy works.

use std::path::{Path, PathBuf};

use crate::support::*;

fn ours() -> String {
    std::fs::canonicalize(BIN)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

struct Setup {
    ws: Workspace,
    work_repo: PathBuf,
    other_repo: PathBuf,
    work_inc: PathBuf,
    work_store: PathBuf,
    work_pat: String,
    include: String,
}

/// A global config whose only helper is a work store, included for
/// repositories under ~/work; a repository there and one elsewhere.
fn setup() -> Setup {
    let ws = Workspace::new();
    let work_pat = format!("work-pat-{}", unique());
    ws.add_secret(&work_pat);
    let work_store = ws.path().join("work-store");
    std::fs::write(
        &work_store,
        format!("https://worker:{work_pat}@github.com\n"),
    )
    .unwrap();
    let work_inc = ws.path().join("work.inc");
    std::fs::write(
        &work_inc,
        format!(
            "[credential]\n\thelper = store --file={}\n",
            work_store.display()
        ),
    )
    .unwrap();
    let include = format!(
        "[includeIf \"gitdir:~/work/\"]\n\tpath = {}\n",
        work_inc.display()
    );
    ws.write_gitconfig(&include);
    let work_repo = ws.home.join("work/repo");
    let other_repo = ws.home.join("other/repo");
    for repo in [&work_repo, &other_repo] {
        std::fs::create_dir_all(repo).unwrap();
        let mut init = ws.command("git");
        init.args(["init", "-q"]).current_dir(repo);
        assert_eq!(ws.run(init, "").code(), 0);
    }
    Setup {
        ws,
        work_repo,
        other_repo,
        work_inc,
        work_store,
        work_pat,
        include,
    }
}

impl Setup {
    /// `git credential fill` run inside `repo`.
    fn fill_in(&self, repo: &Path) -> Out {
        let mut c = self.ws.command("git");
        c.args(["credential", "fill"]).current_dir(repo);
        self.ws.run(c, "url=https://github.com/o/r.git\n\n")
    }

    fn configure_from(&self, dir: &Path) -> Out {
        let mut c = self.ws.command(BIN);
        c.arg("configure").current_dir(dir);
        self.ws.run(c, "")
    }

    fn platform_down(&mut self) {
        self.ws
            .set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    }

    /// configure succeeded, wrote only our two lines, and warned once about
    /// the conditional include, naming it and the global file.
    fn assert_warned(&self, out: &Out) {
        assert_eq!(out.code(), 0, "{out:?}");
        let lines = out.helper_lines();
        assert_eq!(lines.len(), 1, "{out:?}");
        let warning = lines[0];
        assert!(warning.contains("warning:"), "{warning}");
        assert!(
            warning.contains("[includeIf \"gitdir:~/work/\"]"),
            "{warning}"
        );
        assert!(
            warning.contains(&self.ws.gitconfig.display().to_string()),
            "{warning}"
        );
        assert!(
            warning.contains(&self.work_inc.display().to_string()),
            "{warning}"
        );
        assert_eq!(
            std::fs::read_to_string(&self.ws.gitconfig).unwrap(),
            format!(
                "{}[credential \"https://github.com/\"]\n\thelper = \n\thelper = {}\n\tuseHttpPath = true\n",
                self.include,
                ours()
            ),
            "the conditional helper became a fallback for every repository"
        );
    }
}

#[test]
fn before_configure_the_work_pat_applies_inside_work_only() {
    let s = setup();
    let out = s.fill_in(&s.work_repo);
    assert_eq!(out.attr("password").as_deref(), Some(s.work_pat.as_str()));
    assert_ne!(
        s.fill_in(&s.other_repo).code(),
        0,
        "no helper outside ~/work"
    );
}

#[test]
fn configure_from_home_warns_that_the_conditional_helper_is_behind_the_reset() {
    let mut s = setup();
    let out = s.configure_from(&s.ws.home);
    s.assert_warned(&out);
    // As warned: inside ~/work the platform's token now answers first, and
    // in an outage the work PAT is hidden.
    s.fill_in(&s.work_repo).served_token();
    s.platform_down();
    assert_ne!(s.fill_in(&s.work_repo).code(), 0);

    // The README's remedy: the includeIf below the section, the helper in
    // the included file wrapped. Then the work PAT is the fallback inside
    // ~/work, and only there; configure has nothing more to say.
    let text = std::fs::read_to_string(&s.ws.gitconfig).unwrap();
    let block = text.strip_prefix(&s.include).unwrap();
    s.ws.write_gitconfig(&format!("{block}{}", s.include));
    std::fs::write(
        &s.work_inc,
        format!(
            "[credential]\n\thelper = {} fallback -- 'store --file={}'\n",
            ours(),
            s.work_store.display()
        ),
    )
    .unwrap();
    let out = s.fill_in(&s.work_repo);
    assert_eq!(
        out.attr("password").as_deref(),
        Some(s.work_pat.as_str()),
        "{out:?}"
    );
    assert_ne!(s.fill_in(&s.other_repo).code(), 0);
    let out = s.configure_from(&s.ws.home);
    assert_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out:?}"
    );
}

#[test]
fn configure_from_inside_a_matching_repository_keeps_the_helper_conditional() {
    let mut s = setup();
    let out = s.configure_from(&s.work_repo);
    // The same block and warning as from $HOME: the work store is not a
    // fallback for every repository.
    s.assert_warned(&out);
    s.platform_down();
    let out = s.fill_in(&s.other_repo);
    assert_ne!(
        out.code(),
        0,
        "the work PAT reached another repository: {out:?}"
    );
    assert_eq!(out.attr("password"), None);
}
