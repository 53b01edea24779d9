//! Outages that never stall git: at most one process waits on a failing
//! platform, the memory of an outage grows while it lasts and ends at the
//! first success, remembered times from the future are stale, and a name
//! server that never answers never holds a command past its deadline.
//! Through the real `git credential fill` where git is the caller.

use std::time::{Duration, Instant};

use crate::support::*;

const URL: &str = "https://github.com/org/repo.git";

/// `f`, and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Rewrite the `NAME VALUE` line of the cache file `name` with `value`.
fn set_field(ws: &Workspace, name: &str, field: &str, value: i64) {
    let path = ws.cache.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let prefix = format!("{field} ");
    assert!(
        text.lines().any(|l| l.starts_with(&prefix)),
        "no {field} line in {name}: {text}"
    );
    let changed: String = text
        .lines()
        .map(|l| match l.starts_with(&prefix) {
            true => format!("{prefix}{value}\n"),
            false => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&path, changed).unwrap();
}

/// The remembered outage happened `ago_ms` ago (negative: in the future).
fn age_failure(ws: &Workspace, ago_ms: i64) {
    set_field(ws, STATE, "outage-ms", now_ms() - ago_ms);
}

/// The platform's state: its outage memory, one for every owner.
const STATE: &str = "platform.state";

/// Whether the platform's state remembers an outage.
fn outage_known(ws: &Workspace) -> bool {
    let text = std::fs::read_to_string(ws.cache.join(STATE)).unwrap_or_default();
    text.lines()
        .any(|l| l.starts_with("outage-ms ") && l != "outage-ms -")
}

/// The number on the `streak` line of the outage memory.
fn streak(ws: &Workspace) -> u32 {
    let text = std::fs::read_to_string(ws.cache.join(STATE)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("streak "))
        .unwrap_or_else(|| panic!("no streak line: {text}"))
        .parse()
        .unwrap()
}

#[test]
fn while_one_process_waits_on_a_hung_platform_the_others_fall_through() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "8");
    ws.platform.set_default(Reply::Hang);
    std::thread::scope(|s| {
        let first = s.spawn(|| timed(|| ws.fill(URL)));
        assert!(
            ws.platform.wait_for_count(1, Duration::from_secs(10)),
            "the first fill never asked the platform"
        );
        // The first is asking a platform that does not answer: the others
        // do not queue behind it (they would wait 8 s, and fail anyway).
        let others: Vec<_> = (0..4).map(|_| s.spawn(|| timed(|| ws.fill(URL)))).collect();
        for other in others {
            let (out, took) = other.join().unwrap();
            out.assert_fallback();
            out.assert_one_error("not waiting for it");
            assert!(took < Duration::from_secs(4), "waited {took:?}: {out:?}");
        }
        let (out, took) = first.join().unwrap();
        out.assert_fallback();
        out.assert_one_error("did not answer within the 8 s deadline");
        assert!(took >= Duration::from_secs(8), "{took:?}");
    });
    assert_eq!(ws.platform.count(), 1, "only the first asked");
}

#[test]
fn while_one_process_asks_again_after_an_outage_the_others_do_not_wait() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "6");
    ws.platform.set_default(Reply::status(500));
    ws.assert_falls_through(URL, "HTTP 500");
    let asked = ws.platform.count();
    // The memory has lapsed, and another process holds the lock: it is
    // asking the platform again. This one answers with the outage at once.
    age_failure(&ws, 60_000);
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(ws.cache.join("token.lock"))
        .unwrap();
    lock.lock().unwrap();
    let (out, took) = timed(|| ws.fill(URL));
    out.assert_fallback();
    out.assert_one_error("HTTP 500");
    assert!(took < Duration::from_secs(3), "waited {took:?}: {out:?}");
    assert_eq!(ws.platform.count(), asked);
    drop(lock);
}

#[test]
fn an_outage_is_remembered_longer_while_it_lasts_and_the_first_success_ends_it() {
    let mut ws = Workspace::new();
    ws.configure_generic();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "1");
    ws.platform.set_default(Reply::status(503));
    ws.assert_falls_through(URL, "HTTP 503");
    assert_eq!(streak(&ws), 1);
    let asked = ws.platform.count();
    // 5 s for the first failure: a moment later nobody asks.
    age_failure(&ws, 3_000);
    ws.assert_falls_through(URL, "HTTP 503");
    assert_eq!(ws.platform.count(), asked, "asked within the 5 s memory");
    // Past it, one process asks again, fails, and the memory doubles.
    age_failure(&ws, 6_000);
    ws.assert_falls_through(URL, "HTTP 503");
    let asked = {
        let now = ws.platform.count();
        assert!(now > asked, "nobody asked after the 5 s memory");
        now
    };
    assert_eq!(streak(&ws), 2);
    age_failure(&ws, 6_000);
    ws.assert_falls_through(URL, "HTTP 503");
    assert_eq!(ws.platform.count(), asked, "asked within the 10 s memory");
    // However long the outage, a minute at most.
    set_field(&ws, STATE, "streak", 40);
    age_failure(&ws, 57_000);
    ws.assert_falls_through(URL, "HTTP 503");
    assert_eq!(ws.platform.count(), asked, "asked within the minute");

    // The platform is back: the first process to ask ends it for everyone.
    ws.platform.set_default(Reply::Token);
    age_failure(&ws, 61_000);
    let token = ws.fill(URL).served_token();
    assert!(!ws.cache.join("token.failed").exists());
    assert!(!outage_known(&ws));
    let asked = ws.platform.count();
    let outs: Vec<Out> = std::thread::scope(|s| {
        let fills: Vec<_> = (0..8).map(|_| s.spawn(|| ws.fill(URL))).collect();
        fills.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in outs {
        assert_eq!(out.served_token(), token);
    }
    assert_eq!(ws.platform.count(), asked);
}

#[test]
fn a_failure_remembered_while_the_clock_was_ahead_never_blocks_a_fetch() {
    let ws = Workspace::new();
    ws.configure_generic();
    ws.platform.set_default(Reply::status(500));
    ws.assert_falls_through(URL, "HTTP 500");
    // The clock was an hour ahead when it failed (an NTP step back, a VM
    // resumed): the platform is healthy now, and is asked.
    ws.platform.set_default(Reply::Token);
    age_failure(&ws, -3_600_000);
    let token = ws.fill(URL).served_token();
    assert_eq!(ws.platform.last_token(), Some(token));
    assert_eq!(ws.platform.count(), 2);
}

#[test]
fn an_entry_fetched_in_the_future_is_not_served() {
    let ws = Workspace::new();
    ws.configure_generic();
    let first = ws.fill(URL).served_token();
    // Fetched "in 200 s": the clock went back, and how old the token is
    // cannot be known. A fresh one is fetched.
    set_field(&ws, "token", "fetched", now_ms() / 1000 + 200);
    let second = ws.fill(URL).served_token();
    assert_ne!(first, second);
    assert_eq!(ws.platform.count(), 2);
    assert_eq!(ws.fill(URL).served_token(), second);
    assert_eq!(ws.platform.count(), 2);
}

#[test]
fn a_token_of_the_longest_accepted_length_is_cached_and_one_longer_is_refused() {
    let ws = Workspace::new();
    ws.configure_generic();
    let long = |n: usize| {
        let mut token = format!("ghs_{}", unique());
        while token.len() < n {
            token.push('a');
        }
        token
    };
    let token = long(4096);
    ws.add_secret(&token);
    ws.platform.push(Reply::TokenWith {
        token: token.clone(),
        expires_at: Some(mock_platform::expires_at_in(3600)),
    });
    assert_eq!(ws.fill(URL).served_token(), token);
    assert_eq!(ws.fill(URL).served_token(), token, "not read back");
    assert_eq!(ws.platform.count(), 1, "not read back from the cache");

    let ws = Workspace::new();
    ws.configure_generic();
    let token = long(4097);
    ws.add_secret(&token);
    ws.platform.push(Reply::TokenWith {
        token,
        expires_at: Some(mock_platform::expires_at_in(3600)),
    });
    ws.assert_falls_through(URL, "longer than 4096 bytes");
}

/// A workspace whose platform is `http://PLATFORM_NAME:PORT` (the mock's
/// port), and a silent name server for it.
fn behind_a_silent_resolver() -> (Workspace, namespace::Resolver) {
    let mut ws = Workspace::new();
    let url = format!("http://{}:{}", namespace::PLATFORM_NAME, ws.platform.port());
    ws.set_env("PLATFORM_URL", url);
    let resolver = namespace::Resolver::silent(&ws.path().join("resolver"));
    (ws, resolver)
}

#[test]
fn a_name_server_that_never_answers_never_holds_a_command_past_its_deadline() {
    let (mut ws, resolver) = behind_a_silent_resolver();
    ws.set_env("MOLECULE_TOKEN_TIMEOUT", "1");
    // The gh proxy: a link named gh, ahead of the real gh on PATH.
    let proxy_dir = ws.path().join("proxy");
    std::fs::create_dir_all(&proxy_dir).unwrap();
    std::os::unix::fs::symlink(BIN, proxy_dir.join("gh")).unwrap();
    let path = format!(
        "{}:{}",
        proxy_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let get = "protocol=https\nhost=github.com\n\n";
    let runs: [(&str, Vec<&str>, &str); 6] = [
        ("get", vec!["get"], get),
        ("fetch-token", vec!["fetch-token"], ""),
        ("exec", vec!["exec", "--", "true"], ""),
        ("status", vec!["status"], ""),
        ("status --probe", vec!["status", "--probe"], ""),
        ("the gh proxy", vec![], ""),
    ];
    for (what, args, stdin) in runs {
        let mut command = if args.is_empty() {
            let mut c = ws.command("gh");
            c.env("PATH", &path).arg("--version");
            c
        } else {
            let mut c = ws.command(BIN);
            c.args(&args);
            c
        };
        resolver.apply(&mut command);
        let (out, took) = timed(|| ws.run(command, stdin));
        // getaddrinfo waits 5 s twice on a silent server; a command that
        // waited for it would take 10 s.
        assert!(
            took < Duration::from_secs(4),
            "{what} took {took:?}: {out:?}"
        );
        // (status prints its checks on stdout.)
        assert!(
            out.stderr.contains(namespace::PLATFORM_NAME)
                || out.stdout.contains(namespace::PLATFORM_NAME),
            "{what} did not name the platform: {out:?}"
        );
    }
    assert_eq!(ws.platform.count(), 0);

    // The name resolves again and the remembered outage has lapsed: served.
    resolver.answer();
    age_failure(&ws, 61_000);
    let mut command = ws.command(BIN);
    command.arg("fetch-token");
    resolver.apply(&mut command);
    let out = ws.run(command, "");
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(ws.platform.count(), 1);
}

// ---- the outage matrix ---------------------------------------------------

/// The ways a platform can be out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Refused,
    Reset,
    Http500,
    Http503,
    Http429,
    Hung,
    SlowBody,
    SilentResolver,
}

const KINDS: [Kind; 8] = [
    Kind::Refused,
    Kind::Reset,
    Kind::Http500,
    Kind::Http503,
    Kind::Http429,
    Kind::Hung,
    Kind::SlowBody,
    Kind::SilentResolver,
];

/// What one kind of outage did to the fills.
struct Outcome {
    kind: Kind,
    fills: Vec<Duration>,
    /// Platform requests seen during the outage.
    requests: usize,
    /// From the platform's return to the first fill it served.
    recovered_after: Duration,
}

impl Outcome {
    fn slow(&self) -> usize {
        self.fills.iter().filter(|d| **d > SLOW).count()
    }

    fn slowest(&self) -> Duration {
        self.fills.iter().copied().max().unwrap_or_default()
    }
}

/// A fill slower than this waited on the platform.
const SLOW: Duration = Duration::from_millis(1500);
/// The matrix's `--timeout`.
const MATRIX_TIMEOUT: Duration = Duration::from_secs(4);
/// The longest an outage is remembered (docs/contract.md).
const MAX_MEMORY: Duration = Duration::from_secs(60);

fn run_outage(kind: Kind) -> Outcome {
    let mut ws = Workspace::new();
    // bench/run.sh measures its release binary with this matrix.
    let bin = std::env::var("OUTAGE_MATRIX_BIN").unwrap_or_else(|_| BIN.to_string());
    ws.write_gitconfig(&format!(
        "[credential]\n\thelper = {bin}\n\thelper = store --file={}\n",
        ws.fallback.display()
    ));
    ws.set_env(
        "MOLECULE_TOKEN_TIMEOUT",
        MATRIX_TIMEOUT.as_secs().to_string(),
    );
    let mut resolver = None;
    let mut refused_port = None;
    match kind {
        Kind::Refused => {
            let port = dead_port();
            ws.set_env("PLATFORM_URL", format!("http://127.0.0.1:{port}"));
            refused_port = Some(port);
        }
        Kind::SilentResolver => {
            let url = format!("http://{}:{}", namespace::PLATFORM_NAME, ws.platform.port());
            ws.set_env("PLATFORM_URL", url);
            resolver = Some(namespace::Resolver::silent(&ws.path().join("resolver")));
        }
        Kind::Reset => ws.platform.set_default(Reply::ResetMidResponse),
        Kind::Http500 => ws.platform.set_default(Reply::status(500)),
        Kind::Http503 => ws.platform.set_default(Reply::status(503)),
        Kind::Http429 => ws.platform.set_default(Reply::Status {
            code: 429,
            headers: vec![("Retry-After".into(), "1".into())],
        }),
        Kind::Hung => ws.platform.set_default(Reply::Hang),
        Kind::SlowBody => ws.platform.set_default(Reply::StallMidBody { sent: 12 }),
    }
    let fill = || {
        let mut c = ws.command("git");
        c.args(["credential", "fill"]);
        if let Some(resolver) = &resolver {
            resolver.apply(&mut c);
        }
        timed(|| ws.run(c, &format!("url={URL}\n\n")))
    };

    // 8 at once, then one every 0.5 s for 12 s (the pacing generates the
    // load; what is checked is counted, not timed against each other).
    let results: Vec<(Out, Duration)> = std::thread::scope(|s| {
        let mut handles: Vec<_> = (0..8).map(|_| s.spawn(fill)).collect();
        for _ in 0..24 {
            handles.push(s.spawn(fill));
            std::thread::sleep(Duration::from_millis(500));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (out, took) in &results {
        assert_eq!(
            out.attr("password").as_deref(),
            Some(FALLBACK_PAT),
            "{kind:?}: a fill did not reach the fallback after {took:?}: {out:?}"
        );
    }
    let requests = ws.platform.count();

    // The platform comes back: the first process to ask after the memory
    // lapses is served, and ends the outage for everyone.
    let back = Instant::now();
    let mut revived = None;
    match kind {
        Kind::Refused => {
            let port = refused_port.expect("a port");
            revived = Some(MockPlatform::start_on(port, &ws.bearer).expect("the refused port"));
        }
        Kind::SilentResolver => resolver.as_ref().expect("a resolver").answer(),
        _ => ws.platform.set_default(Reply::Token),
    }
    loop {
        let (out, _) = fill();
        if out.attr("username").as_deref() == Some("x-access-token") {
            break;
        }
        out.assert_fallback();
        assert!(
            back.elapsed() < MAX_MEMORY + MATRIX_TIMEOUT * 2,
            "{kind:?}: not recovered {:?} after the platform came back",
            back.elapsed()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let recovered_after = back.elapsed();
    // Everyone is served from now on.
    let (out, took) = fill();
    out.served_token();
    assert!(took < SLOW, "{kind:?}: {took:?} after recovery");
    drop(revived);
    Outcome {
        kind,
        fills: results.into_iter().map(|(_, took)| took).collect(),
        requests,
        recovered_after,
    }
}

#[test]
fn the_outage_matrix() {
    // The kinds run side by side (each alone takes about half a minute);
    // their starts are spread a little so that 64 processes do not start
    // in the same instant on a small machine.
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = KINDS
            .iter()
            .map(|&kind| {
                let handle = s.spawn(move || run_outage(kind));
                std::thread::sleep(Duration::from_millis(250));
                handle
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut report = String::from("kind\tfills\tslowest_s\tover_1.5s\trequests\trecovered_s\n");
    for o in &outcomes {
        report.push_str(&format!(
            "{:?}\t{}\t{:.3}\t{}\t{}\t{:.1}\n",
            o.kind,
            o.fills.len(),
            o.slowest().as_secs_f64(),
            o.slow(),
            o.requests,
            o.recovered_after.as_secs_f64()
        ));
    }
    eprint!("{report}");
    // bench/run.sh asks for the figures.
    if let Some(path) = std::env::var_os("OUTAGE_MATRIX_REPORT") {
        std::fs::write(path, &report).unwrap();
    }
    for o in &outcomes {
        assert!(
            o.slow() <= 2,
            "{:?}: {} of {} fills took more than {SLOW:?}\n{report}",
            o.kind,
            o.slow(),
            o.fills.len()
        );
    }
}
