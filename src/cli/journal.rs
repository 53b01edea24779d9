//! `journal` as clap sees it: its long help and its flags.

use std::time::Duration;

use clap::Args;

use crate::commands::journal::{Options, parse_since};
use crate::journal::Kind;

pub(super) const JOURNAL_ABOUT: &str = "\
Print the journal of token decisions: which process got which token, when, for which \
repository.

Every token this program fetches, serves, fails to serve, sees git reject (erase), keeps from \
a fallback helper's store (withhold) or logs gh in with (gh-login) is one JSON line in the \
journal: journal.jsonl in the cache directory, or the file --journal or \
MOLECULE_TOKEN_JOURNAL names (rotated at 1 MiB to journal.jsonl.1, read first). A token is \
never in it, only its hashed_token: the base64 of its SHA-256, which is what GitHub's audit \
log calls it (search the audit log for hashed_token:\"…\").

By default one readable line per entry: the time, the event, the command, the process chain \
by name (nearest first), the host and repository, the first characters of the hash, where the \
token came from, and the error. --json prints the entries as they are written, one object a \
line.

To find a token you hold (a leaked one, say) without putting it on a command line: \
molecule-git-token-helper journal --token-stdin < file. The token is read from stdin, hashed, \
and never printed.";

#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Only entries from the last DURATION: seconds, or with an s, m, h or d suffix (90s, 15m,
    /// 2h, 7d)
    #[arg(long, value_name = "DURATION", value_parser = parse_since)]
    pub since: Option<Duration>,

    /// Only entries of this event
    #[arg(long, value_name = "EVENT", value_parser = parse_event)]
    pub event: Option<Kind>,

    /// Only entries for this owner (the repository's organisation or user)
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,

    /// Only entries of the token with this hashed_token (as GitHub's audit log shows it), or
    /// the start of one (at least 8 characters)
    #[arg(long, value_name = "HASH", conflicts_with = "token_stdin")]
    pub hashed_token: Option<String>,

    /// Read a token from stdin and show only its entries (by its hash; the token is never
    /// printed)
    #[arg(long)]
    pub token_stdin: bool,

    /// Print the entries as written: one JSON object a line
    #[arg(long)]
    pub json: bool,
}

fn parse_event(value: &str) -> Result<Kind, String> {
    Kind::ALL
        .into_iter()
        .find(|k| k.name() == value)
        .ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            format!("expected one of {}", names.join(", "))
        })
}

impl JournalArgs {
    pub(super) fn options(self) -> Options {
        let JournalArgs {
            since,
            event,
            owner,
            hashed_token,
            token_stdin,
            json,
        } = self;
        Options {
            since,
            event,
            owner,
            hashed_token,
            token_stdin,
            json,
        }
    }
}
