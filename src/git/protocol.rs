//! Git's credential helper format: `key=value` lines, ended by a blank line
//! or end of input. Reading is bounded; writing builds the whole answer in
//! memory so that stdout is written once, whole.

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use crate::git::url::split_credential_url;
use crate::secret::Secret;

/// Requests larger than this are refused.
pub const MAX_REQUEST: usize = 64 * 1024;

/// The attributes of a request that this helper looks at. Unknown keys
/// (`capability[]`, `wwwauth[]`, `authtype`, …) are ignored.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Present when the credential is short-lived (unix seconds, as sent).
    pub password_expiry_utc: Option<String>,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestError {
    TooLarge,
    /// End of input in the middle of a line.
    CutShort,
    Nul,
    /// A line without `=` (1-based line number).
    NoEquals(usize),
    /// A `url=` value git itself would not accept.
    BadUrl(usize),
    /// A value kept from this line holds CR, LF or NUL (after %-decoding).
    LineBreak(usize),
    Io(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::TooLarge => write!(
                f,
                "credential request refused: larger than {} KiB",
                MAX_REQUEST / 1024
            ),
            RequestError::CutShort => {
                f.write_str("credential request refused: input ended in the middle of a line")
            }
            RequestError::Nul => f.write_str("credential request refused: it contains a NUL byte"),
            RequestError::NoEquals(n) => write!(
                f,
                "credential request refused: line {n} is not of the form key=value"
            ),
            RequestError::BadUrl(n) => write!(
                f,
                "credential request refused: the url= on line {n} has no scheme://host"
            ),
            RequestError::LineBreak(n) => write!(
                f,
                "credential request refused: a value on line {n} holds a CR, LF or NUL"
            ),
            RequestError::Io(e) => write!(f, "cannot read the credential request: {e}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Read one request: lines up to a blank line or end of input, at most
/// [`MAX_REQUEST`] bytes. Nothing after the blank line is read.
pub fn read_request(input: impl Read) -> Result<Request, RequestError> {
    read_request_verbatim(input).map(|(request, _)| request)
}

/// As [`read_request`], and also the bytes read, verbatim (the blank line
/// included when there was one), to pass the request on unchanged.
pub fn read_request_verbatim(input: impl Read) -> Result<(Request, Vec<u8>), RequestError> {
    let mut reader = BufReader::new(input.take(MAX_REQUEST as u64 + 1));
    let mut request = Request::default();
    let mut raw = Vec::new();
    let mut line = Vec::new();
    let mut total = 0usize;
    let mut number = 0usize;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| RequestError::Io(crate::diag::io_reason(&e)))?;
        total += n;
        if total > MAX_REQUEST {
            return Err(RequestError::TooLarge);
        }
        if n == 0 {
            return Ok((request, raw)); // end of input after a whole line
        }
        raw.extend_from_slice(&line);
        if line.pop() != Some(b'\n') {
            return Err(RequestError::CutShort);
        }
        if line.last() == Some(&b'\r') {
            line.pop(); // git's own reader accepts CRLF too
        }
        number += 1;
        if line.is_empty() {
            return Ok((request, raw));
        }
        if line.contains(&0) {
            return Err(RequestError::Nul);
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            return Err(RequestError::NoEquals(number));
        };
        let key = &line[..eq];
        let value = String::from_utf8_lossy(&line[eq + 1..]).into_owned();
        match key {
            b"protocol" => request.protocol = Some(value),
            b"host" => request.host = Some(value),
            b"path" => request.path = Some(value),
            b"username" => request.username = Some(value),
            b"password" => request.password = Some(Secret::new(value)),
            b"password_expiry_utc" => request.password_expiry_utc = Some(value),
            // As in git: url= replaces everything read so far.
            b"url" => request = Request::from_url(&value).ok_or(RequestError::BadUrl(number))?,
            _ => {}
        }
        if request.holds_line_break() {
            return Err(RequestError::LineBreak(number));
        }
    }
}

impl Request {
    /// Whether a kept value holds CR, LF or NUL: a bare CR inside a line, or
    /// `%0d`, `%0a`, `%00` in a `url=`. (git refuses a URL whose parts decode
    /// to a newline, and by default never sends a CR in a value.)
    fn holds_line_break(&self) -> bool {
        [
            &self.protocol,
            &self.host,
            &self.path,
            &self.username,
            &self.password_expiry_utc,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .chain(self.password.as_ref().map(Secret::expose))
        .any(|value| value.contains(['\r', '\n', '\0']))
    }
}

impl Request {
    /// A request made of a `url=` alone, split as git splits it.
    fn from_url(url: &str) -> Option<Request> {
        let url = split_credential_url(url)?;
        Some(Request {
            protocol: Some(url.protocol),
            host: url.host,
            path: url.path,
            username: url.username,
            password: url.password.map(Secret::new),
            password_expiry_utc: None,
        })
    }
}

/// The username git is given with every token.
pub const TOKEN_USERNAME: &str = "x-access-token";

/// The answer to `get`, as bytes ready to be written in one go.
pub fn credential_response(username: &str, password: &Secret, expiry: Option<i64>) -> Vec<u8> {
    let mut out = format!("username={username}\npassword={}\n", password.expose());
    if let Some(expiry) = expiry {
        out.push_str(&format!("password_expiry_utc={expiry}\n"));
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Request, RequestError> {
        read_request(text.as_bytes())
    }

    #[test]
    fn reads_the_keys_git_sends() {
        let r = parse("capability[]=authtype\nprotocol=https\nhost=github.com\nwwwauth[]=Basic realm=\"GitHub\"\npath=o/r.git\nusername=bob\n\n").unwrap();
        assert_eq!(r.protocol.as_deref(), Some("https"));
        assert_eq!(r.host.as_deref(), Some("github.com"));
        assert_eq!(r.path.as_deref(), Some("o/r.git"));
        assert_eq!(r.username.as_deref(), Some("bob"));
        assert_eq!(r.password, None);
    }

    #[test]
    fn end_of_input_ends_the_request_and_the_blank_line_stops_reading() {
        assert_eq!(
            parse("protocol=https\nhost=a\n").unwrap().host.as_deref(),
            Some("a")
        );
        // Nothing after the blank line is read, not even garbage.
        let r = parse("host=a\n\nno equals here\0").unwrap();
        assert_eq!(r.host.as_deref(), Some("a"));
        assert_eq!(parse("").unwrap(), Request::default());
    }

    #[test]
    fn crlf_and_equals_in_values() {
        let r = parse("protocol=https\r\nhost=a\r\npassword=x=y\r\n\r\n").unwrap();
        assert_eq!(r.host.as_deref(), Some("a"));
        assert_eq!(r.password.unwrap().expose(), "x=y");
    }

    #[test]
    fn later_keys_win_and_url_resets() {
        let r = parse("host=a\nhost=b\n").unwrap();
        assert_eq!(r.host.as_deref(), Some("b"));
        let r = parse("username=u\nurl=https://Alice:p%40ss@GitHub.com:8443/o/r\n").unwrap();
        assert_eq!(r.protocol.as_deref(), Some("https"));
        assert_eq!(r.host.as_deref(), Some("GitHub.com:8443"));
        assert_eq!(r.username.as_deref(), Some("Alice"));
        assert_eq!(r.password.unwrap().expose(), "p@ss");
        assert_eq!(r.path.as_deref(), Some("o/r"));
        let r = parse("url=https://github.com\n").unwrap();
        assert_eq!(r.host.as_deref(), Some("github.com"));
        assert_eq!(r.username, None);
        assert_eq!(r.path, None);
    }

    #[test]
    fn refuses_malformed_requests() {
        assert_eq!(parse("host=a"), Err(RequestError::CutShort));
        assert_eq!(parse("host=a\0b\n"), Err(RequestError::Nul));
        assert_eq!(
            parse("protocol=https\nnonsense\n"),
            Err(RequestError::NoEquals(2))
        );
        assert_eq!(parse("url=github.com\n"), Err(RequestError::BadUrl(1)));
    }

    /// Found by tests/fuzz.rs: a CR inside a line, or %0a, %0d, %00 in a url=,
    /// reached the fields.
    #[test]
    fn refuses_line_breaks_and_nul_in_kept_values() {
        assert_eq!(
            parse("protocol=\rprotocol=\n"),
            Err(RequestError::LineBreak(1))
        );
        assert_eq!(
            parse("protocol=https\nhost=github.com\rx\n\n"),
            Err(RequestError::LineBreak(2))
        );
        for url in [
            "https://github.com/%0a",
            "https://git%0Ahub.com/o/r",
            "https://bob%0d@github.com/",
            "https://bob:p%00@github.com/",
            "https://github.com\r/",
        ] {
            assert_eq!(
                parse(&format!("url={url}\n")),
                Err(RequestError::LineBreak(1)),
                "{url:?}"
            );
        }
        // The CRLF ending is no line break in a value; other escapes and
        // unknown keys are left alone.
        let r = parse("wwwauth[]=a\rb\r\nurl=https://h/o%20r%0\r\n\r\n").unwrap();
        assert_eq!(r.path.as_deref(), Some("o r%0"));
    }

    #[test]
    fn verbatim_reading_returns_the_bytes_up_to_the_blank_line() {
        let text = "protocol=https\r\nhost=a\npassword_expiry_utc=17\n\nafter\n";
        let (r, raw) = read_request_verbatim(text.as_bytes()).unwrap();
        assert_eq!(raw, b"protocol=https\r\nhost=a\npassword_expiry_utc=17\n\n");
        assert_eq!(r.password_expiry_utc.as_deref(), Some("17"));
        let (_, raw) = read_request_verbatim(&b"host=a\n"[..]).unwrap();
        assert_eq!(raw, b"host=a\n");
        assert_eq!(
            read_request_verbatim(&b"host=a"[..]).unwrap_err(),
            RequestError::CutShort
        );
    }

    #[test]
    fn size_limit_is_exactly_64_kib() {
        let mut ok = String::from("host=");
        ok.push_str(&"a".repeat(MAX_REQUEST - ok.len() - 1));
        ok.push('\n');
        assert_eq!(ok.len(), MAX_REQUEST);
        assert!(parse(&ok).is_ok());
        let mut big = ok.clone();
        big.insert(6, 'a');
        assert_eq!(parse(&big), Err(RequestError::TooLarge));
        // An endless line is refused at the cap, not read to the end.
        let endless = std::io::repeat(b'a');
        assert_eq!(read_request(endless), Err(RequestError::TooLarge));
    }

    #[test]
    fn response_wire_text() {
        let secret = Secret::new("tok".into());
        assert_eq!(
            credential_response(TOKEN_USERNAME, &secret, Some(1_795_437_296)),
            b"username=x-access-token\npassword=tok\npassword_expiry_utc=1795437296\n"
        );
        assert_eq!(
            credential_response("bob", &secret, None),
            b"username=bob\npassword=tok\n"
        );
    }
}
