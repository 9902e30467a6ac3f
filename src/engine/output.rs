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

impl Listing {
    /// The listing as ksqlDB's CLI draws it: the title, the table (padded columns, dashed
    /// rules; none when there are no headers), the footer.
    pub fn text(&self) -> String {
        let mut out = String::from("\n");
        if let Some(t) = &self.title {
            out.push_str(t);
            out.push('\n');
        }
        if !self.headers.is_empty() {
            self.table_into(&mut out);
        }
        if let Some(f) = &self.footer {
            out.push('\n');
            out.push_str(f);
        }
        out.push('\n');
        out
    }

    fn table_into(&self, out: &mut String) {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                    .chain([self.headers[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| -> String {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!(" {c:<w$} "))
                .collect::<Vec<_>>()
                .join("|")
        };
        let header = line(&self.headers);
        let rule = "-".repeat(header.chars().count());
        out.push_str(&format!("{header}\n{rule}\n"));
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out.push_str(&rule);
    }

    /// Several listings as one entity, as ksqlDB answers `SHOW STREAMS EXTENDED` (a
    /// `source_descriptions` entity whose `sourceDescriptions` are the `sourceDescription`s):
    /// `kind`, with `list` holding each part's `item`; drawn one part after the other.
    pub fn many(kind: &str, list: &str, item: &str, parts: Vec<Listing>) -> Listing {
        let text: String = parts.iter().map(Listing::text).collect();
        let items: Vec<serde_json::Value> =
            parts.into_iter().map(|p| p.json[item].clone()).collect();
        Listing {
            kind: kind.into(),
            title: Some(text.trim_matches('\n').to_string()),
            headers: Vec::new(),
            rows: Vec::new(),
            footer: None,
            json: serde_json::json!({ list: items }),
        }
    }
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
