//! The ksqlDB dialect, parsed with sqlparser's tokenizer and expression parser.
//! ksqlDB-only clauses (WITH, WINDOW, EMIT, WITHIN, PARTITION BY) are parsed on top of it.

pub mod ast;
mod casts;
pub(crate) mod dialect;
mod display;
pub mod lambda;
pub mod limits;
mod parser;
pub mod script;
mod types;

pub use casts::FUNCTION as CAST_AS_FUNCTION;
pub use dialect::KsqlDialect;
pub use display::Quoted;
pub use parser::{parse, parse_columns, parse_expression, parse_type_text, unit_ms};

/// The column a plain or qualified column reference (`c`, `t.c`) names, as [`ident_name`]
/// gives it; `None` for any other expression.
pub fn column_name(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Identifier(id) => Some(ident_name(id)),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident_name),
        _ => None,
    }
}

/// The name an identifier stands for: unquoted names are upper-cased, quoted ones kept.
pub fn ident_name(ident: &ast::Ident) -> String {
    match ident.quote_style {
        None => ident.value.to_uppercase(),
        Some(_) => ident.value.clone(),
    }
}
