//! Scripts: splitting a text into statements (quotes and comments respected) and ksqlDB's
//! variable substitution (`${name}`, defined with DEFINE).

use std::collections::BTreeMap;

/// One statement of a script: where it starts (1-based line and column) and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub line: usize,
    pub column: usize,
    pub text: String,
}

impl Chunk {
    /// The text with blank lines and spaces before it, so that positions the parser reports
    /// are positions in the script.
    pub fn positioned(&self, text: &str) -> String {
        format!(
            "{}{}{}",
            "\n".repeat(self.line - 1),
            " ".repeat(self.column - 1),
            text
        )
    }
}

/// Splits a script at the semicolons outside quotes and comments; each chunk keeps its
/// semicolon. Chunks with nothing but blanks and comments are dropped.
pub fn split_statements(script: &str) -> Vec<Chunk> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = script.char_indices().collect();
    let (mut line, mut column) = (1, 1);
    let mut start: Option<(usize, usize, usize)> = None;
    let mut i = 0;
    let push = |from: usize, to: usize, at: (usize, usize), out: &mut Vec<Chunk>| {
        let text = script[from..to].to_string();
        out.push(Chunk {
            line: at.0,
            column: at.1,
            text,
        });
    };
    while i < chars.len() {
        let (pos, c) = chars[i];
        let next = chars.get(i + 1).map(|x| x.1);
        let begin = |start: &mut Option<(usize, usize, usize)>| {
            if start.is_none() {
                *start = Some((pos, line, column));
            }
        };
        // Advances over chars[i..j], keeping line and column.
        let skip_to = |j: usize, line: &mut usize, column: &mut usize| {
            for (_, ch) in &chars[i..j.min(chars.len())] {
                if *ch == '\n' {
                    *line += 1;
                    *column = 1;
                } else {
                    *column += 1;
                }
            }
            j
        };
        match c {
            '-' if next == Some('-') => {
                let end = (i..chars.len())
                    .find(|j| chars[*j].1 == '\n')
                    .unwrap_or(chars.len());
                i = skip_to(end, &mut line, &mut column);
            }
            '/' if next == Some('*') => {
                let end = (i + 2..chars.len())
                    .find(|j| chars[*j].1 == '*' && chars.get(j + 1).map(|x| x.1) == Some('/'))
                    .map_or(chars.len(), |j| j + 2);
                i = skip_to(end, &mut line, &mut column);
            }
            '\'' | '"' | '`' => {
                begin(&mut start);
                // A doubled quote stands for itself.
                let mut j = i + 1;
                while j < chars.len() {
                    if chars[j].1 == c {
                        if chars.get(j + 1).map(|x| x.1) == Some(c) {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                i = skip_to(j + 1, &mut line, &mut column);
            }
            ';' => {
                begin(&mut start);
                let (from, l, col) = start.take().unwrap_or((pos, line, column));
                i = skip_to(i + 1, &mut line, &mut column);
                push(from, pos + 1, (l, col), &mut out);
            }
            c if c.is_whitespace() => i = skip_to(i + 1, &mut line, &mut column),
            _ => {
                begin(&mut start);
                i = skip_to(i + 1, &mut line, &mut column);
            }
        }
    }
    if let Some((from, l, col)) = start {
        push(from, script.len(), (l, col), &mut out);
    }
    out
}

/// Replaces `${name}` with the variable's value (names are case-insensitive, as in ksqlDB);
/// references to undefined variables stay as they are.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    if vars.is_empty() || !text.contains("${") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find('}') {
            Some(end) => {
                let name = after[..end].trim().to_uppercase();
                match vars.get(&name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[at..at + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_comments() {
        let script = "SET 'a;b' = 'c';\n-- a comment; still a comment\nSELECT \"x;y\" FROM s /* ; */\n  WHERE v = 'it''s;';  \n\n  SHOW STREAMS";
        let chunks = split_statements(script);
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "SET 'a;b' = 'c';",
                "SELECT \"x;y\" FROM s /* ; */\n  WHERE v = 'it''s;';",
                "SHOW STREAMS"
            ]
        );
        assert_eq!((chunks[1].line, chunks[1].column), (3, 1));
        assert_eq!((chunks[2].line, chunks[2].column), (6, 3));
        assert!(split_statements("  -- only a comment\n").is_empty());
    }

    #[test]
    fn substitutes_defined_variables() {
        let vars = BTreeMap::from([("DATA_DIR".to_string(), "/tmp/d".to_string())]);
        assert_eq!(
            substitute(
                "'${data_dir}/bid.jsonl' ${ DATA_DIR } ${other} ${open",
                &vars
            ),
            "'/tmp/d/bid.jsonl' /tmp/d ${other} ${open"
        );
    }
}
