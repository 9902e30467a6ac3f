//! Brooklet's interactive shell: line editing, history, and multi-line statements that end in
//! `;`. It knows nothing about SQL semantics: complete statements go to a [`Handler`].

use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use std::path::PathBuf;

/// Runs complete statements typed at the prompt.
pub trait Handler {
    /// Executes one or more complete statements (the text ends with `;`).
    fn execute(&mut self, statements: &str);
}

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
        .build();
    let mut editor = DefaultEditor::with_config(config)?;
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("{banner}");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "ksql> " } else { ">" };
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
