use super::*;
use crate::settings::{self, ApiUrl};

#[test]
fn definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn global_settings_go_before_or_after_the_subcommand() {
    // git runs `<configured helper line> get`: flags come first there.
    let cli = Cli::try_parse_from(["h", "--host", "a", "--host", "b", "get"]).unwrap();
    assert_eq!(cli.global.hosts, ["a", "b"]);
    assert!(matches!(cli.command, Command::Get));
    let cli = Cli::try_parse_from(["h", "fetch-token", "--timeout", "3"]).unwrap();
    assert_eq!(cli.global.timeout.as_deref(), Some("3"));
}

#[test]
fn fetch_token_has_the_old_name_as_a_hidden_alias() {
    let cli = Cli::try_parse_from(["h", "_fetch_token", "--json"]).unwrap();
    assert!(matches!(
        cli.command,
        Command::FetchToken(FetchTokenArgs { json: true, .. })
    ));
    let help = Cli::command().render_long_help().to_string();
    assert!(!help.contains("_fetch_token"));
}

#[test]
fn configure_takes_one_location() {
    let cli = Cli::try_parse_from(["h", "configure", "--file", "/x", "--host", "a"]).unwrap();
    let Command::Configure(args) = cli.command else {
        panic!("not configure")
    };
    assert_eq!(args.location.file, Some(PathBuf::from("/x")));
    assert_eq!(args.gh_proxy, None);
    assert_eq!(cli.global.hosts, ["a"]);
    assert!(Cli::try_parse_from(["h", "configure", "--global", "--system"]).is_err());
    assert!(Cli::try_parse_from(["h", "unconfigure", "--system", "--file", "x"]).is_err());
}

#[test]
fn fallback_takes_the_wrapped_value_verbatim() {
    for value in [
        "store --file=/a b",
        "!f() { cat; }; f",
        "--odd",
        "",
        "/abs/h --x",
    ] {
        let cli = Cli::try_parse_from(["h", "fallback", "--", value, "get"]).unwrap();
        let Command::Fallback(args) = cli.command else {
            panic!("not fallback")
        };
        assert_eq!(args.helper, value);
        assert_eq!(args.operation, "get");
    }
    let cmd = Cli::command();
    assert!(cmd.find_subcommand("fallback").unwrap().is_hide_set());
}

#[test]
fn status_probe_flags() {
    let cli = Cli::try_parse_from([
        "h",
        "status",
        "--probe",
        "--probe-repo",
        "o/r",
        "--probe-repo",
        "Org-1/repo.name_2",
        "--api-url",
        "Git.Example.test=http://127.0.0.1:3000/api/v1/",
    ])
    .unwrap();
    let Command::Status(args) = cli.command else {
        panic!("not status")
    };
    assert!(args.probe);
    assert_eq!(args.probe_repo, ["o/r", "Org-1/repo.name_2"]);
    assert_eq!(
        args.api_url,
        [ApiUrl {
            host: "git.example.test".into(),
            url: "http://127.0.0.1:3000/api/v1".into()
        }]
    );
    for bad in ["o", "o/", "/r", "o/r/x", "../r", "o/..", "o/r?x=1", "o r/x"] {
        assert!(
            Cli::try_parse_from(["h", "status", "--probe", "--probe-repo", bad]).is_err(),
            "{bad}"
        );
    }
    for bad in [
        "git.example.test",
        "git.example.test=ftp://x",
        "git.example.test=http://u:p@x/",
        "=http://x",
    ] {
        assert!(
            Cli::try_parse_from(["h", "status", "--probe", "--api-url", bad]).is_err(),
            "{bad}"
        );
    }
    // The refusal names the option and never the URL's password.
    for option in ["--api-url", "--git-url"] {
        let e = Cli::try_parse_from(["h", "status", "--probe", option, "h=https://u:Pw9@x/"])
            .unwrap_err()
            .to_string();
        assert!(e.contains(option) && !e.contains("Pw9"), "{e}");
    }
    // Repositories and API URLs are for probing.
    assert!(Cli::try_parse_from(["h", "status", "--probe-repo", "o/r"]).is_err());
}

#[test]
fn status_github_probe_flags() {
    let cli = Cli::try_parse_from([
        "h",
        "status",
        "--probe",
        "--probe-host",
        "GitHub.com",
        "--git-url",
        "github.com=https://127.0.0.1:8443/",
    ])
    .unwrap();
    let Command::Status(args) = cli.command else {
        panic!("not status")
    };
    assert_eq!(args.probe_host, ["github.com"]);
    assert_eq!(
        args.git_url,
        [ApiUrl {
            host: "github.com".into(),
            url: "https://127.0.0.1:8443".into()
        }]
    );
    for (flag, bad) in [
        ("--probe-host", "https://github.com"),
        ("--git-url", "github.com"),
        ("--git-url", "github.com=https://u:p@x/"),
    ] {
        assert!(
            Cli::try_parse_from(["h", "status", "--probe", flag, bad]).is_err(),
            "{flag} {bad}"
        );
    }
    for flag in ["--probe-host", "--git-url"] {
        let value = if flag == "--git-url" {
            "github.com=https://x"
        } else {
            "github.com"
        };
        assert!(
            Cli::try_parse_from(["h", "status", flag, value]).is_err(),
            "{flag}"
        );
    }
}

#[test]
fn exec_takes_everything_after_the_double_dash() {
    let cli = Cli::try_parse_from(["h", "exec", "--", "sh", "-c", "echo --json"]).unwrap();
    let Command::Exec(args) = cli.command else {
        panic!("not exec")
    };
    assert_eq!(args.command, ["sh", "-c", "echo --json"]);
}

#[test]
fn completions_offer_visible_commands_only() {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let text = String::from_utf8(completions(shell)).unwrap();
        for visible in ["fetch-token", "gh-login", "completions", "platform-url"] {
            assert!(text.contains(visible), "{shell:?}: no {visible}");
        }
        assert!(
            !text.contains("fallback"),
            "{shell:?} offers the hidden fallback"
        );
        assert!(
            !text.contains("_fetch_token"),
            "{shell:?} offers a hidden alias"
        );
    }
}

/// The table that reads helper lines back must know every global flag
/// of this definition, with the same arity.
#[test]
fn global_flags_table_matches_the_definition() {
    let command = Cli::command();
    let mut defined: Vec<(String, bool)> = command
        .get_arguments()
        .filter(|a| a.is_global_set())
        .filter_map(|a| {
            let takes_value = a.get_action().takes_values();
            a.get_long().map(|l| (l.to_string(), takes_value))
        })
        .collect();
    defined.sort();
    let mut table: Vec<(String, bool)> = settings::GLOBAL_FLAGS
        .iter()
        .map(|(n, v)| (n.to_string(), *v))
        .collect();
    table.sort();
    assert_eq!(defined, table);
}

/// Reading a helper line back without clap gives what clap's parse
/// would, once git appends `get`.
#[test]
fn helper_lines_read_back_as_clap_parses_them() {
    use crate::settings::{HelperArgs, parse_helper_args};
    let lines: &[&[&str]] = &[
        &[],
        &["--timeout", "3", "--host", "a", "--no-cache"],
        &["--timeout=3", "-v"],
        &["--verbose", "--platform-url=http://p"],
        &[
            "--host",
            "a",
            "--secret-host",
            "g=T",
            "fallback",
            "--",
            "store --file=/x",
        ],
        &["fallback", "--", ""],
        &["fallback", "--", "it's"],
        &["fallback", "store"],
        &["fetch-token"],
        &["--help"],
        &["--no-cache=1"],
        &["--timeout"],
        &["fallback"],
        &["fallback", "--", "a", "b"],
        &["get"],
        &["--bogus", "x"],
    ];
    for words in lines {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let argv = ["h"]
            .into_iter()
            .chain(words.iter().map(String::as_str))
            .chain(["get"]);
        let clap = match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Command::Get) => Some(HelperArgs::Get),
            Ok(Command::Fallback(args)) if args.operation == "get" => {
                args.helper.into_string().ok().map(HelperArgs::Fallback)
            }
            _ => None,
        };
        assert_eq!(parse_helper_args(&words), clap, "{words:?}");
    }
}
