//! How deep a statement may nest, checked before and while it is parsed, so no statement can
//! overflow a thread's stack or take more than linear time: sqlparser's recursion limit bounds
//! nesting in expressions (parentheses, function calls, unary operators), the same limit bounds
//! nested types, and a scan of the tokens bounds chains of infix operators (`1 + 1 + ...`),
//! which sqlparser builds in a loop into a tree as deep as the chain is long.

use super::parser::{err_at, word_upper, P};
use crate::error::Result;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};

/// Nesting of parentheses, calls and types (sqlparser's own default, set explicitly).
pub const MAX_NESTING: usize = 50;
/// How deep an expression may be: nesting plus the operators chained at each level. Planning
/// (DataFusion's typing and naming) costs the square of an expression's depth, so this bound is
/// what keeps planning time linear in a statement's size.
pub const MAX_DEPTH: usize = 500;
/// Operators in one statement, in all.
pub const MAX_OPERATORS: usize = 5_000;

/// A parser over `tokens` with the recursion limit set.
pub fn parser(tokens: Vec<TokenWithSpan>) -> P {
    Parser::new(&super::parser::DIALECT)
        .with_recursion_limit(MAX_NESTING)
        .with_tokens_with_locations(tokens)
}

/// Refuses a statement whose expressions could be deeper than [`MAX_DEPTH`]: at every token,
/// the open parentheses and brackets plus the infix operators since the start of each one's
/// current item (a comma or a clause keyword starts a new item) bound the depth of the tree
/// being built there.
pub fn check_depth(tokens: &[TokenWithSpan]) -> Result<()> {
    // Operators chained at each open level; `depth` is their sum plus the levels.
    let mut levels: Vec<usize> = vec![0];
    let mut depth = 1usize;
    let mut operators = 0usize;
    for t in tokens {
        match &t.token {
            Token::LParen | Token::LBracket => {
                levels.push(0);
                depth += 1;
            }
            Token::RParen | Token::RBracket if levels.len() > 1 => {
                depth -= levels.pop().unwrap_or(0) + 1;
            }
            Token::Comma => {
                let current = levels.last_mut().expect("a level is always open");
                depth -= *current;
                *current = 0;
            }
            token if is_operator(token) => {
                *levels.last_mut().expect("a level is always open") += 1;
                depth += 1;
                operators += 1;
            }
            token if starts_clause(token) => {
                let current = levels.last_mut().expect("a level is always open");
                depth -= *current;
                *current = 0;
            }
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err(err_at(
                t,
                format!("Statement is nested too deeply: its expressions may nest or chain at most {MAX_DEPTH} operators"),
            ));
        }
        if operators > MAX_OPERATORS {
            return Err(err_at(
                t,
                format!(
                    "Statement is too long: at most {MAX_OPERATORS} operators in one statement"
                ),
            ));
        }
    }
    Ok(())
}

fn is_operator(token: &Token) -> bool {
    matches!(
        token,
        Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::Spaceship
            | Token::Arrow
            | Token::LongArrow
            | Token::DoubleColon
            | Token::Period
            | Token::Ampersand
            | Token::Pipe
            | Token::Caret
    ) || word_upper(token).is_some_and(|w| {
        matches!(
            w.as_str(),
            "AND" | "OR" | "NOT" | "IS" | "LIKE" | "IN" | "BETWEEN" | "CASE" | "WHEN"
        )
    })
}

fn starts_clause(token: &Token) -> bool {
    word_upper(token).is_some_and(|w| {
        matches!(
            w.as_str(),
            "SELECT"
                | "FROM"
                | "WHERE"
                | "GROUP"
                | "HAVING"
                | "WINDOW"
                | "EMIT"
                | "PARTITION"
                | "LIMIT"
                | "WITH"
                | "VALUES"
                | "JOIN"
                | "ON"
                | "WITHIN"
                | "ORDER"
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::sql::parse;

    #[test]
    fn long_chains_and_deep_nesting_are_refused_quickly() {
        let sum = format!("SELECT {} FROM s;", vec!["1"; 100_000].join(" + "));
        let e = parse(&sum).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{e}");
        assert!(e.message.starts_with("line 1:"), "{e}");
        let parens = format!(
            "SELECT {}1{} FROM s;",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let e = parse(&parens).unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{e}");
        let ty = format!(
            "CREATE STREAM s (c {}INT{}) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');",
            "STRUCT<f ".repeat(5000),
            ">".repeat(5000)
        );
        let e = parse(&ty).unwrap_err();
        assert!(e.message.contains("too deeply"), "{e}");
        // The type parser has its own limit (types are also read outside statements).
        let e = crate::sql::parse_type_text(&format!(
            "{}INT{}",
            "ARRAY<".repeat(5000),
            ">".repeat(5000)
        ))
        .unwrap_err();
        assert!(e.message.contains("Type nests too deeply"), "{e}");
    }

    #[test]
    fn what_real_statements_write_is_allowed() {
        // Many conditions, each on its own: the chain is long but within the limit.
        let conditions: Vec<String> = (0..200).map(|i| format!("a = {i}")).collect();
        assert!(parse(&format!(
            "SELECT * FROM s WHERE {};",
            conditions.join(" OR ")
        ))
        .is_ok());
        // Many items separated by commas do not add up.
        let items: Vec<String> = (0..2000).map(|i| format!("a + {i}")).collect();
        assert!(parse(&format!("SELECT {} FROM s;", items.join(", "))).is_ok());
        // But not without end.
        let items: Vec<String> = (0..5_001).map(|i| format!("a + {i}")).collect();
        let e = parse(&format!("SELECT {} FROM s;", items.join(", "))).unwrap_err();
        assert!(e.message.contains("too long"), "{e}");
        let ty = format!(
            "CREATE STREAM s (c {}INT{}) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');",
            "STRUCT<f ".repeat(40),
            ">".repeat(40)
        );
        assert!(parse(&ty).is_ok());
    }
}
