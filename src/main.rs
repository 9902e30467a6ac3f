//! The `brooklet` binary: `run FILE` for batch files, no arguments for the interactive shell.

use brooklet::cli::render::OutputMode;
use brooklet::cli::Frontend;
use brooklet::log::FsyncPolicy;
use brooklet::{Engine, EngineConfig};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "brooklet",
    version,
    about = "A streaming SQL engine that speaks ksqlDB's language"
)]
struct Cli {
    /// Where the durable log lives.
    #[arg(long, global = true, default_value = "./brooklet-data")]
    data_dir: PathBuf,
    /// When appends are forced to disk: always, never, or an interval such as 100ms.
    #[arg(long, global = true, default_value = "100ms")]
    fsync: FsyncPolicy,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Mode::Tabular)]
    output: Mode,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Tabular,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the statements of a file in order, then exits once every query has caught up.
    Run {
        file: PathBuf,
        /// Keep running persistent queries after the file is done (until Ctrl-C).
        #[arg(long)]
        follow: bool,
    },
}

struct Shell {
    rt: Arc<tokio::runtime::Runtime>,
    frontend: Frontend,
}

impl brooklet_repl::Handler for Shell {
    fn execute(&mut self, statements: &str) {
        let frontend = &mut self.frontend;
        self.rt.block_on(frontend.run_script(statements));
    }
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BROOKLET_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Arc::new(rt),
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mode = match cli.output {
        Mode::Tabular => OutputMode::Tabular,
        Mode::Json => OutputMode::Json,
    };
    let engine = match rt
        .block_on(async { Engine::open(&cli.data_dir, cli.fsync, EngineConfig::default()) })
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot open {}: {e}", cli.data_dir.display());
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = match cli.command {
        Some(Command::Run { file, follow }) => {
            let sql = match std::fs::read_to_string(&file) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("cannot read {}: {e}", file.display());
                    return std::process::ExitCode::FAILURE;
                }
            };
            let mut frontend = Frontend::new(engine.clone(), mode, true);
            rt.block_on(async {
                let ok = frontend.run_script(&sql).await;
                engine.quiesce().await;
                if ok && follow {
                    let _ = tokio::signal::ctrl_c().await;
                }
                if ok {
                    std::process::ExitCode::SUCCESS
                } else {
                    std::process::ExitCode::FAILURE
                }
            })
        }
        None => {
            let banner = format!(
                "Brooklet {} — ksqlDB-compatible streaming SQL. Data: {}\nType 'help' for help, Ctrl-D to exit.",
                env!("CARGO_PKG_VERSION"),
                cli.data_dir.display()
            );
            let mut shell = Shell {
                rt: rt.clone(),
                frontend: Frontend::new(engine.clone(), mode, false),
            };
            match brooklet_repl::run(&mut shell, &banner, brooklet_repl::default_history()) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    };
    engine.shutdown();
    code
}
