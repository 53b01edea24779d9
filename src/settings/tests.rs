use super::*;
use std::collections::HashMap;

fn resolve_with(args: &Flags, vars: &[(&str, &str)]) -> Result<Settings, UsageError> {
    let map: HashMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    resolve(args, &|name| map.get(name).cloned())
}

#[test]
fn relative_cache_directories() {
    // A relative XDG_RUNTIME_DIR is ignored (the XDG spec says so).
    let s = resolve_with(&Flags::default(), &[("XDG_RUNTIME_DIR", "run")]).unwrap();
    assert!(
        s.cache_dir.as_ref().is_none_or(|d| d.is_absolute()),
        "{s:?}"
    );
    // A relative cache directory asked for is refused, naming the setting.
    let e = resolve_with(&Flags::default(), &[("MOLECULE_TOKEN_CACHE_DIR", "rel")]).unwrap_err();
    assert!(e.0.contains("MOLECULE_TOKEN_CACHE_DIR"), "{e}");
    let flags = Flags {
        cache_dir: Some("rel/x".into()),
        ..Flags::default()
    };
    let e = resolve_with(&flags, &[]).unwrap_err();
    assert!(e.0.contains("--cache-dir"), "{e}");
}

#[test]
fn defaults() {
    let s = resolve_with(&Flags::default(), &[("XDG_RUNTIME_DIR", "/run/user/7")]).unwrap();
    assert_eq!(s.platform_url, "http://platform:8080");
    assert_eq!(
        s.token_url(),
        "http://platform:8080/admin/github-installation-token"
    );
    assert_eq!(s.bearer_path(), PathBuf::from("/configs/.auth_token"));
    assert_eq!(s.hosts, ["github.com"]);
    assert_eq!(
        s.cache_dir,
        Some(PathBuf::from("/run/user/7/molecule-git-token-helper"))
    );
    assert_eq!(s.timeout, Duration::from_secs(10));
    assert_eq!(s.refresh_window, Duration::from_secs(300));
    assert!(!s.verbose);
}

#[test]
fn environment_then_flags_win() {
    let env = [
        ("PLATFORM_URL", "https://p.example/base/"),
        ("CONFIGS_DIR", "/etc/c"),
        ("MOLECULE_GIT_HOSTS", "GitHub.com, ghe.example:8443,,"),
        ("MOLECULE_TOKEN_CACHE_DIR", "/tmp/c"),
        ("MOLECULE_TOKEN_TIMEOUT", "2.5"),
        ("MOLECULE_TOKEN_REFRESH_WINDOW", "60"),
        ("MOLECULE_TOKEN_LOG", "DEBUG"),
    ];
    let s = resolve_with(&Flags::default(), &env).unwrap();
    assert_eq!(s.platform_url, "https://p.example/base");
    assert_eq!(s.configs_dir, PathBuf::from("/etc/c"));
    assert_eq!(s.hosts, ["github.com", "ghe.example:8443"]);
    assert_eq!(s.cache_dir, Some(PathBuf::from("/tmp/c")));
    assert_eq!(s.timeout, Duration::from_millis(2500));
    assert_eq!(s.refresh_window, Duration::from_secs(60));
    assert!(s.verbose);

    let args = Flags {
        platform_url: Some("http://127.0.0.1:9".into()),
        configs_dir: Some("/x".into()),
        hosts: vec!["a.example".into()],
        cache_dir: Some("/c2".into()),
        timeout: Some("500ms".into()),
        refresh_window: Some("0".into()),
        ..Flags::default()
    };
    let s = resolve_with(&args, &env).unwrap();
    assert_eq!(s.platform_url, "http://127.0.0.1:9");
    assert_eq!(s.configs_dir, PathBuf::from("/x"));
    assert_eq!(s.hosts, ["a.example"]);
    assert_eq!(s.cache_dir, Some(PathBuf::from("/c2")));
    assert_eq!(s.timeout, Duration::from_millis(500));
    assert_eq!(s.refresh_window, Duration::ZERO);
}

#[test]
fn no_cache_from_flag_or_environment() {
    for v in ["1", "true", "YES", "On"] {
        let s = resolve_with(&Flags::default(), &[("MOLECULE_TOKEN_NO_CACHE", v)]).unwrap();
        assert_eq!(s.cache_dir, None, "{v}");
    }
    for v in ["0", "false", "No", "off", ""] {
        let s = resolve_with(
            &Flags::default(),
            &[
                ("MOLECULE_TOKEN_NO_CACHE", v),
                ("MOLECULE_TOKEN_CACHE_DIR", "/c"),
            ],
        )
        .unwrap();
        assert_eq!(s.cache_dir, Some(PathBuf::from("/c")), "{v}");
    }
    let args = Flags {
        no_cache: true,
        ..Flags::default()
    };
    assert_eq!(resolve_with(&args, &[]).unwrap().cache_dir, None);
}

#[test]
fn invalid_values_name_their_source() {
    let cases = [
        ("MOLECULE_TOKEN_NO_CACHE", "maybe"),
        ("MOLECULE_TOKEN_TIMEOUT", "ten"),
        ("MOLECULE_TOKEN_TIMEOUT", "0"),
        ("MOLECULE_TOKEN_TIMEOUT", "-1"),
        ("MOLECULE_TOKEN_REFRESH_WINDOW", "5m"),
        ("MOLECULE_TOKEN_LOG", "loud"),
        ("PLATFORM_URL", "platform:8080"),
        ("PLATFORM_URL", "ftp://platform"),
        ("PLATFORM_URL", "http://user:pw@platform"),
        ("MOLECULE_GIT_HOSTS", "https://github.com"),
        ("MOLECULE_GIT_HOSTS", "git hub.com"),
    ];
    for (name, value) in cases {
        let err = resolve_with(&Flags::default(), &[(name, value)]).unwrap_err();
        assert!(err.0.contains(name), "{name}={value}: {err}");
    }
    let args = Flags {
        timeout: Some("soon".into()),
        ..Flags::default()
    };
    let err = resolve_with(&args, &[]).unwrap_err();
    assert!(err.0.contains("--timeout"), "{err}");
}

#[test]
fn serves_hosts_case_insensitively_with_ports_significant() {
    let s = resolve_with(
        &Flags::default(),
        &[("MOLECULE_GIT_HOSTS", "github.com,ghe.example:8443")],
    )
    .unwrap();
    assert!(s.serves_host("GitHub.COM"));
    assert!(s.serves_host("ghe.example:8443"));
    assert!(!s.serves_host("github.com:443"));
    assert!(!s.serves_host("ghe.example"));
    assert!(!s.serves_host("gitlab.com"));
    assert!(!s.serves_host("github.com.evil.example"));
}

#[test]
fn helper_flags_keep_flags_only() {
    let env = [
        ("PLATFORM_URL", "http://from-env:1"),
        ("MOLECULE_TOKEN_TIMEOUT", "7"),
    ];
    let none = Flags::default();
    let s = resolve_with(&none, &env).unwrap();
    assert_eq!(
        HelperFlags::new(&none, &s).unwrap().to_args(),
        Vec::<String>::new()
    );

    let args = Flags {
        platform_url: Some("http://p.example:8080/".into()),
        configs_dir: Some("rel/configs".into()),
        hosts: vec![
            "GitHub.com".into(),
            "ghe.example:8443".into(),
            "github.com".into(),
        ],
        secret_hosts: vec!["Git.Example:3000=GITEA_TOKEN".into()],
        cache_dir: Some("/c".into()),
        no_cache: true,
        timeout: Some("2.5".into()),
        refresh_window: Some("60".into()),
        verbose: true,
        journal: Some("/j/journal.jsonl".into()),
        // Asked per command: never in a helper line.
        narrow: NarrowFlags {
            permissions: Some("contents:read".into()),
            repositories: None,
            per_repository: true,
        },
    };
    let s = resolve_with(&args, &env).unwrap();
    let configs = std::env::current_dir().unwrap().join("rel/configs");
    assert_eq!(
        HelperFlags::new(&args, &s).unwrap().to_args(),
        [
            "--host",
            "github.com",
            "--host",
            "ghe.example:8443",
            "--secret-host",
            "git.example:3000=GITEA_TOKEN",
            "--platform-url",
            "http://p.example:8080",
            "--configs-dir",
            configs.to_str().unwrap(),
            "--cache-dir",
            "/c",
            "--no-cache",
            "--timeout",
            "2.5",
            "--refresh-window",
            "60",
            "--journal",
            "/j/journal.jsonl",
        ]
    );
}

#[test]
fn wrappers_get_the_secret_hosts_and_what_they_depend_on() {
    let flags = HelperFlags {
        hosts: vec!["a".into()],
        timeout: Some("5".into()),
        ..HelperFlags::default()
    };
    assert!(flags.for_wrapper().to_args().is_empty());
    let flags = HelperFlags {
        hosts: vec!["a".into()],
        secret_hosts: vec![SecretHost {
            host: "g".into(),
            name: "T".into(),
        }],
        no_cache: true,
        configs_dir: Some("/c".into()),
        timeout: Some("5".into()),
        ..HelperFlags::default()
    };
    assert_eq!(
        flags.for_wrapper().to_args(),
        ["--host", "a", "--secret-host", "g=T", "--configs-dir", "/c"]
    );
}

#[test]
fn secret_hosts_from_the_environment_or_flags() {
    let s = resolve_with(&Flags::default(), &[]).unwrap();
    assert_eq!(s.secret_hosts, []);
    let env = [(
        "MOLECULE_SECRET_HOSTS",
        " Git.Example.test=GITEA_TOKEN, ,other.test:3000=other.token-2,git.example.test=GITEA_TOKEN",
    )];
    let s = resolve_with(&Flags::default(), &env).unwrap();
    let secret = |host: &str, name: &str| SecretHost {
        host: host.into(),
        name: name.into(),
    };
    assert_eq!(
        s.secret_hosts,
        [
            secret("git.example.test", "GITEA_TOKEN"),
            secret("other.test:3000", "other.token-2")
        ]
    );
    assert_eq!(s.hosts, ["github.com"]);
    assert_eq!(
        s.secret_path(&s.secret_hosts[0]),
        PathBuf::from("/configs/secrets.d/GITEA_TOKEN")
    );
    assert_eq!(s.secret_host("GIT.example.TEST"), Some(&s.secret_hosts[0]));
    assert_eq!(s.secret_host("git.example.test:3000"), None);
    assert_eq!(s.secret_host("github.com"), None);
    assert!(!s.serves_host("git.example.test"));
    assert_eq!(
        s.all_hosts(),
        ["github.com", "git.example.test", "other.test:3000"]
    );

    // Flags win over the environment, as for every setting.
    let args = Flags {
        secret_hosts: vec!["a.test=A".into()],
        ..Flags::default()
    };
    let s = resolve_with(&args, &env).unwrap();
    assert_eq!(s.secret_hosts, [secret("a.test", "A")]);
}

#[test]
fn invalid_secret_hosts_name_their_source() {
    for value in [
        "git.example.test",
        "git.example.test=",
        "git.example.test= ",
        "=GITEA_TOKEN",
        "https://git.example.test=GITEA_TOKEN",
        "git.example.test=../.auth_token",
        "git.example.test=..",
        "git.example.test=.",
        "git.example.test=a..b",
        "git.example.test=sub/GITEA_TOKEN",
        "git.example.test=/etc/passwd",
        "git.example.test=TOKEN WITH SPACE",
        "git.example.test=tökén",
        "git.example.test=A,other.test",
    ] {
        let err = resolve_with(&Flags::default(), &[("MOLECULE_SECRET_HOSTS", value)]).unwrap_err();
        assert!(err.0.contains("MOLECULE_SECRET_HOSTS"), "{value}: {err}");
        let args = Flags {
            secret_hosts: vec![value.into()],
            ..Flags::default()
        };
        let err = resolve_with(&args, &[]).unwrap_err();
        assert!(err.0.contains("--secret-host"), "{value}: {err}");
    }
    // One host, two secrets.
    let err = resolve_with(
        &Flags::default(),
        &[("MOLECULE_SECRET_HOSTS", "g.test=A,G.test=B")],
    )
    .unwrap_err();
    assert!(
        err.0.contains("MOLECULE_SECRET_HOSTS names g.test twice"),
        "{err}"
    );
}

#[test]
fn a_host_is_served_from_the_platform_or_a_secret_not_both() {
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Flags, Vars, &str, &str); 4] = [
        (
            Flags::default(),
            &[
                ("MOLECULE_GIT_HOSTS", "github.com,git.example.test"),
                ("MOLECULE_SECRET_HOSTS", "Git.Example.Test=GITEA_TOKEN"),
            ],
            "MOLECULE_GIT_HOSTS",
            "MOLECULE_SECRET_HOSTS",
        ),
        (
            Flags {
                hosts: vec!["git.example.test".into()],
                secret_hosts: vec!["git.example.test=GITEA_TOKEN".into()],
                ..Flags::default()
            },
            &[],
            "--host",
            "--secret-host",
        ),
        // The default platform host counts too.
        (
            Flags::default(),
            &[("MOLECULE_SECRET_HOSTS", "github.com=GH_PAT")],
            "the default of --host",
            "MOLECULE_SECRET_HOSTS",
        ),
        (
            Flags {
                secret_hosts: vec!["github.com=GH_PAT".into()],
                ..Flags::default()
            },
            &[],
            "the default of --host",
            "--secret-host",
        ),
    ];
    for (args, env, hosts_source, secret_source) in cases {
        let err = resolve_with(&args, env).unwrap_err();
        assert!(
            err.0.contains(hosts_source) && err.0.contains(secret_source),
            "{err}"
        );
        assert!(err.0.contains("a host is served one way"), "{err}");
    }
    // Disjoint is fine, and the default stays when other hosts are secret.
    let s = resolve_with(
        &Flags::default(),
        &[("MOLECULE_SECRET_HOSTS", "github.com:8443=GH_PAT")],
    )
    .unwrap();
    assert_eq!(s.hosts, ["github.com"]);
}

#[test]
fn durations() {
    assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    for bad in ["", "s", "1e3", "-1", "1m", "1.2.3", "inf", "NaN"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}
