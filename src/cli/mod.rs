//! Front-ends over one engine: batch files (`brooklet run`) and the interactive shell, on the
//! embedded engine or (the shell) on a server.

pub mod complete;
pub mod progress;
pub mod properties;
pub mod remote;
pub mod render;
pub mod stats;
pub mod topics;

use crate::engine::{Engine, Output, Session};
use crate::error::Error;
use crate::exec::push::PushEvent;
use render::{OutputMode, QueryBox};
use std::io::Write;
use std::sync::Arc;

/// Where statements run.
pub enum Backend {
    Embedded(Arc<Engine>),
    /// A server, over its HTTP API (`brooklet --server URL`).
    Remote(remote::Remote),
}

/// How statements are run and shown.
pub struct Frontend {
    pub backend: Backend,
    pub session: Session,
    pub mode: OutputMode,
    /// Batch mode: push queries end when their input is exhausted.
    pub batch: bool,
    pub width: usize,
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

fn json_line(v: serde_json::Value) {
    emit(&v.to_string());
}

impl Frontend {
    pub fn new(engine: Arc<Engine>, mode: OutputMode, batch: bool) -> Self {
        Self::with_backend(Backend::Embedded(engine), mode, batch)
    }

    pub fn with_backend(backend: Backend, mode: OutputMode, batch: bool) -> Self {
        Frontend {
            backend,
            session: Session::default(),
            mode,
            batch,
            width: 120,
        }
    }

    /// What the shell completes from (see [`complete`]); empty if the server cannot say.
    pub async fn catalog(&self) -> complete::Catalog {
        match &self.backend {
            Backend::Embedded(engine) => complete::Catalog::of_engine(engine),
            Backend::Remote(server) => server.catalog().await.unwrap_or_default(),
        }
    }

    pub fn report_error(&self, e: &Error, statement: Option<&str>) {
        match self.mode {
            OutputMode::Json => json_line(
                serde_json::json!({"@type": "error", "kind": format!("{:?}", e.kind), "message": e.message, "statement": statement}),
            ),
            OutputMode::Tabular => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{}", e.message);
            }
        }
    }

    /// Runs every statement of `sql` in order, substituting `${variables}` defined so far;
    /// returns false at the first error.
    pub async fn run_script(&mut self, sql: &str) -> bool {
        for chunk in crate::sql::script::split_statements(sql) {
            if !self.run_chunk(&chunk).await {
                return false;
            }
        }
        true
    }

    async fn run_chunk(&mut self, chunk: &crate::sql::script::Chunk) -> bool {
        let text = crate::sql::script::substitute(&chunk.text, &self.session.variables);
        let parsed = match crate::sql::parse(&chunk.positioned(&text)) {
            Ok(p) => p,
            Err(e) => {
                self.report_error(&e, None);
                return false;
            }
        };
        for p in parsed {
            // A file's pull queries (DELETEs, EXPLAINs) see what the statements before them wrote.
            let reads_state = match &p.statement {
                crate::sql::ast::Statement::Select(q) => q.emit.is_none(),
                crate::sql::ast::Statement::Delete { .. } => true,
                // EXPLAIN shows a query's figures once it has read what is there.
                crate::sql::ast::Statement::Explain(crate::sql::ast::Explain::Query(_)) => true,
                _ => false,
            };
            let result = match &self.backend {
                Backend::Embedded(engine) => {
                    if self.batch && reads_state {
                        self.wait(engine, engine.quiesce()).await;
                    }
                    engine.execute_parsed(&p, &mut self.session)
                }
                Backend::Remote(server) => server.execute(&p, &mut self.session).await,
            };
            match result {
                Ok(out) => self.show(out, &p.text).await,
                Err(e) => {
                    self.report_error(&e, Some(&p.text));
                    return false;
                }
            }
        }
        // In the shell, long loads show their progress after each statement.
        if let (Backend::Embedded(engine), false, OutputMode::Tabular) =
            (&self.backend, self.batch, self.mode)
        {
            for line in crate::engine::connectors::loading(engine) {
                eprintln!("{line}");
            }
        }
        true
    }

    /// Waits for `wait`, with progress lines on a terminal (see [`progress`]).
    pub async fn wait(&self, engine: &Arc<Engine>, wait: impl std::future::Future<Output = ()>) {
        if progress::wanted(self.mode == OutputMode::Tabular) {
            progress::while_waiting(engine, wait).await;
        } else {
            wait.await;
        }
    }

    /// In batch mode, fires once every persistent query has caught up and closed its open
    /// windows (the input is bounded): a push query or PRINT then ends after the input that
    /// exists, with final window results.
    fn drain_signal(&self) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let Backend::Embedded(engine) = &self.backend else {
            return None;
        };
        self.batch.then(|| {
            let engine = engine.clone();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(async move {
                engine.finish().await;
                let _ = tx.send(());
            });
            rx
        })
    }

    async fn show(&mut self, out: Output, statement: &str) {
        match out {
            Output::Message { text, query_id } => match self.mode {
                OutputMode::Json => json_line(
                    serde_json::json!({"@type": "currentStatus", "statementText": statement, "message": text, "queryId": query_id}),
                ),
                OutputMode::Tabular if text.is_empty() => {}
                OutputMode::Tabular => {
                    let l = crate::engine::Listing {
                        kind: "message".into(),
                        title: None,
                        headers: vec!["Message".into()],
                        rows: vec![vec![text]],
                        footer: None,
                        json: serde_json::Value::Null,
                    };
                    emit(&render::listing(&l));
                }
            },
            Output::Listing(l) => match self.mode {
                OutputMode::Json => {
                    let mut j = l.json.clone();
                    if let Some(o) = j.as_object_mut() {
                        o.insert("@type".into(), l.kind.into());
                        o.insert("statementText".into(), statement.into());
                    }
                    json_line(j)
                }
                OutputMode::Tabular => emit(&render::listing(&l)),
            },
            Output::Push(mut q) => {
                let qbox = QueryBox::new(&q.columns, self.width);
                match self.mode {
                    OutputMode::Json => {
                        json_line(crate::exec::push::legacy_header(&q.id, &q.columns, q.pull))
                    }
                    OutputMode::Tabular => emit(&qbox.header()),
                }
                let mut drainer = self.drain_signal();
                loop {
                    let event = tokio::select! {
                        ev = q.next() => ev,
                        _ = async { match drainer.as_mut() { Some(rx) => { let _ = rx.await; } None => std::future::pending().await } } => {
                            drainer = None;
                            q.drain();
                            continue;
                        }
                        _ = tokio::signal::ctrl_c(), if !self.batch => { q.cancel(); None }
                    };
                    match event {
                        Some(PushEvent::Rows(batch)) => match self.mode {
                            OutputMode::Json => {
                                for r in 0..batch.num_rows() {
                                    json_line(
                                        serde_json::json!({"row": {"columns": render::row_json(&batch, r, &q.columns)}}),
                                    );
                                }
                            }
                            OutputMode::Tabular => qbox.rows(&batch).iter().for_each(|l| emit(l)),
                        },
                        Some(PushEvent::End(msg)) => {
                            match self.mode {
                                OutputMode::Json => {
                                    json_line(serde_json::json!({"finalMessage": msg}))
                                }
                                // A pull query ends by itself, as ksqlDB's shell shows it.
                                OutputMode::Tabular if q.pull => emit("Query terminated"),
                                OutputMode::Tabular => emit(&format!("{msg}\nQuery terminated")),
                            }
                            break;
                        }
                        Some(PushEvent::Error(e)) => {
                            self.report_error(&Error::runtime(e), Some(statement));
                            break;
                        }
                        None => {
                            if self.mode == OutputMode::Tabular {
                                emit("Query terminated");
                            }
                            break;
                        }
                    }
                }
            }
            Output::Print(mut p) => {
                let mut drainer = self.drain_signal();
                loop {
                    let line = tokio::select! {
                        l = p.lines.recv() => l,
                        _ = async { match drainer.as_mut() { Some(rx) => { let _ = rx.await; } None => std::future::pending().await } } => {
                            drainer = None;
                            p.drain();
                            continue;
                        }
                        _ = tokio::signal::ctrl_c(), if !self.batch => { p.cancel(); None }
                    };
                    match line {
                        Some(l) => match self.mode {
                            OutputMode::Json => json_line(serde_json::json!({"record": l})),
                            OutputMode::Tabular => emit(&l),
                        },
                        None => break,
                    }
                }
                if self.mode == OutputMode::Tabular {
                    emit("Topic printing ceased");
                }
            }
        }
    }
}
