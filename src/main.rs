//! The `brooklet` binary: `run FILE` for batch files, no arguments for the interactive shell.

use brooklet::cli::render::OutputMode;
use brooklet::cli::{Backend, Frontend};
use brooklet::log::kafka::KafkaConfig;
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
    /// A variable for `${NAME}` in statements, as with DEFINE (repeatable): NAME=VALUE.
    #[arg(long = "define", global = true, value_name = "NAME=VALUE", value_parser = parse_define)]
    defines: Vec<(String, String)>,
    /// Settings from a Java properties file, as ksqlDB's ksql-server.properties (e.g.
    /// brooklet.connect.file.dirs, access.control.allow.origin, ksql.max.push.queries).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A setting, after those of --config (repeatable): NAME=VALUE.
    #[arg(long = "property", global = true, value_name = "NAME=VALUE",
          value_parser = brooklet::cli::properties::parse_pair)]
    properties: Vec<(String, String)>,
    /// Keep topics on this Apache Kafka cluster (its bootstrap servers, host:port,...) instead of
    /// the embedded log; also `bootstrap.servers` in --config. --data-dir then keeps only
    /// operator checkpoints.
    #[arg(long, global = true, value_name = "BOOTSTRAP_SERVERS")]
    kafka: Option<String>,
    /// Open the shell on a running server instead of the embedded engine:
    /// http://[user:password@]host[:port].
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// With an https:// --server: a CA certificate (PEM) to trust besides the system's.
    #[arg(long, value_name = "FILE", requires = "server")]
    tls_ca: Option<PathBuf>,
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
    /// Counts a topic's records and sums fields of their JSON values (exactly, for integers
    /// and decimals), e.g. to check a benchmark's result.
    TopicStats {
        topic: String,
        /// A value field to sum (repeatable).
        #[arg(long = "sum")]
        sums: Vec<String>,
    },
    /// Writes a topic's records as JSON lines (partition, offset, timestamp, key and value in hex,
    /// headers) to standard output.
    TopicDump { topic: String },
    /// Appends the records of a `topic-dump`, or JSON lines with text `key`, `value` and
    /// `headers` (standard input), to a topic, creating it if needed.
    TopicLoad { topic: String },
    /// Serves ksqlDB's REST API (HTTP/1.1 and cleartext HTTP/2 on one port) until stopped.
    Server {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8088")]
        listen: std::net::SocketAddr,
        /// Require HTTP basic authentication by the users of this file (`user: password` lines).
        #[arg(long)]
        auth_file: Option<PathBuf>,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key (PEM) of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Reads a password on standard input and prints its Argon2 hash, for --auth-file
    /// (`user: HASH` lines).
    HashPassword,
    /// Runs ksqlDB query-validation-test (QTT) files or directories.
    Qtt {
        paths: Vec<PathBuf>,
        /// Only cases whose full name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Write a machine-readable report (per case: file, name, status, reason).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Exit 0 even when cases fail.
        #[arg(long)]
        report_only: bool,
        /// Seconds a case may take.
        #[arg(long, default_value_t = 20)]
        timeout: u64,
    },
}

struct Shell {
    rt: Arc<tokio::runtime::Runtime>,
    frontend: Frontend,
    /// Completion, over the catalog as it was after the last statement.
    assist: brooklet::cli::complete::SqlAssist,
}

impl Shell {
    fn new(rt: Arc<tokio::runtime::Runtime>, frontend: Frontend) -> Shell {
        let shell = Shell {
            rt,
            frontend,
            assist: Default::default(),
        };
        shell.refresh();
        shell
    }

    /// Takes the catalog completion works from; only on a terminal, where completion is
    /// offered (statements piped in cost no extra requests to a server).
    fn refresh(&self) {
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            self.assist.set(self.rt.block_on(self.frontend.catalog()));
        }
    }
}

impl brooklet_repl::Handler for Shell {
    fn execute(&mut self, statements: &str) {
        let frontend = &mut self.frontend;
        self.rt.block_on(frontend.run_script(statements));
        self.refresh();
    }

    fn assist(&self) -> Option<Arc<dyn brooklet_repl::Assist>> {
        Some(Arc::new(self.assist.clone()))
    }
}

/// Each thread's stack: deep enough for the deepest statement the parser lets through
/// (`sql::limits`), on the main thread as on the runtime's.
const STACK: usize = 64 << 20;

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    std::thread::Builder::new()
        .name("brooklet".into())
        .stack_size(STACK)
        .spawn(real_main)
        .map_or(std::process::ExitCode::FAILURE, |t| {
            t.join().unwrap_or(std::process::ExitCode::FAILURE)
        })
}

/// Tells glibc's allocator to keep up to 64 MiB of freed memory and to serve blocks under
/// 32 MiB from its heap. By default it gave the buffers a query frees after each batch (a few
/// hundred kilobytes each: fetches, builders, Arrow arrays) back to the kernel and had them
/// faulted in and zeroed again for the next batch: q1 spent 7 s of system time instead of 5,
/// and ran 10-20 % longer. (mimalloc did as well, with twice the peak memory.)
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of the allocator's thresholds; it is called before any
    // other thread exists, and a value it refuses leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

fn real_main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BROOKLET_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log written to a file stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK)
        .build()
    {
        Ok(rt) => Arc::new(rt),
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(Command::Qtt {
        paths,
        filter,
        json,
        report_only,
        timeout,
    }) = &cli.command
    {
        return run_qtt(
            &rt,
            paths,
            filter.as_deref(),
            json.as_deref(),
            *report_only,
            *timeout,
        );
    }
    let mode = match cli.output {
        Mode::Tabular => OutputMode::Tabular,
        Mode::Json => OutputMode::Json,
    };
    if let Some(url) = &cli.server {
        if cli.command.is_some() {
            eprintln!("--server opens the shell on a server; it takes no command");
            return std::process::ExitCode::FAILURE;
        }
        return remote_shell(&rt, url, cli.tls_ca.as_deref(), mode, &cli.defines);
    }
    if let Some(Command::HashPassword) = &cli.command {
        return hash_password();
    }
    let settings = brooklet::cli::properties::load(cli.config.as_deref(), &cli.properties);
    let (settings, server_config) = match settings.and_then(|s| {
        let server = brooklet::server::config::ServerConfig::from_properties(&s)?;
        Ok((s, server))
    }) {
        Ok(both) => both,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let kafka = match KafkaConfig::from_settings(cli.kafka.as_deref(), &settings) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(code) = topic_command(&cli, kafka.as_ref()) {
        return code;
    }
    let config = engine_config(&settings, cli.command.as_ref());
    let opened = rt.block_on(async {
        match &kafka {
            Some(k) => Engine::open_kafka(k.clone(), &cli.data_dir, config),
            None => Engine::open(&cli.data_dir, cli.fsync, config),
        }
    });
    let engine = match opened {
        Ok(e) => e,
        Err(e) => {
            match &kafka {
                Some(k) => eprintln!("cannot open the log on Kafka ({}): {e}", k.bootstrap),
                None => eprintln!("cannot open {}: {e}", cli.data_dir.display()),
            }
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
            frontend
                .session
                .variables
                .extend(cli.defines.iter().cloned());
            rt.block_on(async {
                let ok = frontend.run_script(&sql).await;
                if ok && follow {
                    engine.quiesce().await;
                    let _ = tokio::signal::ctrl_c().await;
                } else {
                    // A bounded run: the input ends here, so open windows close.
                    frontend.wait(&engine, engine.finish()).await;
                }
                if ok {
                    std::process::ExitCode::SUCCESS
                } else {
                    std::process::ExitCode::FAILURE
                }
            })
        }
        Some(Command::Server {
            listen,
            auth_file,
            tls_cert,
            tls_key,
        }) => {
            let users = match auth_file
                .as_deref()
                .map(brooklet::server::auth::Users::load)
            {
                None => None,
                Some(Ok(u)) => Some(u),
                Some(Err(e)) => {
                    eprintln!("cannot read the auth file: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => match brooklet::server::tls::acceptor(&cert, &key) {
                    Ok(a) => Some(a),
                    Err(e) => {
                        eprintln!("{e}");
                        return std::process::ExitCode::FAILURE;
                    }
                },
                _ => None,
            };
            let serve = brooklet::server::serve(engine.clone(), listen, users, tls, server_config);
            match rt.block_on(serve) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("cannot serve on {listen}: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Some(
            Command::Qtt { .. }
            | Command::HashPassword
            | Command::TopicStats { .. }
            | Command::TopicDump { .. }
            | Command::TopicLoad { .. },
        ) => unreachable!("handled above"),
        None => {
            let banner = format!(
                "Brooklet {} — ksqlDB-compatible streaming SQL. Data: {}\nType 'help' for help, Ctrl-D to exit.",
                env!("CARGO_PKG_VERSION"),
                cli.data_dir.display()
            );
            let mut shell = Shell::new(rt.clone(), Frontend::new(engine.clone(), mode, false));
            shell
                .frontend
                .session
                .variables
                .extend(cli.defines.iter().cloned());
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

/// The engine's settings: session defaults, and the directories file connectors may use. Those
/// are `brooklet.connect.file.dirs` when set; else, for `run` and the embedded shell, the
/// current directory and the query file's; for `server`, none.
fn engine_config(
    settings: &std::collections::BTreeMap<String, String>,
    command: Option<&Command>,
) -> EngineConfig {
    use brooklet::connect::files::{FileDirs, SETTING};
    let file_dirs = match (settings.get(SETTING), command) {
        (Some(dirs), _) => FileDirs::parse(dirs),
        (None, Some(Command::Server { .. })) => FileDirs::none(),
        (None, Some(Command::Run { file, .. })) => {
            let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
            FileDirs::of([Some(std::path::Path::new(".")), dir].into_iter().flatten())
        }
        (None, _) => FileDirs::of(["."]),
    };
    let properties = settings
        .iter()
        .filter(|(k, _)| {
            k.as_str() != SETTING && !brooklet::server::config::KEYS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    EngineConfig {
        properties,
        file_dirs,
        ..EngineConfig::default()
    }
}

/// `brooklet hash-password`: a password from standard input (its first line), hashed.
fn hash_password() -> std::process::ExitCode {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err()
        || line.trim_end_matches(['\r', '\n']).is_empty()
    {
        eprintln!("hash-password reads the password from standard input");
        return std::process::ExitCode::FAILURE;
    }
    match brooklet::server::auth::hash_password(line.trim_end_matches(['\r', '\n'])) {
        Ok(hash) => {
            println!("{hash}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The shell on a server: the same shell, its statements run by the server.
fn remote_shell(
    rt: &Arc<tokio::runtime::Runtime>,
    url: &str,
    ca_file: Option<&std::path::Path>,
    mode: OutputMode,
    defines: &[(String, String)],
) -> std::process::ExitCode {
    let remote = match brooklet::cli::remote::Remote::new(url, ca_file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let version = match rt.block_on(remote.version()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let banner = format!(
        "Brooklet {} — ksqlDB-compatible streaming SQL. Server: {url} (ksqlDB API {version})\nType 'help' for help, Ctrl-D to exit.",
        env!("CARGO_PKG_VERSION"),
    );
    let frontend = Frontend::with_backend(Backend::Remote(remote), mode, false);
    let mut shell = Shell::new(rt.clone(), frontend);
    shell
        .frontend
        .session
        .variables
        .extend(defines.iter().cloned());
    match brooklet_repl::run(&mut shell, &banner, brooklet_repl::default_history()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `NAME=VALUE` of `--define`; names are case-insensitive (kept upper-cased).
fn parse_define(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got '{s}'"))?;
    Ok((k.trim().to_uppercase(), v.to_string()))
}

fn run_qtt(
    rt: &tokio::runtime::Runtime,
    paths: &[PathBuf],
    filter: Option<&str>,
    json: Option<&std::path::Path>,
    report_only: bool,
    timeout: u64,
) -> std::process::ExitCode {
    use brooklet::qtt::{self, MessageMatch, Status};
    let results = match rt.block_on(qtt::run_paths(
        paths,
        filter,
        std::time::Duration::from_secs(timeout),
    )) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for r in &results {
        if let Status::Fail(why) = &r.status {
            println!("FAIL {}: {}", r.name, why.replace('\n', " "));
        }
    }
    let with_message = results
        .iter()
        .filter(|r| r.message != MessageMatch::NotApplicable)
        .count();
    let matched = results
        .iter()
        .filter(|r| r.message == MessageMatch::Matched)
        .count();
    println!("expected errors: {with_message} raised as expected, {matched} of them with ksqlDB's message text");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&qtt::report_json(&results)).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
    println!("{}", qtt::summary(&results));
    let failed = results.iter().any(|r| matches!(r.status, Status::Fail(_)));
    if failed && !report_only {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// `topic-stats`, `topic-dump` and `topic-load`: they open the log alone (no query runs).
fn topic_command(cli: &Cli, kafka: Option<&KafkaConfig>) -> Option<std::process::ExitCode> {
    use brooklet::cli::topics;
    let open = || -> brooklet::error::Result<brooklet::log::SharedLog> {
        if let Some(k) = kafka {
            return Ok(Arc::new(brooklet::log::kafka::KafkaLog::connect(
                k.clone(),
            )?));
        }
        let log = brooklet::log::EmbeddedLog::open(&cli.data_dir, cli.fsync)?;
        Ok(Arc::new(log))
    };
    Some(match cli.command.as_ref()? {
        Command::TopicStats { topic, sums } => {
            match open().and_then(|log| brooklet::cli::stats::topic_stats(&log, topic, sums)) {
                Ok(v) => {
                    println!("{v}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Command::TopicDump { topic } => report(open().and_then(|log| {
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            topics::dump(&log, topic, &mut out)
        })),
        Command::TopicLoad { topic } => report(open().and_then(|log| {
            let input = std::io::stdin();
            topics::load(&log, topic, &mut input.lock())
        })),
        _ => return None,
    })
}

/// The exit code of a command that counts records, the count on standard error.
fn report(result: brooklet::error::Result<u64>) -> std::process::ExitCode {
    match result {
        Ok(n) => {
            eprintln!("{n} records");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
