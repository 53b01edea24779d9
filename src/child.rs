//! Children are bounded in one place: [`run`] runs a child that this program
//! waits for (gh for `gh-login`, a kept helper's `get` for the erase check,
//! git for a config listing or edit) with
//!
//! - a deadline: past it the child is killed with its whole process group
//!   (it runs in a group of its own, so a grandchild holding a pipe open
//!   goes too), and [`Failure::TimedOut`] is returned;
//! - a byte limit on each of stdout and stderr: the first `limit` bytes are
//!   kept, the rest is read and thrown away (so a child that says too much
//!   never blocks on a full pipe, and memory stays small), and the output
//!   says it was cut ([`Output::cut`]);
//! - its stdin fed from a thread of its own, so a child that does not read
//!   it cannot block this one; the pipe is closed after the input.
//!
//! The children a command hands its terminal to (`exec`, the gh proxy) are
//! not run here: they replace this process or are waited for as git waits
//! for a helper, and their output is not read.

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// What a child may take and say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Killed, with its process group, when not done within this.
    pub deadline: Duration,
    /// Bytes kept of each of stdout and stderr.
    pub limit: usize,
}

/// A child that finished in time.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    /// At most [`Bounds::limit`] bytes.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// stdout or stderr said more than the limit (the rest was dropped).
    pub cut: bool,
}

/// Why there is no [`Output`].
#[derive(Debug)]
pub enum Failure {
    /// It could not be started (not found, not executable, …).
    Spawn(io::Error),
    /// It was not done within the deadline, and was killed with its group.
    TimedOut(Duration),
    /// Waiting for it failed.
    Wait(io::Error),
}

/// Run `command` with `input` on its stdin (`None`: stdin is /dev/null),
/// stdout and stderr read within `bounds`. The command's own stdio settings
/// are replaced; everything else (arguments, environment, directory,
/// `pre_exec`) is the caller's.
pub fn run(
    command: &mut Command,
    input: Option<Vec<u8>>,
    bounds: Bounds,
) -> Result<Output, Failure> {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command.spawn().map_err(Failure::Spawn)?;
    // The child leads its own group: its id is the group's.
    let group = child.id() as libc::pid_t;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // A child that exits without reading closes the pipe: no error (its
        // exit status says what went wrong). One that never reads leaves
        // this thread blocked until the kill closes the pipe.
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = child.stdout.take().map(|out| reader(out, bounds.limit));
    let stderr = child.stderr.take().map(|err| reader(err, bounds.limit));
    let (sender, done) = mpsc::channel();
    // Done when the child has exited AND both pipes are closed: a grandchild
    // that holds stdout open is waited for within the same deadline.
    thread::spawn(move || {
        let status = child.wait();
        let join = |handle: Option<thread::JoinHandle<(Vec<u8>, bool)>>| {
            handle
                .and_then(|h| h.join().ok())
                .unwrap_or((Vec::new(), false))
        };
        let (stdout, cut_out) = join(stdout);
        let (stderr, cut_err) = join(stderr);
        let _ = sender.send((status, stdout, stderr, cut_out || cut_err));
    });
    match done.recv_timeout(bounds.deadline) {
        Ok((Ok(status), stdout, stderr, cut)) => Ok(Output {
            status,
            stdout,
            stderr,
            cut,
        }),
        Ok((Err(e), ..)) => {
            kill_group(group);
            Err(Failure::Wait(e))
        }
        Err(_) => {
            kill_group(group);
            Err(Failure::TimedOut(bounds.deadline))
        }
    }
}

/// SIGKILL to the child's whole process group. The group may be gone (or,
/// in theory, reused once the child was reaped: the reaping thread has not
/// sent its result, so the leader is not reaped yet when this runs after a
/// timeout; after a wait error nothing is left to reap).
fn kill_group(group: libc::pid_t) {
    // SAFETY: kill touches no memory; the group is the child's own.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// Read `pipe` to its end on a thread of its own, keeping the first `limit`
/// bytes; `true` beside them when more came.
fn reader(
    mut pipe: impl Read + Send + 'static,
    limit: usize,
) -> thread::JoinHandle<(Vec<u8>, bool)> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut cut = false;
        let mut buffer = [0u8; 8192];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    let room = limit.saturating_sub(kept.len());
                    kept.extend_from_slice(&buffer[..n.min(room)]);
                    cut |= n > room;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        (kept, cut)
    })
}

/// A failure in one phrase, for a message that names the program.
pub fn describe(failure: &Failure) -> String {
    match failure {
        Failure::Spawn(e) if e.kind() == io::ErrorKind::NotFound => "not found".to_string(),
        Failure::Spawn(e) => crate::diag::io_reason(e),
        Failure::TimedOut(after) => format!(
            "no answer within {} s (killed, with its process group)",
            after.as_secs_f64()
        ),
        Failure::Wait(e) => format!("cannot wait for it: {}", crate::diag::io_reason(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    const BOUNDS: Bounds = Bounds {
        deadline: Duration::from_secs(20),
        limit: 64 * 1024,
    };

    #[test]
    fn input_in_output_out() {
        let out = run(
            &mut sh("cat; echo err >&2; exit 3"),
            Some(b"hello\n".to_vec()),
            BOUNDS,
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"hello\n");
        assert_eq!(out.stderr, b"err\n");
        assert!(!out.cut);
        // No input: stdin is /dev/null, not this process's.
        let out = run(&mut sh("cat"), None, BOUNDS).unwrap();
        assert_eq!(out.stdout, b"");
    }

    #[test]
    fn an_endless_answer_is_cut_at_the_limit() {
        let bounds = Bounds {
            deadline: Duration::from_secs(2),
            limit: 1000,
        };
        // Ends: `head` stops the stream after 10 MB, far past the limit.
        let out = run(&mut sh("yes password=x | head -c 10000000"), None, bounds).unwrap();
        assert_eq!(out.stdout.len(), 1000);
        assert!(out.cut);
        // Never ends: the deadline does.
        let started = Instant::now();
        let failure = run(&mut sh("yes"), None, bounds).unwrap_err();
        assert!(matches!(failure, Failure::TimedOut(_)), "{failure:?}");
        assert!(started.elapsed() < Duration::from_secs(15));
    }

    #[test]
    fn a_child_past_its_deadline_is_killed_with_its_group() {
        let bounds = Bounds {
            deadline: Duration::from_millis(500),
            limit: 1000,
        };
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild");
        // A grandchild holding stdout open, and stdin never read.
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let started = Instant::now();
        let failure = run(&mut sh(&script), Some(vec![b'x'; 1 << 20]), bounds).unwrap_err();
        assert!(matches!(failure, Failure::TimedOut(_)), "{failure:?}");
        assert!(started.elapsed() < Duration::from_secs(15));
        let pid: libc::pid_t = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild is gone (or a zombie of init's, about to go).
        let gone = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
        };
        let until = Instant::now() + Duration::from_secs(10);
        while !gone() && Instant::now() < until {
            thread::yield_now();
        }
        assert!(gone(), "the grandchild {pid} lives on");
    }

    #[test]
    fn a_missing_program_is_a_spawn_failure() {
        let failure = run(&mut Command::new("/nonexistent/program"), None, BOUNDS).unwrap_err();
        assert_eq!(describe(&failure), "not found");
    }
}
