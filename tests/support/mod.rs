//! Shared by the integration tests: a workspace in a temp directory (home,
//! configs with a bearer, a git global config, a fallback credential store)
//! with the mock platform, and one way to run the real binary and the real
//! git in it. Every run checks that no token and no bearer reached stderr.

pub mod connect_proxy;
pub mod git_server;
pub mod http_server;
pub mod mock_gitea;
pub mod mock_github;
pub mod mock_platform;
pub mod namespace;
pub mod test_git;
pub mod tls;
pub mod tls_front;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;

#[allow(unused_imports)]
pub use mock_gitea::MockGitea;
#[allow(unused_imports)]
pub use mock_platform::{MockPlatform, Recorded, Reply};
#[allow(unused_imports)]
pub use test_git::{git_at_least, test_git};

/// The helper binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_molecule-git-token-helper");

/// The operator's fallback credential, held by git's `store` helper.
pub const FALLBACK_USER: &str = "operator";
pub const FALLBACK_PAT: &str = "fallback-pat-0123456789";

/// What a finished process left behind.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// stdout as git's key=value attributes.
    pub fn attrs(&self) -> HashMap<String, String> {
        self.stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub fn attr(&self, key: &str) -> Option<String> {
        self.attrs().get(key).cloned()
    }

    /// The lines this helper wrote on stderr.
    pub fn helper_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("molecule-git-token-helper:"))
            .collect()
    }

    /// Exactly one error line from the helper, containing `needle`.
    /// git's answer came from the fallback `store`: the operator's PAT.
    pub fn assert_fallback(&self) {
        assert_eq!(self.code(), 0, "{self:?}");
        assert_eq!(
            self.attr("username").as_deref(),
            Some(FALLBACK_USER),
            "{self:?}"
        );
        assert_eq!(
            self.attr("password").as_deref(),
            Some(FALLBACK_PAT),
            "{self:?}"
        );
    }

    /// git's answer is a token this helper served (username
    /// `x-access-token`); returns the token.
    pub fn served_token(&self) -> String {
        assert_eq!(self.code(), 0, "{self:?}");
        assert_eq!(
            self.attr("username").as_deref(),
            Some("x-access-token"),
            "{self:?}"
        );
        self.attr("password").expect("a password")
    }

    pub fn assert_one_error(&self, needle: &str) {
        let lines = self.helper_lines();
        assert_eq!(
            lines.len(),
            1,
            "expected one helper line, got: {}",
            self.stderr
        );
        assert!(
            lines[0].contains("error:") && lines[0].contains(needle),
            "expected an error line with {needle:?}, got: {}",
            self.stderr
        );
    }
}

pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub configs: PathBuf,
    pub cache: PathBuf,
    pub gitconfig: PathBuf,
    pub fallback: PathBuf,
    pub bearer: String,
    pub platform: MockPlatform,
    env: Vec<(String, OsString)>,
    /// Secrets seen by this workspace besides the mock's tokens.
    secrets: Mutex<Vec<String>>,
}

impl Workspace {
    /// A workspace with a bearer, the mock platform expecting it, and a
    /// fallback store holding the operator's PAT for github.com. Git is
    /// not configured yet: call one of the `configure_*` methods.
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        assert!(!BIN.contains(' ') && !root.to_string_lossy().contains(' '));
        let home = root.join("home");
        let configs = root.join("configs");
        let cache = root.join("cache");
        for d in [&home, &configs] {
            std::fs::create_dir_all(d).unwrap();
        }
        let bearer = format!("bearer-{}", unique());
        std::fs::write(configs.join(".auth_token"), format!("{bearer}\n")).unwrap();
        let fallback = root.join("fallback-store");
        std::fs::write(
            &fallback,
            format!("https://{FALLBACK_USER}:{FALLBACK_PAT}@github.com\n"),
        )
        .unwrap();
        let gitconfig = root.join("gitconfig");
        std::fs::write(&gitconfig, "").unwrap();
        let platform = MockPlatform::start(&bearer);
        Workspace {
            dir,
            home,
            configs,
            cache,
            gitconfig,
            fallback,
            bearer,
            platform,
            env: Vec::new(),
            secrets: Mutex::new(Vec::new()),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Set a variable for every process this workspace runs.
    pub fn set_env(&mut self, name: &str, value: impl Into<OsString>) {
        self.env.push((name.to_string(), value.into()));
    }

    /// Point every proxy variable (both spellings) at `url`.
    pub fn set_proxies(&mut self, url: &str) {
        for name in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            self.set_env(name, url);
        }
    }

    /// Treat `secret` as one that must never appear on stderr.
    pub fn add_secret(&self, secret: &str) {
        self.secrets.lock().unwrap().push(secret.to_string());
    }

    /// Write `contents` to `CONFIGS_DIR/secrets.d/NAME`, mode 0600, as the
    /// platform writes a secret host's token, and register it as a secret
    /// that must never appear on stderr.
    pub fn write_secret(&self, name: &str, contents: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.configs.join("secrets.d");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        self.add_secret(contents.trim());
        path
    }

    /// The cache entry's path (it may not exist).
    pub fn cache_entry(&self) -> PathBuf {
        self.cache.join("token")
    }

    /// Drop the cached token, so the next call asks the platform.
    pub fn forget_cache(&self) {
        match std::fs::remove_file(self.cache_entry()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove the cache entry: {e}"),
        }
    }

    pub fn write_bearer(&mut self, contents: &str) {
        std::fs::write(self.configs.join(".auth_token"), contents).unwrap();
        self.add_secret(contents.trim());
    }

    /// Our helper as a generic `credential.helper`, the store fallback after it.
    pub fn configure_generic(&self) {
        self.write_gitconfig(&format!(
            "[credential]\n\thelper = {BIN}\n\thelper = store --file={}\n",
            self.fallback.display()
        ));
    }

    /// Our helper for https://github.com only, the store fallback after it.
    pub fn configure_host_scoped(&self) {
        self.write_gitconfig(&format!(
            "[credential \"https://github.com\"]\n\thelper = {BIN}\n\
             [credential]\n\thelper = store --file={}\n",
            self.fallback.display()
        ));
    }

    pub fn write_gitconfig(&self, text: &str) {
        std::fs::write(&self.gitconfig, text).unwrap();
    }

    /// A command with a clean environment pointing into this workspace
    /// (PATH: the git the tests drive first, see test_git.rs). `program`
    /// is looked up on that PATH, so `command("git")` runs the chosen git.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let program = program.as_ref();
        let mut c = if program == "git" {
            Command::new(test_git().dir.join("git"))
        } else {
            Command::new(program)
        };
        c.env_clear()
            .env("PATH", test_git::path())
            .env("HOME", &self.home)
            .env("LANG", "C")
            .env("GIT_CONFIG_GLOBAL", &self.gitconfig)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("PLATFORM_URL", self.platform.url())
            .env("CONFIGS_DIR", &self.configs)
            .env("MOLECULE_TOKEN_CACHE_DIR", &self.cache)
            .current_dir(self.dir.path());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// A token freshly minted by the mock platform, asked for over HTTP
    /// with the bearer as the helper would (not through the helper, so its
    /// cache is untouched).
    pub fn mint(&self) -> String {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(self.platform.addr()).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            mock_platform::TOKEN_PATH,
            self.bearer
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let token = self.platform.last_token().expect("a minted token");
        assert!(answer.contains(&token));
        token
    }

    /// The HTTPS mock of the GitHub API for this workspace (with its
    /// CONNECT proxy and test CA, under `github/`), reached the way the real
    /// gh reaches GitHub: it accepts the tokens this workspace's mock platform
    /// says are live; every process run here gets gh's variables and a gh
    /// config directory of its own (returned); `o/r` is a repository the App
    /// may do everything in.
    pub fn start_github(&mut self) -> (mock_github::GithubStack, PathBuf) {
        let dir = self.path().join("github");
        std::fs::create_dir_all(&dir).unwrap();
        let checker = self.platform.checker();
        let check = std::sync::Arc::new(move |t: &str| checker.is_live(t));
        let stack = mock_github::GithubStack::start(&dir, check);
        for (k, v) in stack.env() {
            self.set_env(&k, v);
        }
        let gh_config = self.path().join("gh-config");
        std::fs::create_dir_all(&gh_config).unwrap();
        self.set_env("GH_CONFIG_DIR", &gh_config);
        stack.github.add_repo("o/r", mock_github::Perms::all());
        (stack, gh_config)
    }

    /// `program` in this workspace, run by `setpriv` without the
    /// capabilities that let root ignore file modes (the tests run as root).
    pub fn unprivileged(&self, program: &str) -> Command {
        let mut c = self.command("setpriv");
        c.args([
            "--bounding-set=-dac_override,-dac_read_search,-fowner",
            "--inh-caps=-all",
            program,
        ]);
        c
    }

    /// Run the helper with `args` and `stdin`.
    pub fn helper(&self, args: &[&str], stdin: &str) -> Out {
        let mut c = self.command(BIN);
        c.args(args);
        self.run(c, stdin)
    }

    /// Run the real git with `args` and `stdin`.
    pub fn git(&self, args: &[&str], stdin: &str) -> Out {
        let mut c = self.command("git");
        c.args(args);
        self.run(c, stdin)
    }

    /// `git credential fill` for a URL.
    pub fn fill(&self, url: &str) -> Out {
        self.git(&["credential", "fill"], &format!("url={url}\n\n"))
    }

    /// A fill of `url` falls through to the fallback PAT, and the helper
    /// said what failed in one stderr line containing `needle`.
    pub fn assert_falls_through(&self, url: &str, needle: &str) {
        let out = self.fill(url);
        out.assert_fallback();
        out.assert_one_error(needle);
    }

    /// Run to completion and check stderr for every secret known so far.
    pub fn run(&self, mut command: Command, stdin: &str) -> Out {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        let mut input = child.stdin.take().unwrap();
        let stdin = stdin.to_string();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(stdin.as_bytes());
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        let out = Out {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        self.assert_no_secret_in(&out.stderr, "stderr");
        out
    }

    /// Neither the bearer nor any token the platform handed out (nor any
    /// other registered secret) may appear in `text`.
    pub fn assert_no_secret_in(&self, text: &str, what: &str) {
        let mut secrets = self.platform.tokens();
        secrets.push(self.bearer.clone());
        secrets.extend(self.secrets.lock().unwrap().iter().cloned());
        for secret in secrets {
            // Check the secret and, for injected multi-line ones, each part.
            for part in
                std::iter::once(secret.as_str()).chain(secret.split(['\n', '\r', '\0', ' ']))
            {
                if part.len() >= 8 {
                    assert!(!text.contains(part), "a secret leaked into {what}: {text}");
                }
            }
        }
    }
}

impl Workspace {
    /// The journal files this workspace's processes wrote to: the default
    /// one in the cache directory and the one `MOLECULE_TOKEN_JOURNAL`
    /// names, each with its rotated `.1`.
    pub fn journal_files(&self) -> Vec<PathBuf> {
        let mut journals = vec![self.cache.join("journal.jsonl")];
        for (name, value) in &self.env {
            if name == "MOLECULE_TOKEN_JOURNAL" && value != "off" && !value.is_empty() {
                journals.push(PathBuf::from(value));
            }
        }
        journals
            .into_iter()
            .flat_map(|j| {
                let mut old = j.clone().into_os_string();
                old.push(".1");
                [j, PathBuf::from(old)]
            })
            .collect()
    }
}

/// Every test's journal is scanned for every token and bearer it handled
/// (and every registered secret), when the test has passed so far.
impl Drop for Workspace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        for path in self.journal_files() {
            if let Ok(text) = std::fs::read_to_string(&path) {
                self.assert_no_secret_in(&text, &path.display().to_string());
            }
        }
    }
}

/// The directory holding the real gh on PATH, or a panic naming the
/// command that installs it.
pub fn real_gh_dir() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join("gh").is_file()))
        .unwrap_or_else(|| {
            panic!(
                "the real gh is not on PATH: install it with `apt-get install -y gh` \
                 (scripts/test.sh does, as root)"
            )
        })
}

/// git 2.41 and later pass a helper's `password_expiry_utc` on in `git
/// credential fill`'s answer; older gits drop the line (and use the token
/// until the helper stops serving it).
pub fn git_passes_expiry() -> bool {
    test_git().version >= (2, 41, 0)
}

/// A string unique to this run, for bearers and tokens made at run time.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}x{}x{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
