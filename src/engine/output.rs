//! What a statement returns: a message, a listing, or a stream of rows.

use crate::exec::push::PushQuery;

/// A listing (SHOW, DESCRIBE): a header row and rows of text, plus the same as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// ksqlDB's entity type, e.g. `streams`, `queries`, `sourceDescription`.
    pub kind: String,
    pub title: Option<String>,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub footer: Option<String>,
    pub json: serde_json::Value,
}

pub enum Output {
    /// A status message (`Stream created`), with the query it started, if any.
    Message {
        text: String,
        query_id: Option<String>,
    },
    Listing(Listing),
    Push(PushQuery),
    /// PRINT: formatted records.
    Print(crate::exec::print::PrintStream),
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Message { text, query_id } => write!(f, "Message({text:?}, {query_id:?})"),
            Output::Listing(l) => write!(f, "Listing({:?})", l.kind),
            Output::Push(q) => write!(f, "Push({})", q.id),
            Output::Print(_) => write!(f, "Print"),
        }
    }
}
