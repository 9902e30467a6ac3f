//! `CAST(x AS MAP<K, V>)` for sqlparser, whose data types have no `MAP<..>`: before parsing, a
//! CAST whose target type mentions MAP becomes a call `KSQL_CAST_AS(x, 'MAP<K, V>')`, the type
//! as text; the function reads the type with ksqlDB's type syntax and casts as CAST does.

use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Word};

/// The function a CAST to a type sqlparser cannot read becomes.
pub const FUNCTION: &str = "KSQL_CAST_AS";

struct Frame {
    /// Where the `CAST` word is in the output, when this parenthesis is a CAST's.
    cast: Option<usize>,
    /// Where the CAST's `AS` is in the output.
    as_at: Option<usize>,
}

fn word(t: &Token, name: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(name))
}

/// The first `NULL` written as a CAST's target type (`CAST(x AS NULL)`), which ksqlDB's
/// grammar refuses: no type is named NULL.
pub fn null_type(tokens: &[TokenWithSpan]) -> Option<&TokenWithSpan> {
    // Per open parenthesis: whether it is a CAST's; and the token after the CAST's AS.
    let mut frames: Vec<bool> = Vec::new();
    let mut last_word_cast = false;
    let mut after_as = false;
    for t in tokens {
        if matches!(t.token, Token::Whitespace(_)) {
            continue;
        }
        if after_as && word(&t.token, "NULL") {
            return Some(t);
        }
        after_as = word(&t.token, "AS") && frames.last() == Some(&true);
        match &t.token {
            Token::LParen => frames.push(std::mem::take(&mut last_word_cast)),
            Token::RParen => {
                frames.pop();
            }
            _ => {}
        }
        last_word_cast = word(&t.token, "CAST");
    }
    None
}

/// Rewrites every CAST whose target type mentions MAP.
pub fn rewrite(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    if !tokens.iter().any(|t| word(&t.token, "MAP")) {
        return tokens;
    }
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut frames: Vec<Frame> = Vec::new();
    // The last non-whitespace token written, for spotting `CAST (`.
    let mut last_word_cast: Option<usize> = None;
    for t in tokens {
        match &t.token {
            Token::LParen => {
                frames.push(Frame {
                    cast: last_word_cast.take(),
                    as_at: None,
                });
                out.push(t);
                continue;
            }
            Token::Word(_) if word(&t.token, "AS") => {
                if let Some(f) = frames
                    .last_mut()
                    .filter(|f| f.cast.is_some() && f.as_at.is_none())
                {
                    f.as_at = Some(out.len());
                }
            }
            Token::RParen => {
                if let Some(Frame {
                    cast: Some(cast),
                    as_at: Some(as_at),
                }) = frames.pop()
                {
                    let mentions_map = out[as_at + 1..].iter().any(|t| word(&t.token, "MAP"));
                    if mentions_map {
                        let text: String = out[as_at + 1..]
                            .iter()
                            .map(|t| t.token.to_string())
                            .collect();
                        let span = out[as_at].span;
                        out.truncate(as_at);
                        out.push(TokenWithSpan {
                            token: Token::Comma,
                            span,
                        });
                        out.push(TokenWithSpan {
                            token: Token::SingleQuotedString(text.trim().to_string()),
                            span,
                        });
                        if let Token::Word(w) = &out[cast].token {
                            out[cast].token = Token::Word(Word {
                                value: FUNCTION.to_string(),
                                quote_style: None,
                                keyword: w.keyword,
                            });
                        }
                    }
                }
                last_word_cast = None;
                out.push(t);
                continue;
            }
            Token::Whitespace(_) => {
                out.push(t);
                continue;
            }
            _ => {}
        }
        last_word_cast = word(&t.token, "CAST").then_some(out.len());
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::KsqlDialect;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;

    fn rewritten(sql: &str) -> String {
        let tokens = Tokenizer::new(&KsqlDialect, sql)
            .tokenize_with_location()
            .unwrap();
        rewrite(tokens)
            .iter()
            .map(|t| t.token.to_string())
            .collect()
    }

    #[test]
    fn casts_to_maps_become_calls() {
        assert_eq!(
            rewritten("CAST(m AS MAP<STRING, INT>)"),
            "KSQL_CAST_AS(m ,'MAP<STRING, INT>')"
        );
        assert_eq!(
            rewritten("CAST(f(a, b) AS ARRAY<MAP<STRING, INT>>) + CAST(x AS INT)"),
            "KSQL_CAST_AS(f(a, b) ,'ARRAY<MAP<STRING, INT>>') + CAST(x AS INT)"
        );
        assert_eq!(
            rewritten("CAST(CAST(m AS MAP<STRING, BIGINT>) AS MAP<STRING, STRING>)"),
            "KSQL_CAST_AS(KSQL_CAST_AS(m ,'MAP<STRING, BIGINT>') ,'MAP<STRING, STRING>')"
        );
        // Without a MAP, nothing changes.
        assert_eq!(
            rewritten("MAP('a' := CAST(x AS INT))"),
            "MAP('a' := CAST(x AS INT))"
        );
    }
}
