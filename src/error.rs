//! Errors with ksqlDB's kinds: a parse error is a statement error is a generic error.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A syntax error (ksqlDB's ParseFailedException).
    Parse,
    /// A statement that parses but is not valid (KsqlStatementException).
    Statement,
    /// Any other engine error (KsqlException).
    Generic,
    /// A failure while processing records (StreamsException).
    Runtime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn parse(line: u64, col: u64, message: impl fmt::Display) -> Self {
        Error {
            kind: ErrorKind::Parse,
            message: format!("line {line}:{col}: {message}"),
        }
    }
    /// A WITH clause's invalid property: ksqlDB reads source properties while parsing, so
    /// its errors are syntax errors (without a position here).
    pub fn property(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Parse,
            message: message.into(),
        }
    }
    pub fn statement(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Statement,
            message: message.into(),
        }
    }
    pub fn generic(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Generic,
            message: message.into(),
        }
    }
    pub fn runtime(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Runtime,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<crate::log::LogError> for Error {
    fn from(e: crate::log::LogError) -> Self {
        Error::generic(e.to_string())
    }
}

/// A statement error in ksqlDB's words, raised inside DataFusion's planning (a cast ksqlDB
/// does not have, a comparison with NULL): it reaches the user as it is.
pub fn ksql_plan_error(message: impl Into<String>) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::External(Box::new(Error::statement(message)))
}

/// The error in ksqlDB's words a DataFusion error carries, if it carries one.
pub fn ksql_error_in(e: &datafusion::error::DataFusionError) -> Option<Error> {
    match e.find_root() {
        datafusion::error::DataFusionError::External(inner) => {
            inner.downcast_ref::<Error>().cloned()
        }
        _ => None,
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        if let Some(ours) = ksql_error_in(&e) {
            return ours;
        }
        match e.find_root() {
            // Other planning errors are the statement's too.
            datafusion::error::DataFusionError::Plan(m) => {
                Error::statement(m.split("\n\nbacktrace").next().unwrap_or(m))
            }
            _ => Error::statement(e.strip_backtrace()),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::generic(format!("I/O error: {e}"))
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Error::runtime(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
