//! Brooklet's interactive shell: line editing, history, and multi-line statements that end in
//! `;`. It knows nothing about SQL semantics: complete statements go to a [`Handler`], and
//! Tab completion and hints come from the handler's [`Assist`], which sees the statement
//! typed so far (the lines before this one, and this line).

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hint, Hinter};
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Context, Editor, Helper};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Runs complete statements typed at the prompt.
pub trait Handler {
    /// Executes one or more complete statements (the text ends with `;`).
    fn execute(&mut self, statements: &str);

    /// What completes words and hints as the user types, if anything.
    fn assist(&self) -> Option<Arc<dyn Assist>> {
        None
    }
}

/// Completion and hints for the statement being typed. `before` is the statement's earlier
/// lines (empty on its first line), `line` the line being edited and `pos` the cursor's byte
/// offset in it.
pub trait Assist: Send + Sync {
    /// Where the word being completed starts in `line`, and what may replace it: pairs of
    /// what the list of choices shows (a function with its signature, say) and the text put
    /// in the line.
    fn complete(&self, before: &str, line: &str, pos: usize) -> (usize, Vec<(String, String)>);

    /// A hint shown after the cursor (never inserted): e.g. the signature of the function
    /// whose arguments are being typed.
    fn hint(&self, before: &str, line: &str, pos: usize) -> Option<String>;
}

/// rustyline's helper over an [`Assist`].
struct Assisted {
    assist: Arc<dyn Assist>,
    /// The statement's lines before the one being edited.
    before: Arc<Mutex<String>>,
}

impl Assisted {
    fn before(&self) -> String {
        self.before.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

/// A hint to look at, not to accept with the right arrow.
struct Shown(String);

impl Hint for Shown {
    fn display(&self) -> &str {
        &self.0
    }
    fn completion(&self) -> Option<&str> {
        None
    }
}

impl Completer for Assisted {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = self.assist.complete(&self.before(), line, pos);
        let pairs = words
            .into_iter()
            .map(|(display, replacement)| Pair {
                display,
                replacement,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Assisted {
    type Hint = Shown;
    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<Shown> {
        // Only at the end of the line: a hint drawn mid-line would hide the text after it.
        if pos < line.len() {
            return None;
        }
        self.assist.hint(&self.before(), line, pos).map(Shown)
    }
}

impl Highlighter for Assisted {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }
}

impl Validator for Assisted {}
impl Helper for Assisted {}

/// Whether `buffer` holds complete statements: its last meaningful character is a `;` outside
/// quotes and comments.
pub fn is_complete(buffer: &str) -> bool {
    let mut last = None;
    let mut chars = buffer.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == c {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            continue;
                        }
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return false;
                }
                last = Some(c);
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                let mut closed = false;
                for d in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        closed = true;
                        break;
                    }
                    prev = d;
                }
                if !closed {
                    return false;
                }
            }
            c if c.is_whitespace() => {}
            c => last = Some(c),
        }
    }
    last == Some(';')
}

/// Commands the shell handles itself (with or without a trailing `;`).
enum Command {
    Exit,
    Help,
    History,
}

fn command(line: &str) -> Option<Command> {
    match line
        .trim()
        .trim_end_matches(';')
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "exit" | "quit" => Some(Command::Exit),
        "help" => Some(Command::Help),
        "history" => Some(Command::History),
        _ => None,
    }
}

const HELP: &str = "Statements end with ';' and may span lines. Examples:\n  CREATE STREAM s (id INT KEY, v STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');\n  INSERT INTO s (id, v) VALUES (1, 'a');\n  SET 'auto.offset.reset'='earliest';\n  SELECT * FROM s EMIT CHANGES LIMIT 1;\n  SHOW STREAMS; DESCRIBE s; SHOW QUERIES; TERMINATE <id>;\nShell commands: help, history, exit. Ctrl-C stops a running query or clears the line; Ctrl-D exits.";

/// The default history file: `~/.brooklet-history`.
pub fn default_history() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".brooklet-history"))
}

/// Reads statements until Ctrl-D or `exit`.
pub fn run(
    handler: &mut dyn Handler,
    banner: &str,
    history: Option<PathBuf>,
) -> rustyline::Result<()> {
    let config = rustyline::Config::builder()
        .history_ignore_dups(true)?
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<Assisted, DefaultHistory> = Editor::with_config(config)?;
    let before = Arc::new(Mutex::new(String::new()));
    if let Some(assist) = handler.assist() {
        let before = before.clone();
        editor.set_helper(Some(Assisted { assist, before }));
    }
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("{banner}");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "ksql> " } else { ">" };
        if let Ok(mut b) = before.lock() {
            b.clone_from(&buffer);
            if !buffer.is_empty() {
                b.push('\n');
            }
        }
        match editor.readline(prompt) {
            Ok(line) => {
                if buffer.is_empty() {
                    match command(&line) {
                        Some(Command::Exit) => break,
                        Some(Command::Help) => {
                            println!("{HELP}");
                            continue;
                        }
                        Some(Command::History) => {
                            for (i, h) in editor.history().iter().enumerate() {
                                println!("{:>4}  {h}", i + 1);
                            }
                            continue;
                        }
                        None => {}
                    }
                }
                if !buffer.is_empty() {
                    buffer.push('\n');
                }
                buffer.push_str(&line);
                if is_complete(&buffer) {
                    let _ = editor.add_history_entry(buffer.as_str());
                    if let Some(h) = &history {
                        let _ = editor.save_history(h);
                    }
                    handler.execute(&buffer);
                    buffer.clear();
                } else if buffer.trim().is_empty() {
                    buffer.clear();
                }
            }
            Err(ReadlineError::Interrupted) => {
                println!("^C");
                buffer.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        }
    }
    println!("Exiting Brooklet.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_complete;

    #[test]
    fn statements_complete_on_semicolon_outside_quotes_and_comments() {
        assert!(is_complete("SHOW STREAMS;"));
        assert!(is_complete("SELECT 1\nFROM s;  -- done"));
        assert!(!is_complete("SELECT ';"));
        assert!(!is_complete("SELECT 'a;' FROM s"));
        assert!(is_complete("SELECT 'it''s' FROM s;"));
        assert!(!is_complete("SHOW STREAMS -- ;"));
        assert!(!is_complete("SHOW /* ; */ STREAMS"));
        assert!(!is_complete(""));
    }
}
