//! sqlparser's generic dialect, with ksqlDB's binding of `->` (struct dereference) as tight as `.`.

use datafusion::sql::sqlparser::dialect::{Dialect, GenericDialect};
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;
use std::any::TypeId;

#[derive(Debug, Default, Clone, Copy)]
pub struct KsqlDialect;

const G: GenericDialect = GenericDialect;

impl Dialect for KsqlDialect {
    /// Parse like the generic dialect wherever sqlparser asks which dialect this is.
    fn dialect(&self) -> TypeId {
        TypeId::of::<GenericDialect>()
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        G.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '@' || ch == '$'
    }
    /// ksqlDB's lexer reads `1R` as an identifier (its DIGIT_IDENTIFIER), e.g. an alias.
    fn supports_numeric_prefix(&self) -> bool {
        true
    }
    fn supports_named_fn_args_with_assignment_operator(&self) -> bool {
        true
    }
    fn supports_struct_literal(&self) -> bool {
        G.supports_struct_literal()
    }
    fn supports_group_by_expr(&self) -> bool {
        G.supports_group_by_expr()
    }
    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        match parser.peek_token_ref().token {
            Token::Arrow => Some(Ok(
                self.prec_value(datafusion::sql::sqlparser::dialect::Precedence::Period)
            )),
            _ => None,
        }
    }
}
