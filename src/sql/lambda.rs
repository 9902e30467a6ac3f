//! ksqlDB's lambdas, `x => x + 1` and `(k, v) => v`, for sqlparser, which reads `->` (ksqlDB's
//! struct dereference) as its own lambda arrow. Before parsing, each lambda's tokens become one
//! string literal that carries its parameters and its body's text; the functions that take
//! lambdas (TRANSFORM, FILTER, REDUCE) parse and compile that body against their elements'
//! types. A lambda inside a body is rewritten when the body itself is parsed.

use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

/// What starts the literal a lambda becomes: `\u{1}LAMBDA:X,Y:body`.
pub const MARK: &str = "\u{1}LAMBDA:";

/// The parameters (upper-cased) and body of a lambda literal.
pub fn parse_literal(text: &str) -> Option<(Vec<String>, &str)> {
    let rest = text.strip_prefix(MARK)?;
    let (params, body) = rest.split_once(':')?;
    Some((
        params.split(',').map(|p| p.trim().to_uppercase()).collect(),
        body,
    ))
}

fn is_space(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_))
}

/// Rewrites every top-level lambda in `tokens` into its literal.
pub fn rewrite(mut tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].token != Token::RArrow {
            i += 1;
            continue;
        }
        let Some((start, params)) = parameters(&tokens, i) else {
            i += 1;
            continue;
        };
        let end = body_end(&tokens, i + 1);
        let body: String = tokens[i + 1..end]
            .iter()
            .map(|t| match &t.token {
                Token::Whitespace(Whitespace::SingleLineComment { .. }) => " ".to_string(),
                other => other.to_string(),
            })
            .collect();
        let literal = format!("{MARK}{}:{}", params.join(","), body.trim());
        let span = tokens[start].span;
        tokens.splice(
            start..end,
            [TokenWithSpan {
                token: Token::SingleQuotedString(literal),
                span,
            }],
        );
        i = start + 1;
    }
    tokens
}

/// The parameters before the arrow at `arrow`: `x` or `(x, y)`; where they start.
fn parameters(tokens: &[TokenWithSpan], arrow: usize) -> Option<(usize, Vec<String>)> {
    let mut j = arrow.checked_sub(1)?;
    while is_space(&tokens[j].token) {
        j = j.checked_sub(1)?;
    }
    match &tokens[j].token {
        Token::Word(w) => Some((j, vec![w.value.clone()])),
        Token::RParen => {
            let mut names = Vec::new();
            loop {
                j = j.checked_sub(1)?;
                match &tokens[j].token {
                    Token::LParen => break,
                    Token::Word(w) => names.push(w.value.clone()),
                    Token::Comma => {}
                    t if is_space(t) => {}
                    _ => return None,
                }
            }
            names.reverse();
            (!names.is_empty()).then_some((j, names))
        }
        _ => None,
    }
}

/// Where the body starting at `from` ends: at a comma or closing parenthesis outside any
/// parentheses or brackets it opens.
fn body_end(tokens: &[TokenWithSpan], from: usize) -> usize {
    let mut depth = 0i32;
    for (k, t) in tokens.iter().enumerate().skip(from) {
        match t.token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket if depth == 0 => return k,
            Token::RParen | Token::RBracket => depth -= 1,
            Token::Comma | Token::SemiColon | Token::EOF if depth == 0 => return k,
            _ => {}
        }
    }
    tokens.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;

    fn rewritten(sql: &str) -> Vec<String> {
        let tokens = Tokenizer::new(&crate::sql::dialect::KsqlDialect, sql)
            .tokenize_with_location()
            .unwrap();
        rewrite(tokens)
            .into_iter()
            .filter_map(|t| match t.token {
                Token::SingleQuotedString(s) => Some(s.replace(MARK, "L:")),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn lambdas_become_literals() {
        assert_eq!(rewritten("TRANSFORM(a, x => x + 1)"), ["L:x:x + 1"]);
        assert_eq!(
            rewritten("TRANSFORM(m, (k, v) => UCASE(k), (k,v) => v[1])"),
            ["L:k,v:UCASE(k)", "L:k,v:v[1]"]
        );
        // The inner lambda stays text in the outer one's body.
        assert_eq!(
            rewritten("REDUCE(a, 0, (s, x) => s + REDUCE(x, 0, (t, y) => t + y))"),
            ["L:s,x:s + REDUCE(x, 0, (t, y) => t + y)"]
        );
        assert_eq!(rewritten("f(a, 'x')"), ["x"]);
        assert_eq!(
            parse_literal(&format!("{MARK}a,b:a+b")),
            Some((vec!["A".into(), "B".into()], "a+b"))
        );
    }
}
