//! POSIX shell words, for helper lines in git's config. Git runs a helper
//! line that starts with `/` or `!` through `sh -c`, so every argument we
//! write there is quoted with [`quote`]; [`split`] reads a line back when it
//! is a plain command (no expansions, redirections or control operators).

/// Quote `word` so that `sh` reads it back as exactly one word, unchanged.
/// Words made only of safe characters are left bare, for readable config.
pub fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Split a plain command line into words, as `sh` would. `None` when the
/// line needs more than quoting to be understood: a variable, a command
/// substitution, a glob, a tilde, a comment, a redirection, `;`, `&`, `|`,
/// parentheses, or an unterminated quote.
pub fn split(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word was started, even if empty so far ('' is a word).
    let mut started = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            '\'' => {
                started = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            '\n' => {}
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        '$' | '`' => return None,
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                started = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return None,
                }
            }
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '*' | '?' | '[' => return None,
            '#' | '~' if !started => return None,
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_words_stay_bare() {
        for w in [
            "store",
            "--file=/a/b.txt",
            "http://127.0.0.1:8080",
            "user@host",
            "a,b+c%",
        ] {
            assert_eq!(quote(w), w);
        }
    }

    #[test]
    fn other_words_are_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("!f() { echo $X; }; f"), "'!f() { echo $X; }; f'");
        assert_eq!(quote("~/x"), "'~/x'");
        assert_eq!(quote("#x"), "'#x'");
    }

    #[test]
    fn quote_then_split_round_trips() {
        let words = [
            "/usr/bin/x",
            "",
            "a b",
            "it's \"quoted\"",
            "!f() { echo \"a#b;c\" $HOME `id`; }; f",
            "tab\there",
            "new\nline",
            "back\\slash",
            "'",
            "''",
            "--file=/tmp/with space/store",
            "ünïcödé",
        ];
        let line = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
        assert_eq!(split(&line).unwrap(), words);
    }

    #[test]
    fn the_real_shell_agrees() {
        // sh prints each argument on its own line between markers.
        let words = ["a b", "it's", "$HOME", "x\\y", "", "!bang", "*"];
        let line = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("for a in {line}; do printf '<%s>' \"$a\"; done"))
            .output()
            .unwrap();
        let expected: String = words.iter().map(|w| format!("<{w}>")).collect();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    }

    #[test]
    fn split_reads_plain_command_lines() {
        assert_eq!(split("  a  b\tc ").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split(r#"a "b c" 'd e' f\ g"#).unwrap(),
            ["a", "b c", "d e", "f g"]
        );
        assert_eq!(split(r#""a\"b\\c\d""#).unwrap(), [r#"a"b\c\d"#]);
        assert_eq!(split("a'b'\"c\"d").unwrap(), ["abcd"]);
        assert_eq!(split("a '' b").unwrap(), ["a", "", "b"]);
        assert_eq!(split("a=b c#d").unwrap(), ["a=b", "c#d"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn split_refuses_what_needs_a_shell() {
        for line in [
            "a; b",
            "a | b",
            "a && b",
            "a > f",
            "echo $X",
            "echo \"$X\"",
            "echo `id`",
            "f() { x; }",
            "ls *",
            "a #comment",
            "~/bin/x",
            "'unterminated",
            "\"unterminated",
            "trailing\\",
        ] {
            assert_eq!(split(line), None, "{line:?}");
        }
    }
}
