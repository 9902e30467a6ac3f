//! Statement parsing: tokens from sqlparser's tokenizer, expressions from its expression parser,
//! ksqlDB's statement shapes and clauses here.

use super::ast::*;
use super::dialect::KsqlDialect;
use super::ident_name;
use super::types::parse_type;
use crate::error::{Error, Result};
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, SelectItemQualifiedWildcardKind, WildcardAdditionalOptions,
};
use datafusion::sql::sqlparser::dialect::{Dialect, Precedence};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

pub(crate) type P = Parser<'static>;
pub(crate) static DIALECT: KsqlDialect = KsqlDialect;

pub(crate) fn word_upper(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_uppercase()),
        _ => None,
    }
}

pub(crate) fn err_at(tok: &TokenWithSpan, msg: impl std::fmt::Display) -> Error {
    let loc = tok.span.start;
    Error::parse(loc.line.max(1), loc.column.max(1), msg)
}

/// Converts a sqlparser error, taking the position from its text (or the current token).
pub(crate) fn from_sqlparser(p: &P, e: ParserError) -> Error {
    let text = match &e {
        ParserError::ParserError(s) | ParserError::TokenizerError(s) => s.clone(),
        ParserError::RecursionLimitExceeded => "Statement is nested too deeply".to_string(),
    };
    if let Some(i) = text.rfind(" at Line: ") {
        let pos = &text[i + " at Line: ".len()..];
        let mut it = pos.split(", Column: ");
        let line = it.next().and_then(|l| l.trim().parse().ok()).unwrap_or(1);
        let col = it.next().and_then(|c| c.trim().parse().ok()).unwrap_or(1);
        return Error::parse(line, col, format!("Syntax Error\n{}", &text[..i]));
    }
    let tok = p.peek_token();
    err_at(&tok, format!("Syntax Error\n{text}"))
}

fn is_word(p: &P, n: usize, w: &str) -> bool {
    word_upper(&p.peek_nth_token_ref(n).token).is_some_and(|v| v == w)
}

fn eat(p: &mut P, w: &str) -> bool {
    if is_word(p, 0, w) {
        p.next_token();
        true
    } else {
        false
    }
}

fn expect_word(p: &mut P, w: &str) -> Result<()> {
    if eat(p, w) {
        Ok(())
    } else {
        let t = p.peek_token();
        Err(err_at(
            &t,
            format!("Syntax error at or near '{}'\nExpecting '{w}'", t.token),
        ))
    }
}

fn expect_tok(p: &mut P, tok: Token) -> Result<()> {
    if p.consume_token(&tok) {
        Ok(())
    } else {
        let t = p.peek_token();
        Err(err_at(
            &t,
            format!("Syntax error at or near '{}'\nExpecting '{tok}'", t.token),
        ))
    }
}

fn name(p: &mut P) -> Result<String> {
    let t = p.peek_token();
    match &t.token {
        Token::Word(w) if w.quote_style.is_some() || !RESERVED.contains(&w.value.to_uppercase().as_str()) => {
            p.next_token();
            Ok(ident_name(&Ident { value: w.value.clone(), quote_style: w.quote_style, span: t.span }))
        }
        Token::Word(w) => Err(err_at(
            &t,
            format!("\"{}\" is a reserved keyword and it can't be used as an identifier. You can use it as an identifier by escaping it as `{}`", w.value.to_lowercase(), w.value),
        )),
        other => Err(err_at(&t, format!("Syntax error at or near '{other}'\nExpecting an identifier"))),
    }
}

/// Words that must be quoted to be names (ksqlDB's reserved words, as far as they matter here).
const RESERVED: &[&str] = &[
    "SELECT", "FROM", "WHERE", "WINDOW", "GROUP", "BY", "HAVING", "LIMIT", "AS", "WITH", "AND",
    "OR", "NOT", "JOIN", "ON", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "WITHIN", "CREATE",
    "INSERT", "INTO", "VALUES", "DROP", "SIZE", "NULL", "TRUE", "FALSE", "CASE", "WHEN", "THEN",
    "ELSE", "END", "IN", "IS", "BETWEEN", "LIKE", "CAST", "EXISTS", "TOPIC", "LOAD",
];

/// Parses a script: every statement, each ending in `;` (the last one may omit it).
pub fn parse(sql: &str) -> Result<Vec<Parsed>> {
    let tokens = Tokenizer::new(&DIALECT, sql)
        .tokenize_with_location()
        .map_err(|e| {
            Error::parse(
                e.location.line.max(1),
                e.location.column.max(1),
                format!("Syntax Error\n{}", e.message),
            )
        })?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let byte_at = |line: u64, col: u64| -> usize {
        let start = line_starts
            .get(line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or(sql.len());
        sql[start..]
            .char_indices()
            .nth(col.saturating_sub(1) as usize)
            .map_or(sql.len(), |(i, _)| start + i)
    };
    let mut out = Vec::new();
    let mut chunk: Vec<TokenWithSpan> = Vec::new();
    for tok in tokens
        .into_iter()
        .chain(std::iter::once(TokenWithSpan::wrap(Token::EOF)))
    {
        let end = matches!(tok.token, Token::SemiColon | Token::EOF);
        if !end {
            chunk.push(tok);
            continue;
        }
        let meaningful: Vec<&TokenWithSpan> = chunk
            .iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .collect();
        if let (Some(first), Some(last)) = (meaningful.first(), meaningful.last()) {
            let (start, stop) = (
                byte_at(first.span.start.line, first.span.start.column),
                byte_at(last.span.end.line, last.span.end.column),
            );
            let text = format!("{};", sql[start..stop.max(start)].trim_end());
            let line = first.span.start.line;
            // The `;` goes with the statement, so an error at its end points at it.
            let mut tokens = std::mem::take(&mut chunk);
            if tok.token == Token::SemiColon {
                tokens.push(tok);
            }
            check_numbers(&tokens)?;
            let statement = parse_one(tokens)?;
            out.push(Parsed {
                statement,
                text,
                line,
            });
        }
        chunk.clear();
    }
    Ok(out)
}

/// ksqlDB's lexer refuses a whole number beyond BIGINT ("Invalid numeric literal") and a
/// number with an exponent beyond DOUBLE ("Number overflows DOUBLE"); a preceding `-` counts.
fn check_numbers(tokens: &[TokenWithSpan]) -> Result<()> {
    let mut previous: Option<&TokenWithSpan> = None;
    for t in tokens {
        if let Token::Number(n, _) = &t.token {
            let negative = previous.is_some_and(|p| p.token == Token::Minus);
            let signed = if negative { format!("-{n}") } else { n.clone() };
            let at = previous.filter(|_| negative).unwrap_or(t).span.start;
            let refuse = |message: String| Err(Error::parse(at.line, at.column, message));
            if n.bytes().all(|b| b.is_ascii_digit()) && signed.parse::<i64>().is_err() {
                return refuse(format!("Invalid numeric literal: {signed}"));
            }
            if n.contains(['e', 'E']) && signed.parse::<f64>().is_ok_and(|d| d.is_infinite()) {
                return refuse(format!("Number overflows DOUBLE: {signed}"));
            }
        }
        if !matches!(t.token, Token::Whitespace(_)) {
            previous = Some(t);
        }
    }
    Ok(())
}

/// Parses a schema string such as `ID BIGINT KEY, NAME STRING` (KEY and PRIMARY KEY alike).
pub fn parse_columns(schema: &str) -> Result<Vec<ColumnDef>> {
    let as_kind = |kind: &str| {
        parse(&format!(
            "CREATE {kind} X ({schema}) WITH (KAFKA_TOPIC='x');"
        ))
    };
    let parsed = as_kind("STREAM").or_else(|_| as_kind("TABLE"))?;
    match parsed.into_iter().next().map(|p| p.statement) {
        Some(Statement::CreateSource { columns, .. }) => Ok(columns),
        _ => Err(Error::parse(1, 1, "not a schema")),
    }
}

/// Parses a type written as ksqlDB writes types (`MAP<STRING, ARRAY<INT>>`).
pub fn parse_type_text(sql: &str) -> Result<crate::catalog::types::SqlType> {
    let tokens = Tokenizer::new(&DIALECT, sql)
        .tokenize_with_location()
        .map_err(|e| Error::parse(e.location.line, e.location.column, e.message))?;
    let tokens: Vec<TokenWithSpan> = tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut p = super::limits::parser(tokens);
    let mut pending_gt = 0;
    let ty = parse_type(&mut p, &mut pending_gt)?;
    let rest = p.next_token();
    if pending_gt > 0 || rest.token != Token::EOF {
        return Err(err_at(&rest, "Syntax Error\nExpecting the end of the type"));
    }
    Ok(ty)
}

/// Parses one expression (used for `INSERT VALUES` defaults and tests).
pub fn parse_expression(sql: &str) -> Result<Expr> {
    let tokens = Tokenizer::new(&DIALECT, sql)
        .tokenize_with_location()
        .map_err(|e| Error::parse(e.location.line, e.location.column, e.message))?;
    super::limits::check_depth(&tokens)?;
    let mut p = super::limits::parser(super::casts::rewrite(super::lambda::rewrite(tokens)));
    p.parse_expr().map_err(|e| from_sqlparser(&p, e))
}

fn parse_one(tokens: Vec<TokenWithSpan>) -> Result<Statement> {
    let tokens: Vec<TokenWithSpan> = tokens
        .into_iter()
        .filter(|t| {
            !matches!(
                t.token,
                Token::Whitespace(
                    Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_)
                )
            )
        })
        .collect();
    super::limits::check_depth(&tokens)?;
    if let Some(t) = super::casts::null_type(&tokens) {
        let at = t.span.start;
        return Err(err_at(
            t,
            format!(
                "Syntax error at or near 'NULL' at line {}:{}",
                at.line, at.column
            ),
        ));
    }
    let mut p = super::limits::parser(super::casts::rewrite(super::lambda::rewrite(tokens)));
    let first = p.peek_token();
    let Some(head) = word_upper(&first.token) else {
        return Err(err_at(
            &first,
            format!("Syntax Error\nUnknown statement '{}'", first.token),
        ));
    };
    let stmt = statement(&mut p, &first, &head)?;
    let _ = p.consume_token(&Token::SemiColon);
    let t = p.peek_token();
    if t.token != Token::EOF {
        return Err(err_at(&t, format!("Syntax error at or near '{}'", t.token)));
    }
    Ok(stmt)
}

/// The statement starting at `first`, whose word is `head` (upper-cased).
fn statement(p: &mut P, first: &TokenWithSpan, head: &str) -> Result<Statement> {
    Ok(match head {
        "EXPLAIN" => {
            p.next_token();
            let next = p.peek_token();
            match word_upper(&next.token).as_deref() {
                Some(h @ ("SELECT" | "CREATE" | "INSERT")) => {
                    let inner = statement(p, &next, h)?;
                    Statement::Explain(Explain::Statement(Box::new(inner)))
                }
                _ if matches!(next.token, Token::Word(_)) => {
                    Statement::Explain(Explain::Query(name(p)?))
                }
                _ => {
                    return Err(err_at(
                        &next,
                        "Syntax Error\nExpecting a query id or a query",
                    ))
                }
            }
        }
        "CREATE" => create(p)?,
        "INSERT" => insert(p)?,
        "SELECT" => Statement::Select(Box::new(query(p)?)),
        "DROP" => drop_stmt(p)?,
        "SHOW" | "LIST" => show(p)?,
        "DESCRIBE" if is_word(p, 1, "CONNECTOR") => {
            p.next_token();
            p.next_token();
            Statement::DescribeConnector(name(p)?)
        }
        "DESCRIBE" if is_word(p, 1, "FUNCTION") => {
            p.next_token();
            p.next_token();
            Statement::DescribeFunction(name(p)?)
        }
        "DEFINE" => {
            p.next_token();
            let var = name(p)?;
            expect_tok(p, Token::Eq)?;
            Statement::Define(var, string(p)?)
        }
        "UNDEFINE" => {
            p.next_token();
            Statement::Undefine(name(p)?)
        }
        "DESCRIBE" => {
            p.next_token();
            let name = name(p)?;
            Statement::Describe {
                name,
                extended: eat(p, "EXTENDED"),
            }
        }
        "TERMINATE" => {
            p.next_token();
            if eat(p, "ALL") {
                Statement::Terminate(None)
            } else {
                let t = p.next_token();
                match &t.token {
                    Token::Word(w) => Statement::Terminate(Some(w.value.clone())),
                    _ => return Err(err_at(&t, "Syntax Error\nExpecting a query id")),
                }
            }
        }
        "SET" => {
            p.next_token();
            let k = string(p)?;
            expect_tok(p, Token::Eq)?;
            Statement::Set(k, string(p)?)
        }
        "UNSET" => {
            p.next_token();
            Statement::Unset(string(p)?)
        }
        "PRINT" => print(p)?,
        "DELETE" => {
            p.next_token();
            expect_word(p, "FROM")?;
            let table = name(p)?;
            let selection = if eat(p, "WHERE") {
                Some(Box::new(p.parse_expr().map_err(|e| from_sqlparser(p, e))?))
            } else {
                None
            };
            Statement::Delete { table, selection }
        }
        "ASSERT" => {
            // ASSERT TOPIC/SCHEMA are ksqlDB statements Brooklet does not run yet; anything else is
            // a syntax error at the word after ASSERT.
            p.next_token();
            let t = p.peek_token();
            let msg = match word_upper(&t.token).as_deref() {
                Some("TOPIC" | "SCHEMA" | "NOT") => {
                    "ASSERT TOPIC and ASSERT SCHEMA are not supported yet".to_string()
                }
                _ => format!("Syntax error at or near '{}'", t.token),
            };
            return Err(err_at(&t, msg));
        }
        _ => {
            let hint = [
                "SHOW",
                "SELECT",
                "CREATE",
                "INSERT",
                "DROP",
                "DESCRIBE",
                "EXPLAIN",
                "TERMINATE",
                "PRINT",
                "LIST",
            ]
            .iter()
            .find(|k| edit_distance(k, head) <= 1)
            .map(|k| format!("\nDid you mean '{k}'?"))
            .unwrap_or_default();
            return Err(err_at(
                first,
                format!("Syntax Error\nUnknown statement '{}'{hint}", first.token),
            ));
        }
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn string(p: &mut P) -> Result<String> {
    let t = p.next_token();
    match &t.token {
        Token::SingleQuotedString(s) => Ok(s.clone()),
        _ => Err(err_at(
            &t,
            format!("Syntax error at or near '{}'\nExpecting a string", t.token),
        )),
    }
}

fn create(p: &mut P) -> Result<Statement> {
    p.next_token();
    if (is_word(p, 0, "SOURCE") || is_word(p, 0, "SINK")) && is_word(p, 1, "CONNECTOR") {
        let source = eat(p, "SOURCE");
        if !source {
            expect_word(p, "SINK")?;
        }
        expect_word(p, "CONNECTOR")?;
        let if_not_exists = is_word(p, 0, "IF") && {
            p.next_token();
            expect_word(p, "NOT")?;
            expect_word(p, "EXISTS")?;
            true
        };
        let name = name(p)?;
        expect_word(p, "WITH")?;
        return Ok(Statement::CreateConnector {
            source,
            if_not_exists,
            name,
            props: props(p)?,
        });
    }
    let or_replace = eat(p, "OR") && {
        expect_word(p, "REPLACE")?;
        true
    };
    let is_source = eat(p, "SOURCE");
    let kind = if eat(p, "STREAM") {
        SourceKind::Stream
    } else if eat(p, "TABLE") {
        SourceKind::Table
    } else {
        let t = p.peek_token();
        return Err(err_at(
            &t,
            format!(
                "Syntax error at or near '{}'\nExpecting STREAM or TABLE",
                t.token
            ),
        ));
    };
    let if_not_exists = is_word(p, 0, "IF") && {
        p.next_token();
        expect_word(p, "NOT")?;
        expect_word(p, "EXISTS")?;
        true
    };
    if is_word(p, 0, "AS") {
        let t = p.peek_token();
        return Err(err_at(
            &t,
            format!(
                "Syntax error at or near 'AS' at line {}:{}",
                t.span.start.line, t.span.start.column
            ),
        ));
    }
    let name = name(p)?;
    let mut columns = Vec::new();
    if p.consume_token(&Token::LParen) {
        loop {
            columns.push(column_def(p, kind)?);
            if !p.consume_token(&Token::Comma) {
                break;
            }
        }
        expect_tok(p, Token::RParen)?;
    }
    let props = if eat(p, "WITH") {
        props(p)?
    } else {
        Vec::new()
    };
    if eat(p, "AS") {
        if !columns.is_empty() || is_source {
            let t = p.peek_token();
            return Err(err_at(
                &t,
                "Syntax Error\nA CREATE ... AS SELECT cannot declare columns",
            ));
        }
        let query = Box::new(query(p)?);
        return Ok(Statement::CreateAs {
            kind,
            or_replace,
            if_not_exists,
            name,
            props,
            query,
        });
    }
    Ok(Statement::CreateSource {
        kind,
        or_replace,
        if_not_exists,
        is_source,
        name,
        columns,
        props,
    })
}

fn column_def(p: &mut P, kind: SourceKind) -> Result<ColumnDef> {
    let name_tok = p.peek_token();
    let name = name(p)?;
    let mut gt = 0;
    let ty = parse_type(p, &mut gt)?;
    let role = if eat(p, "PRIMARY") {
        expect_word(p, "KEY")?;
        if kind == SourceKind::Stream {
            return Err(err_at(&name_tok, format!("Column `{name}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.")));
        }
        ColumnRole::PrimaryKey
    } else if eat(p, "KEY") {
        if kind == SourceKind::Table {
            return Err(err_at(&name_tok, format!("Column `{name}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.")));
        }
        ColumnRole::Key
    } else if eat(p, "HEADERS") {
        ColumnRole::Headers
    } else if eat(p, "HEADER") {
        expect_tok(p, Token::LParen)?;
        let k = string(p)?;
        expect_tok(p, Token::RParen)?;
        ColumnRole::Header(k)
    } else {
        ColumnRole::Value
    };
    Ok(ColumnDef { name, ty, role })
}

fn props(p: &mut P) -> Result<Props> {
    expect_tok(p, Token::LParen)?;
    let mut out = Vec::new();
    loop {
        let t = p.next_token();
        let key = match &t.token {
            Token::Word(w) => w.value.to_uppercase(),
            Token::SingleQuotedString(s) => s.to_uppercase(),
            _ => {
                return Err(err_at(
                    &t,
                    format!(
                        "Syntax error at or near '{}'\nExpecting a property name",
                        t.token
                    ),
                ))
            }
        };
        expect_tok(p, Token::Eq)?;
        let v = p.next_token();
        let value = match &v.token {
            Token::SingleQuotedString(s) => PropValue::Str(s.clone()),
            Token::Number(n, _) => PropValue::Num(n.clone()),
            Token::Minus => match p.next_token().token {
                Token::Number(n, _) => PropValue::Num(format!("-{n}")),
                _ => return Err(err_at(&v, "Syntax Error\nExpecting a number")),
            },
            Token::Word(w) if w.keyword == Keyword::TRUE => PropValue::Bool(true),
            Token::Word(w) if w.keyword == Keyword::FALSE => PropValue::Bool(false),
            _ => {
                return Err(err_at(
                    &v,
                    format!("Syntax error at or near '{}'\nExpecting a literal", v.token),
                ))
            }
        };
        out.push((key, value));
        if !p.consume_token(&Token::Comma) {
            break;
        }
    }
    expect_tok(p, Token::RParen)?;
    Ok(out)
}

fn insert(p: &mut P) -> Result<Statement> {
    p.next_token();
    expect_word(p, "INTO")?;
    let target = name(p)?;
    if is_word(p, 0, "SELECT") || is_word(p, 0, "WITH") {
        let props = if eat(p, "WITH") {
            props(p)?
        } else {
            Vec::new()
        };
        return Ok(Statement::InsertSelect {
            target,
            props,
            query: Box::new(query(p)?),
        });
    }
    let mut columns = None;
    if p.consume_token(&Token::LParen) {
        let mut cols = Vec::new();
        loop {
            cols.push(name(p)?);
            if !p.consume_token(&Token::Comma) {
                break;
            }
        }
        expect_tok(p, Token::RParen)?;
        columns = Some(cols);
    }
    expect_word(p, "VALUES")?;
    expect_tok(p, Token::LParen)?;
    let values = p
        .parse_comma_separated(Parser::parse_expr)
        .map_err(|e| from_sqlparser(p, e))?;
    expect_tok(p, Token::RParen)?;
    Ok(Statement::InsertValues {
        target,
        columns,
        values,
    })
}

fn drop_stmt(p: &mut P) -> Result<Statement> {
    p.next_token();
    if eat(p, "CONNECTOR") {
        let if_exists = is_word(p, 0, "IF") && {
            p.next_token();
            expect_word(p, "EXISTS")?;
            true
        };
        return Ok(Statement::DropConnector {
            if_exists,
            name: name(p)?,
        });
    }
    let kind = if eat(p, "STREAM") {
        SourceKind::Stream
    } else {
        expect_word(p, "TABLE")?;
        SourceKind::Table
    };
    let if_exists = is_word(p, 0, "IF") && {
        p.next_token();
        expect_word(p, "EXISTS")?;
        true
    };
    let name = name(p)?;
    let delete_topic = eat(p, "DELETE") && {
        expect_word(p, "TOPIC")?;
        true
    };
    Ok(Statement::Drop {
        kind,
        if_exists,
        name,
        delete_topic,
    })
}

fn show(p: &mut P) -> Result<Statement> {
    p.next_token();
    eat(p, "ALL");
    let _ = is_word(p, 1, "CONNECTORS") && (eat(p, "SOURCE") || eat(p, "SINK"));
    let t = p.next_token();
    let kind = match word_upper(&t.token).as_deref() {
        Some("STREAMS") => ShowKind::Streams,
        Some("TABLES") => ShowKind::Tables,
        Some("QUERIES") => ShowKind::Queries,
        Some("TOPICS") => ShowKind::Topics,
        Some("PROPERTIES") => ShowKind::Properties,
        Some("FUNCTIONS") => ShowKind::Functions,
        Some("VARIABLES") => ShowKind::Variables,
        Some("CONNECTORS") => ShowKind::Connectors,
        _ => return Err(err_at(&t, format!("Syntax error at or near '{}'\nExpecting STREAMS, TABLES, QUERIES, TOPICS, PROPERTIES or FUNCTIONS", t.token))),
    };
    Ok(Statement::Show(kind, eat(p, "EXTENDED")))
}

fn print(p: &mut P) -> Result<Statement> {
    p.next_token();
    let t = p.next_token();
    let topic = match &t.token {
        Token::SingleQuotedString(s) => s.clone(),
        Token::Word(w) => w.value.clone(),
        _ => return Err(err_at(&t, "Syntax Error\nExpecting a topic name")),
    };
    let from_beginning = eat(p, "FROM") && {
        expect_word(p, "BEGINNING")?;
        true
    };
    if eat(p, "INTERVAL") || eat(p, "SAMPLE") {
        p.parse_literal_uint().map_err(|e| from_sqlparser(p, e))?;
    }
    let limit = if eat(p, "LIMIT") {
        Some(p.parse_literal_uint().map_err(|e| from_sqlparser(p, e))?)
    } else {
        None
    };
    Ok(Statement::Print {
        topic,
        from_beginning,
        limit,
    })
}

fn relation(p: &mut P) -> Result<Relation> {
    let name = name(p)?;
    let alias = if eat(p, "AS") {
        Some(name_of_alias(p)?)
    } else {
        match word_upper(&p.peek_token_ref().token) {
            // Brooklet's own clause; `deduplicate` stays a name elsewhere.
            Some(w) if w == "DEDUPLICATE" && is_word(p, 1, "BY") => None,
            Some(w) if !CLAUSE_WORDS.contains(&w.as_str()) && !RESERVED.contains(&w.as_str()) => {
                Some(name_of_alias(p)?)
            }
            _ if matches!(&p.peek_token_ref().token, Token::Word(w) if w.quote_style.is_some()) => {
                Some(name_of_alias(p)?)
            }
            _ => None,
        }
    };
    Ok(Relation { name, alias })
}

fn name_of_alias(p: &mut P) -> Result<String> {
    name(p)
}

const CLAUSE_WORDS: &[&str] = &[
    "WINDOW",
    "WHERE",
    "GROUP",
    "PARTITION",
    "HAVING",
    "EMIT",
    "ORDER",
    "LIMIT",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "ON",
    "WITHIN",
    "GRACE",
];

fn query(p: &mut P) -> Result<Query> {
    expect_word(p, "SELECT")?;
    let select = p
        .parse_comma_separated(select_item)
        .map_err(|e| from_sqlparser(p, e))?;
    expect_word(p, "FROM")?;
    let from = relation(p)?;
    if p.peek_token_ref().token == Token::Comma {
        let t = p.peek_token();
        return Err(err_at(&t, "Syntax error at or near ','"));
    }
    let mut joins = Vec::new();
    loop {
        let kind = if eat(p, "JOIN") {
            JoinKind::Inner
        } else if eat(p, "INNER") {
            expect_word(p, "JOIN")?;
            JoinKind::Inner
        } else if is_word(p, 0, "LEFT") || is_word(p, 0, "RIGHT") || is_word(p, 0, "FULL") {
            let k = match word_upper(&p.next_token().token).as_deref() {
                Some("LEFT") => JoinKind::Left,
                Some("RIGHT") => JoinKind::Right,
                _ => JoinKind::Full,
            };
            eat(p, "OUTER");
            expect_word(p, "JOIN")?;
            k
        } else {
            break;
        };
        let source = relation(p)?;
        let mut within = None;
        if eat(p, "WITHIN") {
            within = Some(if p.consume_token(&Token::LParen) {
                let before = duration(p)?;
                expect_tok(p, Token::Comma)?;
                let after = duration(p)?;
                expect_tok(p, Token::RParen)?;
                (before, after)
            } else {
                let d = duration(p)?;
                (d, d)
            });
        }
        let grace_ms = if eat(p, "GRACE") {
            expect_word(p, "PERIOD")?;
            Some(duration(p)?)
        } else {
            None
        };
        expect_word(p, "ON")?;
        let on = p.parse_expr().map_err(|e| from_sqlparser(p, e))?;
        joins.push(Join {
            kind,
            source,
            within,
            grace_ms,
            on,
        });
    }
    let window = if eat(p, "WINDOW") {
        Some(window(p)?)
    } else {
        None
    };
    let expr = |p: &mut P| p.parse_expr().map_err(|e| from_sqlparser(p, e));
    let selection = if eat(p, "WHERE") {
        Some(expr(p)?)
    } else {
        None
    };
    let exprs = |p: &mut P| -> Result<Vec<Expr>> {
        // ksqlDB groups and partitions by value expressions: no comparisons or AND/OR.
        let value_expr = |p: &mut P| p.parse_subexpr(KsqlDialect.prec_value(Precedence::Eq));
        let list = p
            .parse_comma_separated(value_expr)
            .map_err(|e| from_sqlparser(p, e))?;
        // `GROUP BY (a, b)` is the same as `GROUP BY a, b`; a parenthesized list among
        // others (`GROUP BY a, (b, c)`) is not in ksqlDB's grammar.
        let list = match <[Expr; 1]>::try_from(list) {
            Ok([Expr::Tuple(items)]) => items,
            Ok([one]) => vec![one],
            Err(list) => list,
        };
        if list.iter().any(|e| matches!(e, Expr::Tuple(_))) {
            let e = ParserError::ParserError("Syntax Error\nmissing ')' at ','".into());
            return Err(from_sqlparser(p, e));
        }
        Ok(list)
    };
    let dedup = if eat(p, "DEDUPLICATE") {
        expect_word(p, "BY")?;
        let by = exprs(p)?;
        expect_word(p, "WITHIN")?;
        let within_ms = duration(p)?;
        Some(Dedup { by, within_ms })
    } else {
        None
    };
    let group_by = if eat(p, "GROUP") {
        expect_word(p, "BY")?;
        exprs(p)?
    } else {
        Vec::new()
    };
    let partition_by = if eat(p, "PARTITION") {
        expect_word(p, "BY")?;
        exprs(p)?
    } else {
        Vec::new()
    };
    let having = if eat(p, "HAVING") {
        Some(expr(p)?)
    } else {
        None
    };
    let order_by = if eat(p, "ORDER") {
        expect_word(p, "BY")?;
        p.parse_comma_separated(|p| p.parse_order_by_expr())
            .map_err(|e| from_sqlparser(p, e))?
    } else {
        Vec::new()
    };
    let emit = if eat(p, "EMIT") {
        if eat(p, "CHANGES") {
            Some(Emit::Changes)
        } else {
            expect_word(p, "FINAL")?;
            Some(Emit::Final)
        }
    } else {
        None
    };
    let limit = if eat(p, "LIMIT") {
        Some(p.parse_literal_uint().map_err(|e| from_sqlparser(p, e))?)
    } else {
        None
    };
    Ok(Query {
        select,
        from,
        joins,
        window,
        selection,
        dedup,
        group_by,
        partition_by,
        having,
        emit,
        order_by,
        limit,
    })
}

/// A select item, including ksqlDB's `struct->*` (all fields of a struct).
fn select_item(p: &mut P) -> Result<SelectItem, ParserError> {
    let mut depth = 0usize;
    let mut i = 0;
    let star = loop {
        match &p.peek_nth_token_ref(i).token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth = depth.saturating_sub(1),
            Token::EOF => break false,
            Token::Comma | Token::SemiColon if depth == 0 => break false,
            Token::Word(w)
                if depth == 0
                    && w.quote_style.is_none()
                    && w.value.eq_ignore_ascii_case("FROM") =>
            {
                break false
            }
            Token::Arrow if depth == 0 && p.peek_nth_token_ref(i + 1).token == Token::Mul => {
                break true
            }
            _ => {}
        }
        i += 1;
    };
    if !star {
        return p.parse_select_item();
    }
    let mut expr = p.parse_subexpr(KsqlDialect.prec_value(Precedence::Period))?;
    loop {
        p.expect_token(&Token::Arrow)?;
        if p.consume_token(&Token::Mul) {
            break;
        }
        let field = p.parse_identifier()?;
        expr = Expr::BinaryOp {
            left: Box::new(expr),
            op: BinaryOperator::Arrow,
            right: Box::new(Expr::Identifier(field)),
        };
    }
    Ok(SelectItem::QualifiedWildcard(
        SelectItemQualifiedWildcardKind::Expr(expr),
        WildcardAdditionalOptions::default(),
    ))
}

/// `n unit`, in milliseconds.
pub(crate) fn duration(p: &mut P) -> Result<i64> {
    let t = p.next_token();
    let n: i64 = match &t.token {
        Token::Number(n, _) => n
            .parse()
            .map_err(|_| err_at(&t, format!("Invalid duration: {n}")))?,
        _ => {
            return Err(err_at(
                &t,
                format!("Syntax error at or near '{}'\nExpecting a number", t.token),
            ))
        }
    };
    let u = p.next_token();
    let unit = word_upper(&u.token).unwrap_or_default();
    let ms = unit_ms(&unit).ok_or_else(|| {
        err_at(
            &u,
            format!(
                "Syntax error at or near '{}'\nExpecting a time unit",
                u.token
            ),
        )
    })?;
    n.checked_mul(ms)
        .ok_or_else(|| err_at(&t, "Duration out of range"))
}

pub fn unit_ms(unit: &str) -> Option<i64> {
    Some(match unit.trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return None,
    })
}

fn window(p: &mut P) -> Result<WindowSpec> {
    // An optional window name: `WINDOW w TUMBLING (...)`.
    if !is_word(p, 0, "TUMBLING") && !is_word(p, 0, "HOPPING") && !is_word(p, 0, "SESSION") {
        p.next_token();
    }
    let t = p.next_token();
    let kind_word = word_upper(&t.token).unwrap_or_default();
    expect_tok(p, Token::LParen)?;
    let kind = match kind_word.as_str() {
        "TUMBLING" => {
            expect_word(p, "SIZE")?;
            WindowKind::Tumbling {
                size_ms: duration(p)?,
            }
        }
        "HOPPING" => {
            expect_word(p, "SIZE")?;
            let size_ms = duration(p)?;
            expect_tok(p, Token::Comma)?;
            expect_word(p, "ADVANCE")?;
            expect_word(p, "BY")?;
            WindowKind::Hopping {
                size_ms,
                advance_ms: duration(p)?,
            }
        }
        "SESSION" => WindowKind::Session {
            gap_ms: duration(p)?,
        },
        _ => {
            return Err(err_at(
                &t,
                "Syntax Error\nExpecting TUMBLING, HOPPING or SESSION",
            ))
        }
    };
    let (mut retention_ms, mut grace_ms) = (None, None);
    while p.consume_token(&Token::Comma) {
        if eat(p, "RETENTION") {
            retention_ms = Some(duration(p)?);
        } else {
            expect_word(p, "GRACE")?;
            expect_word(p, "PERIOD")?;
            grace_ms = Some(duration(p)?);
        }
    }
    expect_tok(p, Token::RParen)?;
    Ok(WindowSpec {
        kind,
        retention_ms,
        grace_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ddl_and_queries() {
        let s = parse(
            "CREATE STREAM s (id INT KEY, `v` ARRAY<MAP<STRING, STRUCT<a INT>>>) WITH (kafka_topic='t', value_format='JSON');\n\
             SELECT id, v->a AS x FROM s WINDOW TUMBLING (SIZE 1 SECOND, GRACE PERIOD 0 SECONDS) WHERE id > 1 EMIT CHANGES LIMIT 3;",
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        let Statement::CreateSource { columns, props, .. } = &s[0].statement else {
            panic!()
        };
        assert_eq!(columns[0].name, "ID");
        assert_eq!(columns[1].name, "v");
        assert_eq!(
            columns[1].ty.to_string(),
            "ARRAY<MAP<STRING, STRUCT<`A` INTEGER>>>"
        );
        assert_eq!(props[0].0, "KAFKA_TOPIC");
        let Statement::Select(q) = &s[1].statement else {
            panic!()
        };
        assert_eq!(q.limit, Some(3));
        assert_eq!(q.emit, Some(Emit::Changes));
        assert_eq!(q.window.as_ref().unwrap().grace_ms, Some(0));
        assert_eq!(s[1].line, 2);
    }

    #[test]
    fn errors_have_line_and_column() {
        let e = parse("SHOW STREAMS;\nSELECT * FORM t;").unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Parse);
        assert!(e.message.starts_with("line 2:10:"), "{}", e.message);
        let e = parse("sho streams;").unwrap_err();
        assert!(e.message.contains("Did you mean 'SHOW'?"), "{}", e.message);
        let e = parse("CREATE STREAM ORDERS (c1 VARCHAR, size INTEGER) WITH (kafka_topic='o', value_format='json');").unwrap_err();
        assert!(
            e.message.starts_with("line 1:35:") && e.message.contains("reserved keyword"),
            "{}",
            e.message
        );
    }
}
