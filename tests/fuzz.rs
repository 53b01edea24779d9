//! Fuzzing, the stable-Rust way: property tests (proptest) for the two
//! functions that take bytes from outside, git's request
//! ([`protocol::read_request`]) and the platform's JSON ([`decode`]).
//!
//! The properties:
//! - neither panics, whatever the bytes;
//! - no field of an accepted request holds CR, LF or NUL, and a refusal is
//!   one line;
//! - the request reader never reads more than its 64 KiB bound (plus the one
//!   byte that shows the input is larger), even from an endless input;
//! - an accepted token passes [`secret::validate`], its expiry is later than
//!   `now` and can be written as RFC 3339 (and read back to the same second),
//!   a refusal is one line and never quotes the token;
//! - the answer to git for an accepted token is exactly its two or three
//!   lines, and git's format reads it back unchanged;
//! - `url=` is split where git splits it: the host, before decoding, never
//!   holds `@`, `/`, `?` or `#`.
//!
//! Each property runs `FUZZ_CASES` cases (a small default, so `cargo test`
//! stays fast), or, with `FUZZ_SECONDS=N`, batches of fresh random cases for
//! N seconds; `.ci/run` does the latter (`cargo test --test fuzz`). A failure shows the smallest input
//! proptest could shrink it to: fix the bug and keep that input as a unit
//! test next to the code it broke (as
//! `protocol::tests::refuses_line_breaks_and_nul_in_kept_values` and
//! `token::tests::rfc3339_only_what_utc_can_write` do).

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use molecule_git_token_helper::git::protocol::{
    self, MAX_REQUEST, Request, RequestError, TOKEN_USERNAME,
};
use molecule_git_token_helper::git::url;
use molecule_git_token_helper::secret::{self, Secret};
use molecule_git_token_helper::token;
use molecule_git_token_helper::token::answer::decode;

/// 2026-11-23T12:34:56Z, a realistic "now".
const NOW: i64 = 1_795_437_296;

/// Put into generated tokens: no refusal may quote it.
const MARKER: &str = "SeCrEt";

/// Run `property` on values from `strategy`: `FUZZ_CASES` cases (default
/// `default_cases`), again and again with fresh random cases while
/// `FUZZ_SECONDS` have not passed. Panics with proptest's shrunk input.
///
/// The property says whether the input was accepted (the branch with the
/// most to check): at least `min_accepted` percent must be, or the
/// generator has stopped reaching that branch.
fn fuzz<S>(
    name: &str,
    default_cases: u32,
    min_accepted: u64,
    strategy: S,
    property: impl Fn(S::Value) -> Result<bool, TestCaseError>,
) where
    S: Strategy,
    S::Value: fmt::Debug,
{
    let number = |var: &str| {
        std::env::var(var).ok().map(|text| {
            text.trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{var} must be a whole number, not {text:?}"))
        })
    };
    let cases = number("FUZZ_CASES").map_or(default_cases, |n| n.clamp(1, u32::MAX.into()) as u32);
    let budget = number("FUZZ_SECONDS").map(Duration::from_secs);
    let start = Instant::now();
    let (total, accepted) = (Cell::new(0u64), Cell::new(0u64));
    let counted = |value| {
        let ok = property(value)?;
        total.set(total.get() + 1);
        accepted.set(accepted.get() + u64::from(ok));
        Ok(())
    };
    loop {
        let mut runner = TestRunner::new(Config {
            cases,
            // Failures are kept as named unit tests, not in files.
            failure_persistence: None,
            ..Config::default()
        });
        if let Err(e) = runner.run(&strategy, counted) {
            panic!("fuzz {name}: {e}");
        }
        if budget.is_none_or(|b| start.elapsed() >= b) {
            break;
        }
    }
    let (total, accepted) = (total.get(), accepted.get());
    eprintln!(
        "fuzz {name}: {total} cases, {accepted} accepted, in {:.1} s: no failure",
        start.elapsed().as_secs_f64()
    );
    assert!(
        total < 200 || accepted * 100 >= min_accepted * total,
        "fuzz {name}: only {accepted} of {total} inputs were accepted; \
         the generator no longer reaches what the property checks"
    );
}

/// Bytes that show as `b"..."` when proptest reports a failing input.
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

fn concat(parts: Vec<Vec<u8>>) -> Vec<u8> {
    parts.concat()
}

fn bytes_of(texts: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    select(texts).prop_map(|t| t.as_bytes().to_vec())
}

fn raw_bytes_of(texts: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    select(texts).prop_map(<[u8]>::to_vec)
}

// ---------------------------------------------------------------------------
// git's request

/// The keys git sends (and a few it may send one day).
const KEYS: &[&str] = &[
    "protocol",
    "host",
    "path",
    "username",
    "password",
    "url",
    "capability[]",
    "wwwauth[]",
    "password_expiry_utc",
    "oauth_refresh_token",
    "authtype",
    "credential",
    "ephemeral",
    "state[]",
    "continue",
];

/// A piece of a value: plain text, or something that breaks lines, splits
/// keys, escapes, or is not UTF-8.
fn value_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-zA-Z0-9._~-]{1,8}".prop_map(String::into_bytes),
        3 => bytes_of(&[
            "\r", "\n", "\r\n", "\0", "=", "==", " ", "\t", "%", "%0a", "%0A", "%0d", "%0D",
            "%00", "%2F", "%40", "%3A", "%25", "%g1", "%a", "@", ":", "/", "\u{2028}", "é",
            "\u{feff}", "\x7f", "\x1b",
        ]),
        1 => vec(0x80u8.., 1..4),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    vec(value_piece(), 0..6).prop_map(concat)
}

/// A piece of a URL component: text, a %-escape (some that decode to CR, LF,
/// NUL, `/`, `@`, `:` or non-UTF-8), a delimiter, or any value piece.
fn url_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-zA-Z0-9.-]{1,8}".prop_map(String::into_bytes),
        2 => "%[0-9a-fA-F]{2}".prop_map(String::into_bytes),
        2 => bytes_of(&[
            "%0a", "%0d", "%00", "%0D%0A", "%ff", "%c3%a9", "%e2%80%a8", "%", "%4", "%%",
            "@", ":", "/", "[::1]", "?", "#", "%40", "%3a", "%2f",
        ]),
        1 => value_piece(),
    ]
}

fn url_part(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(url_piece(), 0..max).prop_map(concat)
}

/// `scheme://[user[:password]@]host[:port][/path]`, and things near it.
fn url() -> impl Strategy<Value = Vec<u8>> {
    let scheme = bytes_of(&[
        "https", "https", "HTTPS", "http", "ssh", "git", "file", "h", "", "ht tps", "git+ssh",
    ]);
    let separator = bytes_of(&["://", "://", "://", ":/", ":", "//", ":///", ""]);
    let userinfo = prop_oneof![
        2 => Just(Vec::new()),
        1 => (url_part(3), "@").prop_map(|(u, at)| [u, at.into_bytes()].concat()),
        1 => (url_part(3), url_part(3), select(&["@", "@@", "@x@"][..]))
            .prop_map(|(u, p, at)| [u, b":".to_vec(), p, at.as_bytes().to_vec()].concat()),
    ];
    let host = prop_oneof![
        3 => bytes_of(&["github.com", "GitHub.COM", "ghe.example", "[::1]", "127.0.0.1", ""]),
        2 => url_part(4),
    ];
    let port = bytes_of(&["", "", ":443", ":8443", ":", ":0", ":65536", ":abc", ":-1"]);
    let path = prop_oneof![
        2 => bytes_of(&["", "/", "/o/r.git", "//", "/?q=1#f", "/a%20b", "/%0a", "/%00"]),
        1 => url_part(4).prop_map(|p| [b"/".to_vec(), p].concat()),
    ];
    (scheme, separator, userinfo, host, port, path)
        .prop_map(|(s, sep, u, h, port, p)| [s, sep, u, h, port, p].concat())
}

/// One line's content, without its ending.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![
        8 => select(KEYS).prop_map(|k| k.as_bytes().to_vec()),
        1 => vec(value_piece(), 0..2).prop_map(concat),
    ];
    prop_oneof![
        6 => (key, value()).prop_map(|(k, v)| [k, b"=".to_vec(), v].concat()),
        3 => url().prop_map(|u| [b"url=".to_vec(), u].concat()),
        1 => value(),
    ]
}

/// Lines with LF, CRLF, CR or no ending; then a blank line, or end of input
/// (after a whole line or not), or a blank line and garbage after it.
fn request_lines() -> impl Strategy<Value = Bytes> {
    let ending = bytes_of(&["\n", "\n", "\n", "\r\n", "\r", ""]);
    const ENDS: &[&[u8]] = &[b"", b"\n", b"\n", b"\r\n", b"\nafter=\0\xff", b"\r\r\n"];
    let end = raw_bytes_of(ENDS);
    (vec((line(), ending), 0..8), end).prop_map(|(lines, end)| {
        let mut out = Vec::new();
        for (line, ending) in lines {
            out.extend(line);
            out.extend(ending);
        }
        out.extend(end);
        Bytes(out)
    })
}

/// Bytes with the parser's delimiters overrepresented.
fn request_bytes() -> impl Strategy<Value = Bytes> {
    let byte = prop_oneof![
        3 => any::<u8>(),
        2 => select(&b"=\n\r\0%@:/ah"[..]),
    ];
    prop_oneof![
        vec(any::<u8>(), 0..512).prop_map(Bytes),
        vec(byte, 0..512).prop_map(Bytes),
    ]
}

/// No field of an accepted request holds CR, LF or NUL; a refusal is one line.
fn check_request(result: Result<Request, RequestError>) -> Result<bool, TestCaseError> {
    let accepted = result.is_ok();
    match result {
        Ok(r) => {
            let fields = [
                ("protocol", r.protocol.as_deref()),
                ("host", r.host.as_deref()),
                ("path", r.path.as_deref()),
                ("username", r.username.as_deref()),
                ("password", r.password.as_ref().map(Secret::expose)),
                ("password_expiry_utc", r.password_expiry_utc.as_deref()),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    prop_assert!(
                        !value.contains(['\r', '\n', '\0']),
                        "{} = {:?} holds CR, LF or NUL",
                        name,
                        value
                    );
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(!message.contains(['\r', '\n', '\0']), "{:?}", message);
        }
    }
    Ok(accepted)
}

#[test]
fn request_from_arbitrary_bytes() {
    fuzz(
        "request_from_arbitrary_bytes",
        256,
        0,
        request_bytes(),
        |b| check_request(protocol::read_request(&b.0[..])),
    );
}

/// `url=` is split as git's `credential_from_url` splits it: the user part
/// ends at the first `@` of the authority, the authority at the first of
/// `/`, `?`, `#`. Whatever the URL, the raw host never holds `@`, `/`, `?` or
/// `#` (so `https://evil.test#@github.com/` can never name github.com), the
/// raw pieces put back together are the URL, and the host served is the raw
/// host percent-decoded.
#[test]
fn url_splitting_ends_the_host_where_git_does() {
    fuzz("url_splitting", 256, 15, url(), |u| {
        let text = String::from_utf8_lossy(&u).into_owned();
        let Some(raw) = url::split_raw_credential_url(&text) else {
            prop_assert!(
                !text.contains("://") || text.starts_with("://"),
                "{:?}",
                text
            );
            return Ok(false);
        };
        let delimiters = ['@', '/', '?', '#'];
        if let Some(user) = raw.userinfo {
            prop_assert!(!user.contains(delimiters), "user {:?} of {:?}", user, text);
        }
        prop_assert!(
            raw.rest.is_empty() || raw.rest.starts_with(['/', '?', '#']),
            "{:?}",
            text
        );
        let split = url::split_credential_url(&text).expect("split as raw");
        let Some(host) = raw.host else {
            prop_assert_eq!(split.host, None);
            return Ok(false);
        };
        prop_assert!(!host.contains(delimiters), "host {:?} of {:?}", host, text);
        let user = raw.userinfo.map(|u| format!("{u}@")).unwrap_or_default();
        prop_assert_eq!(
            format!("{}://{user}{host}{}", raw.protocol, raw.rest),
            text.clone()
        );
        prop_assert_eq!(split.host, Some(url::percent_decode(host)));
        Ok(true)
    });
}

#[test]
fn request_from_key_value_lines() {
    fuzz(
        "request_from_key_value_lines",
        512,
        10,
        request_lines(),
        |b| {
            let accepted = check_request(protocol::read_request(&b.0[..]))?;
            // The verbatim reader accepts the same and returns a prefix of it.
            match protocol::read_request_verbatim(&b.0[..]) {
                Ok((request, raw)) => {
                    prop_assert!(b.0.starts_with(&raw));
                    prop_assert_eq!(Ok(request), protocol::read_request(&b.0[..]));
                }
                Err(e) => prop_assert_eq!(Err(e), protocol::read_request(&b.0[..])),
            }
            Ok(accepted)
        },
    );
}

/// A request of clean `key=value` lines (no url=) reads as the last value of
/// each key, whatever the line endings and unknown keys.
#[test]
fn request_of_clean_lines_reads_as_written() {
    let key = prop_oneof![
        3 => select(KEYS).prop_filter("no url=", |k| *k != "url").prop_map(str::to_string),
        1 => "[a-z_\\[\\]]{1,12}".prop_filter("no url=", |k| k != "url"),
    ];
    let pairs = vec(
        (key, "[^\\r\\n\\x00]{0,12}", select(&["\n", "\r\n"][..])),
        0..10,
    );
    let end = select(&["", "\n", "\r\n"][..]);
    fuzz(
        "request_of_clean_lines",
        256,
        100,
        (pairs, end),
        |(pairs, end)| {
            let mut text = String::new();
            let mut want = Request::default();
            for (key, value, ending) in &pairs {
                text.push_str(&format!("{key}={value}{ending}"));
                let value = Some(value.clone());
                match key.as_str() {
                    "protocol" => want.protocol = value,
                    "host" => want.host = value,
                    "path" => want.path = value,
                    "username" => want.username = value,
                    "password" => want.password = value.map(Secret::new),
                    "password_expiry_utc" => want.password_expiry_utc = value,
                    _ => {}
                }
            }
            text.push_str(end);
            prop_assert_eq!(protocol::read_request(text.as_bytes()), Ok(want));
            Ok(true)
        },
    );
}

/// An input that never ends: `prefix`, then `unit` forever, in reads of at
/// most `chunk` bytes, some of them interrupted. Counts what it hands out.
/// (Past four times the bound it fails the read, so that a reader that
/// ignores the bound fails the test instead of eating all memory.)
struct Endless {
    prefix: Vec<u8>,
    unit: Vec<u8>,
    chunk: usize,
    interrupt_every: Option<u32>,
    calls: u32,
    given: usize,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self
            .interrupt_every
            .is_some_and(|n| self.calls.is_multiple_of(n))
        {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.given > 4 * MAX_REQUEST {
            return Err(io::Error::other("read far past the bound"));
        }
        let n = buf.len().min(self.chunk);
        for byte in &mut buf[..n] {
            *byte = match self.prefix.get(self.given) {
                Some(&b) => b,
                None => self.unit[(self.given - self.prefix.len()) % self.unit.len()],
            };
            self.given += 1;
        }
        Ok(n)
    }
}

/// Counted as accepted here: the inputs that ran into the bound.
#[test]
fn request_reading_stops_at_the_bound_of_an_endless_input() {
    let unit = prop_oneof![
        3 => bytes_of(&["a", "host=x\n", "=\r\n", "url=https://h/\n", "\r", "x=\n\n", "\0"]),
        1 => vec(any::<u8>(), 1..64),
    ];
    let chunk = prop_oneof![Just(1usize), Just(8192), Just(1 << 20), 1usize..10_000];
    let interrupt = prop_oneof![Just(None), (2u32..50).prop_map(Some)];
    let prefix = prop_oneof![
        2 => bytes_of(&["", "protocol=https\nhost=github.com\n", "host=a", "url=https://h/", "password="])
            .prop_map(Bytes),
        1 => request_lines(),
    ];
    let input = (prefix, unit, chunk, interrupt);
    fuzz(
        "request_endless_input",
        32,
        30,
        input,
        |(prefix, unit, chunk, interrupt_every)| {
            let mut input = Endless {
                prefix: prefix.0,
                unit,
                chunk,
                interrupt_every,
                calls: 0,
                given: 0,
            };
            let result = protocol::read_request(&mut input);
            prop_assert!(
                input.given <= MAX_REQUEST + 1,
                "read {} bytes, the bound is {}",
                input.given,
                MAX_REQUEST
            );
            let at_the_bound = result == Err(RequestError::TooLarge);
            check_request(result)?;
            Ok(at_the_bound)
        },
    );
}

// ---------------------------------------------------------------------------
// The answer to git

/// The answer to git for `secret` and `expiry` is exactly its lines, none
/// holding CR or NUL, and git's format reads it back unchanged.
fn check_response(secret: &Secret, expiry: Option<i64>) -> Result<bool, TestCaseError> {
    let out = protocol::credential_response(TOKEN_USERNAME, secret, expiry);
    let mut want = vec![
        format!("username={TOKEN_USERNAME}"),
        format!("password={}", secret.expose()),
    ];
    want.extend(expiry.map(|e| format!("password_expiry_utc={e}")));
    prop_assert_eq!(out.last(), Some(&b'\n'));
    let lines: Vec<&[u8]> = out[..out.len() - 1].split(|&b| b == b'\n').collect();
    prop_assert_eq!(lines.len(), want.len(), "{:?}", Bytes(out.clone()));
    for (line, want) in lines.iter().zip(&want) {
        prop_assert_eq!(*line, want.as_bytes());
        prop_assert!(!line.contains(&b'\r') && !line.contains(&0), "{:?}", want);
    }
    let back = protocol::read_request(&out[..]);
    prop_assert_eq!(
        back,
        Ok(Request {
            username: Some(TOKEN_USERNAME.into()),
            password: Some(secret.clone()),
            password_expiry_utc: expiry.map(|e| e.to_string()),
            ..Request::default()
        })
    );
    Ok(true)
}

#[test]
fn response_for_any_accepted_token_is_exactly_its_lines() {
    let secret = prop_oneof![
        3 => "[!-~]{1,64}",
        2 => "[!-~]{0,8}[\\r\\n\\x00 \\t\\x7f\\x{85}\\x{2028}é][!-~]{0,8}",
        1 => any::<String>(),
    ];
    fuzz(
        "response_lines",
        512,
        30,
        (secret, any::<Option<i64>>()),
        |(secret, expiry)| {
            if secret::validate(&secret).is_err() {
                return Ok(false);
            }
            check_response(&Secret::new(secret), expiry)
        },
    );
}

// ---------------------------------------------------------------------------
// The platform's JSON

/// An accepted token is valid, expires after `now` (if it says), has an
/// expiry that RFC 3339 can write, and makes a clean answer to git; a
/// refusal is one line and never quotes the token.
fn check_decoded(body: &[u8], now: i64) -> Result<bool, TestCaseError> {
    match decode(body, now) {
        Ok(t) => {
            prop_assert_eq!(secret::validate(t.secret.expose()), Ok(()));
            if let Some(expiry) = t.expires_at {
                prop_assert!(expiry > now, "expiry {} is not after now {}", expiry, now);
                let text = token::format_rfc3339(expiry);
                prop_assert_eq!(
                    token::parse_rfc3339(&text),
                    Some(expiry),
                    "expiry {} is written as {:?}",
                    expiry,
                    text
                );
            }
            check_response(&t.secret, t.expires_at)
        }
        Err(why) => {
            prop_assert!(!why.contains(['\r', '\n', '\0']), "{:?}", why);
            prop_assert!(!why.contains(MARKER), "{:?}", why);
            Ok(false)
        }
    }
}

fn now() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => Just(NOW),
        1 => select(&[0, -1, i64::MIN, i64::MAX, 253_402_300_799, -62_167_219_200][..]),
        1 => any::<i64>(),
    ]
}

/// What goes between the quotes of a JSON string: text, escapes (valid,
/// lone surrogates, broken), raw control characters, non-UTF-8.
fn string_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[!-~&&[^\"\\\\]]{1,12}".prop_map(String::into_bytes),
        2 => Just(MARKER.as_bytes().to_vec()),
        3 => bytes_of(&[
            "\\u0000", "\\n", "\\r", "\\t", "\\b", "\\f", "\\u2028", "\\u2029", "\\u0085",
            "\\\"", "\\\\", "\\/", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u0041",
            "\\u007f", "\\u0020", "\\u00e9", "\\x41", "\\", "\\u12", "\\uZZZZ", "\\U0041",
            " ", "\t", "\u{2028}", "é",
        ]),
        1 => (0u8..0x20).prop_map(|b| vec![b]),
        1 => raw_bytes_of(NOT_UTF8),
    ]
}

/// A stray byte, a cut sequence, an encoded surrogate, a code point past U+10FFFF.
const NOT_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\x80",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
];

fn json_string() -> impl Strategy<Value = Vec<u8>> {
    vec(string_piece(), 0..6)
        .prop_map(|pieces| [b"\"".to_vec(), pieces.concat(), b"\"".to_vec()].concat())
}

/// A token as the platform would send it, most of the time.
fn token_string() -> impl Strategy<Value = Vec<u8>> {
    "ghs_[A-Za-z0-9]{0,36}".prop_map(|t| format!("\"{t}{MARKER}\"").into_bytes())
}

/// A timestamp near RFC 3339: edge years, months, days, leap seconds,
/// fractions, offsets, separators.
fn rfc3339() -> impl Strategy<Value = String> {
    fn two(range: std::ops::Range<u32>) -> BoxedStrategy<String> {
        range.prop_map(|n| format!("{n:02}")).boxed()
    }
    fn or(edges: &'static [&'static str], usual: BoxedStrategy<String>) -> BoxedStrategy<String> {
        prop_oneof![1 => select(edges).prop_map(str::to_string), 2 => usual].boxed()
    }
    let year = or(
        &[
            "0000", "0001", "1969", "1970", "2000", "2024", "2026", "2038", "2100", "9999", "9999",
            "10000", "999", "+2026", "-001",
        ],
        (0u32..10_000).prop_map(|y| format!("{y:04}")).boxed(),
    );
    let month = or(&["00", "01", "02", "12", "12", "13", "1", "99"], two(1..13));
    let day = or(
        &["00", "01", "28", "29", "30", "31", "31", "32"],
        two(1..32),
    );
    let hour = or(&["00", "23", "23", "24", "99"], two(0..24));
    let minute = or(&["00", "59", "59", "60"], two(0..60));
    let second = or(&["00", "59", "59", "60", "61"], two(0..60));
    let fraction = select(
        &[
            "",
            "",
            "",
            ".0",
            ".5",
            ".999999999",
            ".1234567890123",
            ".",
            ".Z",
        ][..],
    );
    let separator = select(&["T", "T", "T", "t", " ", "_", ""][..]);
    let offset = or(
        &[
            "Z", "Z", "z", "+00:00", "-00:00", "+23:59", "-23:59", "-23:59", "+24:00", "-01:00",
            "+0100", "+1", "", "UTC",
        ],
        (-23i32..=23, 0u32..60)
            .prop_map(|(h, m)| format!("{h:+03}:{m:02}"))
            .boxed(),
    );
    (
        year, month, day, separator, hour, minute, second, fraction, offset,
    )
        .prop_map(|(y, mo, d, sep, h, mi, s, frac, off)| {
            format!("{y}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{off}")
        })
}

/// Any JSON value, and some near-JSON: odd numbers, escapes, nesting.
fn json_value() -> impl Strategy<Value = Vec<u8>> {
    let scalar = prop_oneof![
        2 => bytes_of(&[
            "null", "true", "false", "0", "-0", "1", "1795440896", "-1", "1e400", "-1e400",
            "1e-400", "18446744073709551616", "9223372036854775807", "-9223372036854775809",
            "1.5", "0.1e1", "01", "1.", "-", "+1", "NaN", "Infinity", "0x10", "nul", "tru",
            "\"\"",
        ]),
        1 => any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        1 => any::<f64>().prop_map(|n| n.to_string().into_bytes()),
        2 => json_string(),
        1 => token_string(),
        2 => rfc3339().prop_map(|t| format!("\"{t}\"").into_bytes()),
    ];
    scalar.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|items| [
                b"[".to_vec(),
                items.join(&b","[..]),
                b"]".to_vec()
            ]
            .concat()),
            vec((json_key(), inner), 0..4).prop_map(object),
        ]
    })
}

fn json_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => bytes_of(&[
            "\"token\"", "\"expires_at\"", "\"tok\\u0065n\"", "\"expires\\u005fat\"",
            "\"TOKEN\"", "\"expiresAt\"", "\"extra\"", "\"\"", "token",
        ]),
        1 => json_string(),
    ]
}

fn object(members: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<u8> {
    let members: Vec<Vec<u8>> = members
        .into_iter()
        .map(|(k, v)| [k, b":".to_vec(), v].concat())
        .collect();
    [b"{".to_vec(), members.join(&b","[..]), b"}".to_vec()].concat()
}

/// The platform's answer and things near it: an object with `token` and
/// `expires_at` (each of every JSON type, or missing) among other members,
/// in any order, sometimes twice; or another JSON value; whitespace, a BOM
/// or garbage around it; sometimes cut short.
fn platform_body() -> impl Strategy<Value = Bytes> {
    let token = prop_oneof![4 => token_string(), 2 => json_string(), 1 => json_value()];
    let expires_at = prop_oneof![
        3 => (1i64..400 * 86_400).prop_map(|ahead| token::format_rfc3339(NOW + ahead)),
        3 => rfc3339(),
    ]
    .prop_map(|t| format!("\"{t}\"").into_bytes());
    let expires_at = prop_oneof![5 => expires_at, 1 => json_value()];
    let members = (
        prop::option::weighted(0.9, token),
        prop::option::weighted(0.7, expires_at),
        vec((json_key(), json_value()), 0..3),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
    );
    let object = members.prop_map(|(token, expires_at, mut members, t, e)| {
        if let Some(v) = expires_at {
            members.insert(e.index(members.len() + 1), (b"\"expires_at\"".to_vec(), v));
        }
        if let Some(v) = token {
            members.insert(t.index(members.len() + 1), (b"\"token\"".to_vec(), v));
        }
        object(members)
    });
    let value = prop_oneof![6 => object, 1 => json_value()];
    let around = || {
        prop_oneof![
            8 => bytes_of(&["", "", "", " ", "\n", "\r\n\t "]),
            1 => bytes_of(&["\u{feff}", "x", ",", "}", "{}", "\0", "\x0c"]),
        ]
    };
    let cut = prop_oneof![5 => Just(None), 1 => any::<prop::sample::Index>().prop_map(Some)];
    (around(), value, around(), cut).prop_map(|(before, value, after, cut)| {
        let mut body = [before, value, after].concat();
        if let Some(at) = cut {
            body.truncate(at.index(body.len() + 1));
        }
        Bytes(body)
    })
}

#[test]
fn decode_arbitrary_bytes() {
    fuzz(
        "decode_arbitrary_bytes",
        256,
        0,
        (vec(any::<u8>(), 0..512).prop_map(Bytes), now()),
        |(body, now)| check_decoded(&body.0, now),
    );
}

#[test]
fn decode_json_of_every_shape() {
    fuzz(
        "decode_json",
        512,
        5,
        (platform_body(), now()),
        |(body, now)| check_decoded(&body.0, now),
    );
}

/// A good token with an `expires_at` near or at the edges of RFC 3339.
/// Counted as accepted here: the tokens accepted with an expiry.
#[test]
fn decode_expiry_dates_at_the_edges() {
    let body = (token_string(), rfc3339()).prop_map(|(token, at)| {
        Bytes(
            [
                &b"{\"token\":"[..],
                &token,
                format!(",\"expires_at\":\"{at}\"}}").as_bytes(),
            ]
            .concat(),
        )
    });
    fuzz(
        "decode_expiry_dates",
        512,
        8,
        (body, now()),
        |(body, now)| {
            check_decoded(&body.0, now)?;
            Ok(decode(&body.0, now).is_ok_and(|t| t.expires_at.is_some()))
        },
    );
}
