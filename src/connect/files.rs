//! Which files the file connectors may touch: only files inside the directories of the
//! `brooklet.connect.file.dirs` setting (a server setting, never a request property). A path is
//! resolved before it is checked (`..` and every symlink followed, as the kernel would), so no
//! spelling of a path escapes; a sink's file must not itself be a symlink, and is opened with
//! `O_NOFOLLOW` in append mode, so a link planted later is refused too and nothing is truncated.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The setting that lists the directories (comma-separated).
pub const SETTING: &str = "brooklet.connect.file.dirs";

/// The directories file connectors may use, each resolved (canonical) when it was allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDirs(Vec<PathBuf>);

impl FileDirs {
    /// No directory: every file connector is refused (`brooklet server`'s default).
    pub fn none() -> FileDirs {
        FileDirs(Vec::new())
    }

    /// The directories of a comma-separated list; ones that do not exist are left out with a
    /// warning (they could not hold a file anyway).
    pub fn parse(list: &str) -> FileDirs {
        FileDirs::of(list.split(',').map(str::trim).filter(|d| !d.is_empty()))
    }

    pub fn of<P: AsRef<Path>>(dirs: impl IntoIterator<Item = P>) -> FileDirs {
        let mut out: Vec<PathBuf> = Vec::new();
        for dir in dirs {
            match dir.as_ref().canonicalize() {
                Ok(d) if d.is_dir() => {
                    if !out.contains(&d) {
                        out.push(d)
                    }
                }
                _ => tracing::warn!(
                    "{SETTING}: '{}' is not a directory; left out",
                    dir.as_ref().display()
                ),
            }
        }
        FileDirs(out)
    }

    fn inside(&self, path: &Path) -> bool {
        self.0.iter().any(|d| path.starts_with(d))
    }

    fn refused(&self, file: &str, why: &str) -> Error {
        let allowed = if self.0.is_empty() {
            "none is allowed".to_string()
        } else {
            let dirs: Vec<String> = self.0.iter().map(|d| d.display().to_string()).collect();
            format!("allowed: {}", dirs.join(", "))
        };
        Error::statement(format!(
            "The file '{file}' {why}: file connectors may only use files in the directories of the setting '{SETTING}' ({allowed})."
        ))
    }

    /// The file a source may read: an existing regular file inside an allowed directory.
    pub fn source(&self, file: &str) -> Result<PathBuf> {
        let resolved = Path::new(file)
            .canonicalize()
            .map_err(|e| Error::statement(format!("Cannot read the file '{file}': {e}")))?;
        if !self.inside(&resolved) {
            return Err(self.refused(file, "is outside the allowed directories"));
        }
        if !resolved.is_file() {
            return Err(Error::statement(format!(
                "Cannot read the file '{file}': not a regular file"
            )));
        }
        Ok(resolved)
    }

    /// The file a sink may append to: its directory resolved inside an allowed one, its name a
    /// plain file name, and the file (when it exists) a regular file, not a symlink.
    pub fn sink(&self, file: &str) -> Result<PathBuf> {
        let path = Path::new(file);
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(self.refused(file, "names no file"));
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let dir = parent.canonicalize().map_err(|e| {
            Error::statement(format!(
                "Cannot write the file '{file}': its directory: {e}"
            ))
        })?;
        let resolved = dir.join(name);
        if !self.inside(&resolved) {
            return Err(self.refused(file, "is outside the allowed directories"));
        }
        match std::fs::symlink_metadata(&resolved) {
            Ok(m) if m.file_type().is_symlink() => {
                Err(self.refused(file, "is a symbolic link, which a sink never follows"))
            }
            Ok(m) if !m.is_file() => Err(Error::statement(format!(
                "Cannot write the file '{file}': not a regular file"
            ))),
            _ => Ok(resolved),
        }
    }
}

/// Opens a sink's file to append, creating it when missing; never follows a symlink in its last
/// component (one planted after the check is refused by the kernel) and never truncates.
pub fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    open_no_follow(std::fs::OpenOptions::new().create(true).append(true), path)
}

/// Opens a source's file to read, refusing a symlink planted after the check.
pub fn open_read(path: &Path) -> std::io::Result<std::fs::File> {
    open_no_follow(std::fs::OpenOptions::new().read(true), path)
}

fn open_no_follow(
    options: &mut std::fs::OpenOptions,
    path: &Path,
) -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, FileDirs) {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("allowed")).unwrap();
        std::fs::create_dir(root.path().join("secret")).unwrap();
        std::fs::write(root.path().join("secret/key"), "k").unwrap();
        std::fs::write(root.path().join("allowed/in.txt"), "x").unwrap();
        let dirs = FileDirs::of([root.path().join("allowed")]);
        (root, dirs)
    }

    #[test]
    fn a_source_reads_only_inside_the_allowed_directories() {
        let (root, dirs) = setup();
        let p = |s: &str| root.path().join(s).display().to_string();
        assert!(dirs.source(&p("allowed/in.txt")).is_ok());
        let e = dirs.source("/etc/passwd").unwrap_err();
        assert!(e.message.contains(SETTING), "{e}");
        // `..` cannot climb out.
        assert!(dirs.source(&p("allowed/../secret/key")).is_err());
        // Nor can a symlink inside the directory.
        std::os::unix::fs::symlink(
            root.path().join("secret/key"),
            root.path().join("allowed/l"),
        )
        .unwrap();
        assert!(dirs.source(&p("allowed/l")).is_err());
        // A directory is not a file.
        assert!(dirs.source(&p("allowed")).is_err());
        // Nothing is allowed by default.
        let e = FileDirs::none().source(&p("allowed/in.txt")).unwrap_err();
        assert!(e.message.contains("none is allowed"), "{e}");
    }

    #[test]
    fn a_sink_writes_only_inside_and_never_through_a_symlink() {
        let (root, dirs) = setup();
        let p = |s: &str| root.path().join(s).display().to_string();
        assert!(dirs.sink(&p("allowed/new.txt")).is_ok());
        assert!(dirs.sink(&p("secret/new.txt")).is_err());
        assert!(dirs.sink(&p("allowed/../secret/new.txt")).is_err());
        assert!(dirs.sink(&p("allowed/..")).is_err());
        assert!(dirs.sink("/tmp/../etc/profile.d/x.sh").is_err());
        std::os::unix::fs::symlink(
            root.path().join("secret/key"),
            root.path().join("allowed/l"),
        )
        .unwrap();
        let e = dirs.sink(&p("allowed/l")).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{e}");
        // A symlinked directory leading out is resolved, and refused.
        std::os::unix::fs::symlink(root.path().join("secret"), root.path().join("allowed/d"))
            .unwrap();
        assert!(dirs.sink(&p("allowed/d/new.txt")).is_err());
        // The kernel refuses a link planted after the check.
        let err = open_append(&root.path().join("allowed/l")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        assert_eq!(
            std::fs::read_to_string(root.path().join("secret/key")).unwrap(),
            "k"
        );
    }
}
