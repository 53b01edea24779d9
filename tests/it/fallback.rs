//! The hidden `fallback` wrapper that `configure` registers kept helpers
//! through, run directly: requests passed on verbatim, helpers started as
//! git starts them, short-lived credentials withheld from store, erase passed on only to a
//! helper whose own get answers with the rejected password.

use crate::support::*;

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ok(out: &Out) {
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
}

const PAT_STORE: &str = "protocol=https\nhost=github.com\nusername=operator\npassword=p-1234567\n";

#[test]
fn the_wrapper_passes_requests_on_verbatim_and_the_exit_status_back() {
    let ws = Workspace::new();
    let got = ws.path().join("got");
    let args = ws.path().join("args");
    // Its get run with prompts off (the wrapper asking, before an erase,
    // whether it holds the password) answers that it does.
    let snippet = format!(
        "!f() {{ if [ \"$GCM_INTERACTIVE\" = never ]; then cat >/dev/null; echo password=p-1234567; \
         exit 0; fi; printf '%s\\n' \"$@\" > {}; cat > {}; echo answer=1; exit 7; }}; f",
        args.display(),
        got.display()
    );
    for op in ["store", "erase", "get"] {
        let input = format!("capability[]=authtype\r\n{PAT_STORE}wwwauth[]=Basic x=y\n");
        let out = ws.helper(&["fallback", "--", &snippet, op], &input);
        assert_eq!(out.code(), 7, "{out:?}");
        assert_eq!(out.stdout, "answer=1\n");
        assert_eq!(read(&got), input, "{op}");
        assert_eq!(read(&args), format!("{op}\n"));
    }
}

#[test]
fn the_wrapper_runs_helpers_as_git_does() {
    let ws = Workspace::new();
    ws.add_secret(FALLBACK_PAT);
    let get = "protocol=https\nhost=github.com\n";
    // A plain name is `git credential-NAME`.
    let store = format!("store --file={}", ws.fallback.display());
    let out = ws.helper(&["fallback", "--", &store, "get"], get);
    out.assert_fallback();
    // An absolute path with arguments runs through the shell.
    let script = ws.path().join("my helper");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"username=$1\"\necho \"password=$2-$3\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let value = format!("'{}' 'a b'", script.display());
    // (A value starting with a quote is not absolute for git; prefix `!`.)
    let out = ws.helper(&["fallback", "--", &format!("!{value}"), "get"], get);
    assert_eq!(out.stdout, "username=a b\npassword=get-\n", "{out:?}");
    let link = ws.path().join("helper-link");
    std::os::unix::fs::symlink(&script, &link).unwrap();
    let out = ws.helper(
        &["fallback", "--", &format!("{} x", link.display()), "get"],
        get,
    );
    assert_eq!(out.stdout, "username=x\npassword=get-\n", "{out:?}");
}

#[test]
fn the_wrapper_withholds_short_lived_credentials_from_store_and_erases_only_what_the_helper_holds()
{
    let ws = Workspace::new();
    let got = ws.path().join("got");
    // Records what store and erase receive; its get answers with the
    // password in the file `holds` (nothing when there is none).
    let holds = ws.path().join("holds");
    let snippet = format!(
        "!f() {{ if [ \"$1\" = get ]; then cat >/dev/null; cat {h} 2>/dev/null; \
         else cat > {g}; fi; }}; f",
        h = holds.display(),
        g = got.display()
    );
    let short_lived = [
        (
            "protocol=https\nhost=github.com\nusername=x-access-token\npassword=ghs_abcdefgh\npassword_expiry_utc=1999999999\n",
            "ghs_abcdefgh",
        ),
        (
            "protocol=https\nhost=github.com\nusername=x-access-token\npassword=ghs_abcdefgh\n",
            "ghs_abcdefgh",
        ),
        (
            "protocol=https\nhost=h.example\nusername=bob\npassword=abcdefghij\npassword_expiry_utc=1999999999\n",
            "abcdefghij",
        ),
    ];
    for (input, password) in short_lived {
        let out = ws.helper(&["fallback", "--", &snippet, "store"], input);
        ok(&out);
        assert!(!got.exists(), "store reached the helper: {input}");
        // Not held by the helper (ours, say): erase does not reach it.
        let _ = std::fs::remove_file(&holds);
        ok(&ws.helper(&["fallback", "--", &snippet, "erase"], input));
        assert!(
            !got.exists(),
            "erase reached a helper that holds another password"
        );
        std::fs::write(&holds, "username=x\npassword=the-operators-pat\n").unwrap();
        ok(&ws.helper(&["fallback", "--", &snippet, "erase"], input));
        assert!(
            !got.exists(),
            "erase reached a helper that holds another password"
        );
        // A dead token the kept store holds must go when git rejects it.
        std::fs::write(&holds, format!("username=x\npassword={password}\n")).unwrap();
        let out = ws.helper(&["fallback", "--", &snippet, "erase"], input);
        assert_eq!(out.code(), 0, "{out:?}");
        assert_eq!(read(&got), input, "erase");
        std::fs::remove_file(&got).unwrap();
    }
    // -v says why, without the token.
    let out = ws.helper(
        &["-v", "fallback", "--", &snippet, "store"],
        short_lived[0].0,
    );
    assert!(out.stderr.contains("short-lived"), "{}", out.stderr);
    assert!(!out.stderr.contains("ghs_abcdefgh"), "{}", out.stderr);
    let _ = std::fs::remove_file(&holds);
    let out = ws.helper(
        &["-v", "fallback", "--", &snippet, "erase"],
        short_lived[0].0,
    );
    assert!(out.stderr.contains("never stored there"), "{}", out.stderr);
    assert!(!out.stderr.contains("ghs_abcdefgh"), "{}", out.stderr);
}

/// The store file of the operator: a PAT kept under the user name
/// `x-access-token` (what the old entrypoint wrote), made at run time.
fn pat_store(ws: &Workspace, lines_above: &[&str]) -> (std::path::PathBuf, String) {
    let pat = format!("operator-pat-{}", unique());
    ws.add_secret(&pat);
    let store = ws.path().join("pat-store");
    let mut text = String::new();
    for token in lines_above {
        text.push_str(&format!("https://x-access-token:{token}@github.com\n"));
    }
    text.push_str(&format!("https://x-access-token:{pat}@github.com\n"));
    std::fs::write(&store, &text).unwrap();
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = store --file={}\n",
        store.display()
    ));
    let out = ws.helper(&["configure"], "");
    assert_eq!((out.code(), out.stderr.as_str()), (0, ""), "{out:?}");
    (store, pat)
}

/// `git credential reject`: what git does with a credential the server
/// refused (a 401 on push or fetch).
fn reject(ws: &Workspace, username: &str, password: &str) {
    let out = ws.git(
        &["credential", "reject"],
        &format!("protocol=https\nhost=github.com\nusername={username}\npassword={password}\n\n"),
    );
    assert_eq!(out.code(), 0, "{out:?}");
}

#[test]
fn a_platform_token_git_rejects_never_costs_the_operator_the_pat_in_a_kept_store() {
    // With git < 2.41 a store's erase removes every entry of the host and
    // user name: passed on, the erase of our token took the PAT with it.
    let mut ws = Workspace::new();
    let (store, pat) = pat_store(&ws, &[]);
    let filled = ws.fill("https://github.com/o/r.git");
    let token = filled.served_token();
    ws.platform.revoke(&token);
    reject(&ws, "x-access-token", &token);
    assert_eq!(
        read(&store),
        format!("https://x-access-token:{pat}@github.com\n"),
        "the PAT is gone from the kept store"
    );
    // And at the next outage git gets it.
    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    let out = ws.fill("https://github.com/o/r.git");
    assert_eq!(
        out.attr("password").as_deref(),
        Some(pat.as_str()),
        "{out:?}"
    );
}

#[test]
fn a_dead_token_stored_above_the_pat_is_still_erased_when_git_rejects_it() {
    let mut ws = Workspace::new();
    let dead = format!("dead-token-{}", unique());
    ws.add_secret(&dead);
    let (store, pat) = pat_store(&ws, &[&dead]);
    // An outage: the kept store answers, with the dead token first.
    ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{}", dead_port()));
    let out = ws.fill("https://github.com/o/r.git");
    assert_eq!(
        out.attr("password").as_deref(),
        Some(dead.as_str()),
        "{out:?}"
    );
    reject(&ws, "x-access-token", &dead);
    let left = read(&store);
    assert!(!left.contains(&dead), "the dead token stays: {left}");
    if test_git().version >= (2, 41, 0) {
        // The store erases by password: the PAT stays, and answers.
        assert_eq!(left, format!("https://x-access-token:{pat}@github.com\n"));
        let out = ws.fill("https://github.com/o/r.git");
        assert_eq!(
            out.attr("password").as_deref(),
            Some(pat.as_str()),
            "{out:?}"
        );
    } else {
        // git < 2.41's store erases every entry of the host and user name,
        // as it does without the wrapper (README: the table of gits).
        assert_eq!(left, "");
    }
}

#[test]
fn the_wrapper_refuses_bad_input_but_survives_bad_settings() {
    let mut ws = Workspace::new();
    let out = ws.helper(&["fallback", "--", "!cat", "store"], "no equals sign\n");
    assert_eq!(out.code(), 1);
    out.assert_one_error("line 1");
    let big = format!("path={}\n", "a".repeat(70_000));
    let out = ws.helper(&["fallback", "--", "!cat", "get"], &big);
    out.assert_one_error("larger than 64 KiB");
    assert_eq!(out.stdout, "");
    // An invalid setting breaks ours, not the operator's fallback.
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "soon");
    let out = ws.helper(
        &[
            "fallback",
            "--",
            "!cat >/dev/null; echo password=x; :",
            "get",
        ],
        PAT_STORE,
    );
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (0, "password=x\n"),
        "{out:?}"
    );
}

#[test]
fn the_erase_check_reads_a_bounded_answer_from_a_helper_that_answers_endlessly() {
    // Issue 24 item 11: the wrapper read the kept helper's get to its end
    // (775 MB in 2 s). Now it reads 64 KiB, says the helper does not hold
    // the password, and finishes within the erase check's deadline, its
    // peak memory (the kernel's count for the reaped process) small.
    use std::io::Write;
    let ws = Workspace::new();
    let erased = ws.path().join("erased");
    let snippet = format!(
        "!f() {{ if [ \"$1\" = erase ]; then cat > {}; exit 0; fi; cat >/dev/null; \
         exec yes password=dead; }}; f",
        erased.display()
    );
    let input = "protocol=https\nhost=github.com\nusername=operator\npassword=dead\n\n";
    let mut c = ws.command(BIN);
    c.args(["fallback", "--", &snippet, "erase"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let started = std::time::Instant::now();
    // Reaped by wait4 below, which also reports its peak memory.
    #[allow(clippy::zombie_processes)]
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 reaps the child we spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    // ru_maxrss is in KiB.
    assert!(
        usage.ru_maxrss < 64 * 1024,
        "peak memory {} KiB",
        usage.ru_maxrss
    );
    assert!(!erased.exists(), "the erase was passed on");
}
