//! The README's workspace set-up, as written, is a test: every fenced block
//! of README.md whose info string is `SHELL workspace` (```` ```sh workspace ````,
//! or `bash`, `zsh`, `fish` in place of `sh`) is extracted in order and run
//! with that real shell, as written, in a sandboxed workspace; then what a
//! workspace relies on is checked: the agent the entrypoint starts (its
//! `bash -c` reaching the GitHub API with a live token through `BASH_ENV`),
//! an interactive bash (the current token through `--shell-init`), git push
//! over HTTPS, `gh api`, gh's stored login and `status`. Meanwhile every
//! process's argv is sampled: no token is ever in one.
//!
//! The convention, for whoever adds a block (README, Development):
//! - Mark a command of the "In a workspace" set-up with ```` ```sh workspace ````
//!   (another shell's name for a block in its syntax). Blocks run in README
//!   order, each as its own process (`SHELL -e -c BLOCK SHELL AGENT`; fish
//!   without `-e`, `fish -c BLOCK AGENT`), as an entrypoint, a cron run and a
//!   login shell are separate processes in a workspace: what one block leaves
//!   for later ones goes through files (git's config, the gh link, a shell's
//!   rc file under `$HOME`), never through exported variables. A block must
//!   exit 0.
//! - Every block gets the agent as its positional arguments, as a container's
//!   entrypoint gets its command: the entrypoint block ends with `exec "$@"`
//!   and so becomes the agent, with what it exported (`BASH_ENV`); the other
//!   blocks leave `"$@"` alone. The agent is a script that does what an agent
//!   does in the environment it inherits (the stale token): a `bash -c` that
//!   calls the GitHub API with `$GITHUB_TOKEN` (on curl's stdin), and the same
//!   without `BASH_ENV` as the control; it appends both HTTP statuses to a
//!   file, so the test sees it ran once and got 200 where the control got 401.
//! - The sandbox is a workspace as the platform starts it: `HOME` a temp
//!   directory (the blocks' working directory), `GIT_CONFIG_GLOBAL` a temp
//!   file (trusting the test CA, with a user name), `CONFIGS_DIR` with the
//!   bearer (0600) and `secrets.d/GITEA_TOKEN`, `MOLECULE_SECRET_HOSTS` naming
//!   it (as the README asks for scripts), `PLATFORM_URL` the mock platform, the
//!   token cache in the sandbox, the binary installed as the README says
//!   (`install.sh --binary BIN --prefix P`, so `P/share/molecule-git-token-helper/env.bash`
//!   is there) with `PREFIX=P` (as an operator who installed with `--prefix`
//!   sets it, so `${PREFIX:-/usr/local}` names P), `PATH` with `P/bin` first
//!   and the real gh after it, the stale `GH_TOKEN`/`GITHUB_TOKEN` of the
//!   container's start, `GH_CONFIG_DIR` of its own, and `HTTPS_PROXY` a CONNECT
//!   proxy reaching, by name, the HTTPS mock GitHub API (api.github.com) and
//!   two real git servers over HTTPS (github.com, taking the platform's
//!   tokens, and git.moleculesai.app, taking the Gitea secret).
//! - Names the blocks may use: the repository `molecule/workspace` on both
//!   git servers and in the mock API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::shells::watching_argv;
use crate::support::git_server::{GitServer, TOKEN_USER, TokenCheck};
use crate::support::mock_github::*;
use crate::support::*;

/// The secret host the README's entrypoint line names.
const SECRET_HOST: &str = "git.moleculesai.app";
const SECRET_NAME: &str = "GITEA_TOKEN";
const REPO: &str = "molecule/workspace";

/// The agent the entrypoint block starts (`exec "$@"`): what an agent runs,
/// in the environment it inherited, each command a `bash -c`: a call to the
/// GitHub API with `$GITHUB_TOKEN` (the header on curl's stdin, never in an
/// argv), and the same without `BASH_ENV`, the control. It appends both HTTP
/// statuses to @LOG@, one line per run.
const AGENT: &str = r#"#!/bin/sh
call='printf "header = \"Authorization: token %s\"\n" "$GITHUB_TOKEN" |
    curl -sS -o /dev/null -w "%{http_code}" -K - --cacert "@CA@" "@URL@"'
with=$(bash -c "$call")
without=$(env -u BASH_ENV bash -c "$call")
printf '%s %s\n' "$with" "$without" >> "@LOG@"
"#;

/// One fenced block of README.md meant to be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// The shell named by the info string.
    pub(crate) shell: String,
    /// The README line of its opening fence (1-based), for messages.
    pub(crate) line: usize,
    pub(crate) text: String,
}

/// Every ```` ```SHELL workspace ```` block of `markdown`, in order.
pub(crate) fn workspace_blocks(markdown: &str) -> Vec<Block> {
    enum Inside {
        Text,
        Ours(Block),
        Other,
    }
    let mut blocks = Vec::new();
    let mut inside = Inside::Text;
    for (n, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        inside = match (inside, fence) {
            (Inside::Text, Some(info)) => match info.split_whitespace().collect::<Vec<_>>()[..] {
                [shell, "workspace"] => Inside::Ours(Block {
                    shell: shell.to_string(),
                    line: n + 1,
                    text: String::new(),
                }),
                _ => Inside::Other,
            },
            (Inside::Text, None) => Inside::Text,
            (Inside::Ours(block), Some(_)) => {
                blocks.push(block);
                Inside::Text
            }
            (Inside::Ours(mut block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
                Inside::Ours(block)
            }
            (Inside::Other, Some(_)) => Inside::Text,
            (Inside::Other, None) => Inside::Other,
        };
    }
    assert!(
        !matches!(inside, Inside::Ours(_)),
        "README.md: a workspace block is not closed"
    );
    blocks
}

#[test]
fn workspace_blocks_are_extracted_in_order_with_their_shell() {
    let md = "text\n```sh workspace\na\nb\n```\n```sh\nnot ours\n```\n```text\n```\n\
              ```bash workspace\nc\n```\n```cron\n* * * * * x\n```\n";
    let blocks = workspace_blocks(md);
    assert_eq!(
        blocks,
        [
            Block {
                shell: "sh".into(),
                line: 2,
                text: "a\nb\n".into()
            },
            Block {
                shell: "bash".into(),
                line: 11,
                text: "c\n".into()
            },
        ]
    );
}

/// The sandboxed workspace the README's blocks run in.
pub(crate) struct Sandbox {
    pub(crate) ws: Workspace,
    pub(crate) stack: GithubStack,
    pub(crate) github_git: GitServer,
    pub(crate) gitea_git: GitServer,
    pub(crate) gh_config: PathBuf,
    /// `PREFIX/bin`, where install.sh put the binary (first on PATH).
    pub(crate) bin: PathBuf,
    /// The agent every block is given (its positional arguments).
    pub(crate) agent: PathBuf,
    /// Where the agent appends the HTTP statuses its `bash -c` got.
    pub(crate) agent_log: PathBuf,
    pub(crate) stale: String,
    pub(crate) gitea_secret: String,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let gh_dir = real_gh_dir();
        let mut ws = Workspace::new();
        let (stack, gh_config) = ws.start_github();
        stack.github.add_repo(REPO, Perms::all());

        // github.com's git: the platform's live tokens; the Gitea: its secret.
        let checker = ws.platform.checker();
        let live: TokenCheck = Arc::new(move |t: &str| checker.is_live(t));
        let github_git = GitServer::start(stack.ca.server_config(&[WEB_HOST]), live, None);
        let gitea_secret = format!("gitea-{}", unique());
        ws.write_secret(SECRET_NAME, &format!("{gitea_secret}\n"));
        // As the README asks of a workspace's environment, for scripts and cron.
        ws.set_env(
            "MOLECULE_SECRET_HOSTS",
            format!("{SECRET_HOST}={SECRET_NAME}"),
        );
        // The bearer as the platform writes it: 0600.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(ws.configs.join(".auth_token"), mode).unwrap();
        let expected = gitea_secret.clone();
        let secret: TokenCheck = Arc::new(move |t: &str| t == expected);
        let gitea_git = GitServer::start(stack.ca.server_config(&[SECRET_HOST]), secret, None);
        for (host, server) in [(WEB_HOST, &github_git), (SECRET_HOST, &gitea_git)] {
            server.create_bare(REPO);
            let addr: SocketAddr = ([127, 0, 0, 1], server.port()).into();
            stack.proxy.add_route(&format!("{host}:443"), addr);
        }

        // The image's own git config: trust, a name; no helper yet.
        ws.write_gitconfig(&format!(
            "[http]\n\tsslCAInfo = {ca}\n\
             [user]\n\tname = Tester\n\temail = tester@example.invalid\n\
             [init]\n\tdefaultBranch = main\n",
            ca = stack.ca.ca_pem_path().display(),
        ));

        // Installed as the README says, under a prefix of the sandbox that
        // PREFIX names (as for an operator who installed with --prefix);
        // first on PATH, the real gh after it.
        let prefix = ws.path().join("usr-local");
        let mut c = ws.command(concat!(env!("CARGO_MANIFEST_DIR"), "/install.sh"));
        c.args(["--binary", BIN, "--prefix"]).arg(&prefix);
        let out = ws.run(c, "");
        assert_eq!(out.code(), 0, "install.sh: {out:?}");
        let bin = prefix.join("bin");
        assert!(
            prefix
                .join("share/molecule-git-token-helper/env.bash")
                .is_file()
        );
        ws.set_env("PREFIX", &prefix);
        let path = std::env::var("PATH").unwrap();
        assert!(path.contains(gh_dir.to_str().unwrap()));
        ws.set_env("PATH", format!("{}:{path}", bin.display()));

        // The container's start token, dead since.
        let stale = ws.mint();
        ws.platform.revoke(&stale);
        ws.set_env("GH_TOKEN", &stale);
        ws.set_env("GITHUB_TOKEN", &stale);

        // The agent: a long-lived process that runs each command as a
        // `bash -c`, in the environment it was started with. The token goes
        // to curl on its stdin (-K -), never in an argv.
        let agent = ws.path().join("agent");
        let agent_log = ws.path().join("agent.log");
        let script = AGENT
            .replace("@CA@", stack.ca.ca_pem_path().to_str().unwrap())
            .replace("@URL@", &format!("https://{API_HOST}/repos/{REPO}"))
            .replace("@LOG@", agent_log.to_str().unwrap());
        std::fs::write(&agent, script).unwrap();
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
        Sandbox {
            ws,
            stack,
            github_git,
            gitea_git,
            gh_config,
            bin,
            agent,
            agent_log,
            stale,
            gitea_secret,
        }
    }

    /// Run one README block with its shell, in `HOME`, the agent as its
    /// positional arguments (fish's `$argv`; `$0` is the shell's name).
    fn run_block(&self, block: &Block) -> Out {
        let mut c = self.ws.command(&block.shell);
        if block.shell != "fish" {
            c.arg("-e");
        }
        c.arg("-c").arg(&block.text);
        if block.shell != "fish" {
            c.arg(&block.shell);
        }
        c.arg(&self.agent).current_dir(&self.ws.home);
        self.ws.run(c, "")
    }

    /// A shell command line, run as a workspace's shell runs it.
    fn sh(&self, script: &str) -> Out {
        let mut c = self.ws.command("sh");
        c.args(["-c", script]).current_dir(&self.ws.home);
        self.ws.run(c, "")
    }

    fn git(&self, dir: &Path, args: &[&str]) -> Out {
        let mut c = self.ws.command("git");
        c.arg("-C").arg(dir).args(args);
        let out = self.ws.run(c, "");
        assert_eq!(out.code(), 0, "git {args:?}: {out:?}");
        out
    }

    /// The token the helper hands out now.
    fn current(&self) -> String {
        let out = self.ws.helper(&["fetch-token"], "");
        assert_eq!(out.code(), 0, "{out:?}");
        out.stdout.trim().to_string()
    }
}

#[test]
fn the_readme_workspace_setup_as_written_works_in_a_workspace() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let blocks = workspace_blocks(&readme);
    // The set-up the README must keep showing, as blocks that run.
    let all: String = blocks.iter().map(|b| b.text.as_str()).collect();
    for needle in [
        "configure --gh-proxy",
        "--shell-init",
        "--cargo",
        "--secret-host git.moleculesai.app=GITEA_TOKEN",
        "export BASH_ENV=",
        "exec \"$@\"",
        "gh-login",
        "eval \"$(molecule-git-token-helper env)\"",
        "exec -- gh",
        "fetch-token",
    ] {
        assert!(
            all.contains(needle),
            "no ```sh workspace block of README.md runs `{needle}`"
        );
    }
    // The entrypoint is one script, the first block: configure, BASH_ENV,
    // then the agent.
    let entrypoint = &blocks[0].text;
    assert!(
        entrypoint.contains("configure --gh-proxy")
            && entrypoint.contains("export BASH_ENV=")
            && entrypoint
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("exec \"$@\"")),
        "README.md line {}: the entrypoint block is not configure, BASH_ENV, exec \"$@\":\n{entrypoint}",
        blocks[0].line
    );

    let s = Sandbox::new();
    let mut outs = Vec::new();
    watching_argv(&s.ws, &s.stale, || {
        for block in &blocks {
            let out = s.run_block(block);
            assert_eq!(
                out.code(),
                0,
                "README.md line {}: {} block failed:\n{}\n{out:?}\n{}",
                block.line,
                block.shell,
                block.text,
                s.stack.github.describe()
            );
            outs.push((block, out));
        }
        // cargo fetches git dependencies with git, which runs the helper.
        let cargo = s.ws.home.join(".cargo/config.toml");
        let text = std::fs::read_to_string(&cargo).unwrap_or_default();
        assert!(
            text.contains("\ngit-fetch-with-cli = true\n"),
            "{}: {text}",
            cargo.display()
        );
        // The agent the entrypoint became: its `bash -c` reached the API with
        // a live token through BASH_ENV, though its environment held the
        // stale one (the control, without BASH_ENV, got 401). Once: only the
        // entrypoint starts it.
        let log = std::fs::read_to_string(&s.agent_log).unwrap_or_else(|e| {
            panic!(
                "the agent never ran ({}: {e}): the entrypoint block must end with exec \"$@\"",
                s.agent_log.display()
            )
        });
        assert_eq!(
            log,
            "200 401\n",
            "the agent's bash -c with BASH_ENV, then without:\n{}",
            s.stack.github.describe()
        );

        // An interactive bash (a terminal opened in the workspace) holds the
        // current token, through the ~/.bashrc line of --shell-init; without
        // its rc files, the stale one.
        let held = |rc: bool| {
            let file = s.ws.path().join("interactive-token");
            let mut c = s.ws.command("bash");
            if !rc {
                c.arg("--norc");
            }
            c.args(["-ic", "printf %s \"$GITHUB_TOKEN\" > \"$1\"", "bash"])
                .arg(&file)
                .current_dir(&s.ws.home);
            let out = s.ws.run(c, "");
            assert_eq!(out.code(), 0, "bash -ic: {out:?}");
            let token = std::fs::read_to_string(&file).unwrap();
            std::fs::remove_file(&file).unwrap();
            token
        };
        assert_eq!(held(true), s.current(), "bash -i after --shell-init");
        assert_eq!(held(false), s.stale, "bash --norc -i");
    });

    // The entrypoint configured git and linked the proxy where it installed.
    let link = s.bin.join("gh");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        s.bin.join("molecule-git-token-helper")
    );
    assert_eq!(s.sh("command -v gh").stdout.trim(), link.to_str().unwrap());
    let current = s.current();

    // The scripts block: fetch-token prints the token the helper serves.
    let (_, scripts) = outs
        .iter()
        .find(|(b, _)| b.text.contains("fetch-token --json"))
        .unwrap();
    assert!(
        scripts
            .stdout
            .starts_with(&format!("{current}\n{{\"token\":\"{current}\"")),
        "{scripts:?}"
    );
    // exec's gh reached the mock API with the fresh token, not the stale one.
    s.stack
        .github
        .requests_to(API_HOST, &format!("/repos/{REPO}/pulls"))
        .iter()
        .find(|r| r.status == 200 && r.token_tail.as_deref() == Some(&tail4(&current)))
        .unwrap_or_else(|| panic!("exec -- gh: {}", s.stack.github.describe()));

    // git push over HTTPS, to github.com (the platform's token) and to the
    // Gitea (the workspace secret), through the helper configure registered.
    for host in [WEB_HOST, SECRET_HOST] {
        let dir = s.ws.path().join(format!("clone-{host}"));
        let url = format!("https://{host}/{REPO}.git");
        let mut c = s.ws.command("git");
        c.args(["clone", "--quiet", &url]).arg(&dir);
        let out = s.ws.run(c, "");
        assert_eq!(out.code(), 0, "git clone {url}: {out:?}");
        std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
        s.git(&dir, &["add", "hello.txt"]);
        s.git(&dir, &["commit", "--quiet", "-m", "hello"]);
        s.git(&dir, &["push", "--quiet", "origin", "main"]);
    }
    assert!(
        s.github_git.decisions().iter().any(|d| d.accepted
            && d.user.as_deref() == Some(TOKEN_USER)
            && d.path.ends_with("/git-receive-pack")),
        "{:#?}",
        s.github_git.decisions()
    );
    assert!(
        s.gitea_git
            .decisions()
            .iter()
            .any(|d| d.accepted && d.path.ends_with("/git-receive-pack")),
        "{:#?}",
        s.gitea_git.decisions()
    );
    assert_eq!(s.github_git.refused(Some(TOKEN_USER)), 0);

    // gh through the proxy, over the stale variables.
    let out = s.sh(&format!("gh api repos/{REPO}"));
    assert_eq!(out.code(), 0, "{out:?}\n{}", s.stack.github.describe());
    assert!(
        out.stdout.contains(&format!("\"full_name\":\"{REPO}\"")),
        "{out:?}"
    );

    // gh's stored login (the cron block's gh-login): the current token.
    let hosts = std::fs::read_to_string(s.gh_config.join("hosts.yml")).unwrap();
    assert!(hosts.contains("github.com:"), "{hosts}");
    let out = s.sh("env -u GH_TOKEN -u GITHUB_TOKEN gh auth token --hostname github.com");
    assert_eq!(
        (out.code(), out.stdout.trim()),
        (0, current.as_str()),
        "{out:?}"
    );
    s.ws.assert_no_secret_in(&hosts.replace(&current, ""), "hosts.yml");
    assert!(!hosts.contains(&s.stale));

    // status: no check fails; git's helper, the proxy and gh-login are seen.
    let out = s.sh("molecule-git-token-helper status");
    assert_eq!(out.code(), 0, "{out:?}");
    let marks: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(!marks.contains(&"fail"), "{out:?}");
    s.ws.assert_no_secret_in(&out.stdout, "status");
    assert!(!out.stdout.contains(&s.gitea_secret));
    let line = |name: &str, host: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name) && l.contains(host))
            .unwrap_or_else(|| panic!("no {name} line for {host:?}: {out:?}"))
            .to_string()
    };
    for host in ["github.com:", "git.moleculesai.app:"] {
        let git = line("git", host);
        assert!(
            git.starts_with("ok") && git.contains("this helper"),
            "{git}"
        );
    }
    let gh = line("gh", "");
    assert!(
        gh.starts_with("ok") && gh.contains("the proxy, which runs"),
        "{gh}"
    );
    assert!(line("gh-login", "").starts_with("ok"), "{out:?}");
    assert!(line("secret", SECRET_HOST).starts_with("ok"), "{out:?}");
}
