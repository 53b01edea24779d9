//! The hidden `fallback` wrapper that `configure` registers kept helpers
//! through, run directly: requests passed on verbatim, helpers started as
//! git starts them, short-lived credentials withheld from store (erase is passed on).

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
    let snippet = format!(
        "!f() {{ printf '%s\\n' \"$@\" > {}; cat > {}; echo answer=1; exit 7; }}; f",
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
fn the_wrapper_withholds_short_lived_credentials_from_store_but_not_erase() {
    let ws = Workspace::new();
    let got = ws.path().join("got");
    let snippet = format!("!cat > {}; :", got.display());
    let short_lived = [
        "protocol=https\nhost=github.com\nusername=x-access-token\npassword=ghs_abcdefgh\npassword_expiry_utc=1999999999\n",
        "protocol=https\nhost=github.com\nusername=x-access-token\npassword=ghs_abcdefgh\n",
        "protocol=https\nhost=h.example\nusername=bob\npassword=abcdefghij\npassword_expiry_utc=1999999999\n",
    ];
    for input in short_lived {
        let out = ws.helper(&["fallback", "--", &snippet, "store"], input);
        ok(&out);
        assert!(!got.exists(), "store reached the helper: {input}");
        // A dead token the kept store holds must go when git rejects it.
        for op in ["erase", "get"] {
            let out = ws.helper(&["fallback", "--", &snippet, op], input);
            assert_eq!(out.code(), 0, "{out:?}");
            assert_eq!(read(&got), input, "{op}");
            std::fs::remove_file(&got).unwrap();
        }
    }
    // -v says why, without the token.
    let out = ws.helper(&["-v", "fallback", "--", &snippet, "store"], short_lived[0]);
    assert!(out.stderr.contains("short-lived"), "{}", out.stderr);
    assert!(!out.stderr.contains("ghs_abcdefgh"), "{}", out.stderr);
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
