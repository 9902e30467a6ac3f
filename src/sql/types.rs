//! ksqlDB type syntax: `ARRAY<T>`, `MAP<K, V>`, `STRUCT<name T, ...>`, `DECIMAL(p, s)`, primitives.

use super::parser::{err_at, word_upper, P};
use crate::catalog::types::SqlType;
use crate::error::Result;
use datafusion::sql::sqlparser::tokenizer::Token;

/// Parses a type. `pending_gt` counts a `>` left over from a split `>>` token.
pub(crate) fn parse_type(p: &mut P, pending_gt: &mut u32) -> Result<SqlType> {
    nested(p, pending_gt, 1)
}

/// A type at `depth` levels of ARRAY, MAP and STRUCT (at most sqlparser's recursion limit).
fn nested(p: &mut P, pending_gt: &mut u32, depth: usize) -> Result<SqlType> {
    let tok = p.next_token();
    if depth > super::limits::MAX_NESTING {
        return Err(err_at(
            &tok,
            format!(
                "Type nests too deeply: at most {} levels of ARRAY, MAP and STRUCT",
                super::limits::MAX_NESTING
            ),
        ));
    }
    let Some(name) = word_upper(&tok.token) else {
        return Err(err_at(&tok, "Syntax Error\nExpecting a type"));
    };
    Ok(match name.as_str() {
        "BOOLEAN" => SqlType::Boolean,
        "INT" | "INTEGER" => SqlType::Int,
        "BIGINT" => SqlType::Bigint,
        "DOUBLE" => SqlType::Double,
        "STRING" | "VARCHAR" => {
            if p.consume_token(&Token::LParen) {
                let n = p.next_token();
                if !matches!(n.token, Token::Number(_, _)) || !p.consume_token(&Token::RParen) {
                    return Err(err_at(&n, "Syntax Error\nExpecting a length"));
                }
            }
            SqlType::String
        }
        "BYTES" => SqlType::Bytes,
        "TIMESTAMP" => SqlType::Timestamp,
        "DATE" => SqlType::Date,
        "TIME" => SqlType::Time,
        "DECIMAL" => {
            expect(p, Token::LParen)?;
            let precision = number(p)?;
            expect(p, Token::Comma)?;
            let scale = number(p)?;
            expect(p, Token::RParen)?;
            // ksqlDB has no upper bound; Arrow's widest decimal holds 76 digits.
            let widest = datafusion::arrow::datatypes::DECIMAL256_MAX_PRECISION as u64;
            if !(1..=widest).contains(&precision) || scale > precision {
                return Err(err_at(
                    &tok,
                    format!("Invalid DECIMAL({precision}, {scale})"),
                ));
            }
            SqlType::Decimal(precision as u8, scale as i8)
        }
        "ARRAY" => {
            expect(p, Token::Lt)?;
            let inner = nested(p, pending_gt, depth + 1)?;
            close(p, pending_gt)?;
            SqlType::Array(Box::new(inner))
        }
        "MAP" => {
            expect(p, Token::Lt)?;
            let k = nested(p, pending_gt, depth + 1)?;
            expect(p, Token::Comma)?;
            let v = nested(p, pending_gt, depth + 1)?;
            close(p, pending_gt)?;
            SqlType::Map(Box::new(k), Box::new(v))
        }
        "STRUCT" => {
            expect(p, Token::Lt)?;
            let mut fields = Vec::new();
            if !p.consume_token(&Token::Gt) {
                loop {
                    let field = p
                        .parse_identifier()
                        .map_err(|e| super::parser::from_sqlparser(p, e))?;
                    fields.push((
                        crate::sql::ident_name(&field),
                        nested(p, pending_gt, depth + 1)?,
                    ));
                    if *pending_gt > 0 || !p.consume_token(&Token::Comma) {
                        break;
                    }
                }
                close(p, pending_gt)?;
            }
            SqlType::Struct(fields)
        }
        _ => return Err(err_at(&tok, format!("Unknown type: {name}"))),
    })
}

fn number(p: &mut P) -> Result<u64> {
    let t = p.next_token();
    match &t.token {
        Token::Number(n, _) => n
            .parse()
            .map_err(|_| err_at(&t, "Syntax Error\nExpecting an integer")),
        _ => Err(err_at(&t, "Syntax Error\nExpecting an integer")),
    }
}

fn expect(p: &mut P, tok: Token) -> Result<()> {
    let t = p.next_token();
    if t.token == tok {
        Ok(())
    } else {
        Err(err_at(&t, format!("Syntax Error\nExpecting '{tok}'")))
    }
}

fn close(p: &mut P, pending_gt: &mut u32) -> Result<()> {
    if *pending_gt > 0 {
        *pending_gt -= 1;
        return Ok(());
    }
    let t = p.next_token();
    match t.token {
        Token::Gt => Ok(()),
        Token::ShiftRight => {
            *pending_gt += 1;
            Ok(())
        }
        _ => Err(err_at(&t, "Syntax Error\nExpecting '>'")),
    }
}
