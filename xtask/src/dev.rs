//! `cargo xtask dev [SERVER ARGS]`: the server, rebuilt and restarted whenever a source changes
//! (what `uvicorn --reload` did for the original). It polls the modification times of the
//! workspace's sources twice a second (no file-watching dependency, so xtask stays quick to
//! build); a change waits for the files to settle, stops the server (SIGTERM, so it shuts down
//! gracefully), rebuilds it and starts it again. A build that fails leaves no server running
//! until the next change. The server gets the environment and SERVER ARGS as given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(500);
/// How long a server may take to stop gracefully before it is killed.
const STOP_PATIENCE: Duration = Duration::from_secs(10);
/// The files that make the server: Rust, manifests, and what `include_str!` takes in.
const EXTENSIONS: &[&str] = &["rs", "toml", "lock", "html", "js", "css", "json", "sql"];

/// Each watched file and when it was last modified.
type Snapshot = BTreeMap<PathBuf, SystemTime>;

pub fn dev(args: &[String]) -> Result<(), String> {
    let root = crate::workspace_root();
    let roots = [root.join("crates"), root.join("migration"), root.join("Cargo.toml")];
    let mut seen = snapshot(&roots);
    eprintln!("xtask dev: watching {} files; Ctrl-C stops", seen.len());
    loop {
        let mut server = build_and_start(args);
        loop {
            sleep(POLL);
            if let Some(Ok(Some(status))) = server.as_mut().map(Child::try_wait) {
                eprintln!("xtask dev: the server stopped ({status}); waiting for a change");
                server = None;
            }
            let changed = changes(&seen, &snapshot(&roots));
            if changed.is_empty() {
                continue;
            }
            // An editor or `git checkout` writes several files: wait until a poll sees none.
            seen = settled(&roots);
            let more = if changed.len() > 1 {
                format!(" and {} more", changed.len() - 1)
            } else {
                String::new()
            };
            eprintln!("xtask dev: {}{more} changed: rebuilding", changed[0].display());
            if let Some(child) = server.take() {
                stop(child);
            }
            break;
        }
    }
}

/// Builds the server and starts it with `args`; `None` (after cargo said why) if the build
/// failed or the server could not start.
fn build_and_start(args: &[String]) -> Option<Child> {
    let mut build = crate::cargo();
    build.args(["build", "-p", "movies-api"]);
    if let Err(e) = crate::run(&mut build) {
        eprintln!("xtask dev: {e}; waiting for a change");
        return None;
    }
    let binary = crate::target_dir().join("debug").join("movies-api");
    match Command::new(&binary).args(args).spawn() {
        Ok(child) => Some(child),
        Err(e) => {
            eprintln!("xtask dev: cannot start {}: {e}", binary.display());
            None
        }
    }
}

/// Asks the server to stop (SIGTERM: it finishes what is in flight), and kills it if it has not
/// after [`STOP_PATIENCE`].
fn stop(mut child: Child) {
    let asked = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    if asked.is_ok_and(|s| s.success()) {
        let deadline = Instant::now() + STOP_PATIENCE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            sleep(Duration::from_millis(50));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A snapshot taken once two polls in a row agree.
fn settled(roots: &[PathBuf]) -> Snapshot {
    let mut last = snapshot(roots);
    loop {
        sleep(POLL);
        let now = snapshot(roots);
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The watched files under `roots` (files or directories) and their modification times.
/// Hidden entries (`.git`, editor swap files) and `target` directories are skipped.
fn snapshot(roots: &[PathBuf]) -> Snapshot {
    fn walk(path: &Path, out: &mut Snapshot) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') || name == "target" {
            return;
        }
        let Ok(meta) = path.metadata() else { return };
        if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(path) else { return };
            for entry in entries.flatten() {
                walk(&entry.path(), out);
            }
        } else if let (true, Ok(modified)) = (is_watched(path), meta.modified()) {
            out.insert(path.to_path_buf(), modified);
        }
    }
    let mut out = Snapshot::new();
    for root in roots {
        walk(root, &mut out);
    }
    out
}

fn is_watched(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e))
}

/// The files added, removed or modified between `before` and `after`, in path order.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<PathBuf> {
    let modified = after.iter().filter(|(path, time)| before.get(*path) != Some(*time));
    let removed = before.keys().filter(|path| !after.contains_key(*path));
    let mut changed: Vec<PathBuf> =
        modified.map(|(p, _)| p.clone()).chain(removed.cloned()).collect();
    changed.sort();
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary one, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let name =
                format!("xtask-dev-{}-{:?}", std::process::id(), std::thread::current().id());
            let dir = std::env::temp_dir().join(name.replace(['(', ')'], ""));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("src")).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn touch(path: &Path, when: SystemTime) {
        std::fs::write(path, "x").unwrap();
        std::fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
    }

    #[test]
    fn a_modified_added_or_removed_source_is_a_change_and_other_files_are_not() {
        let dir = TempDir::new();
        let root = vec![dir.0.clone()];
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (lib, page) = (dir.0.join("src/lib.rs"), dir.0.join("src/index.html"));
        touch(&lib, t0);
        touch(&page, t0);
        touch(&dir.0.join("notes.txt"), t0);
        std::fs::create_dir_all(dir.0.join("target")).unwrap();
        touch(&dir.0.join("target/built.rs"), t0);
        touch(&dir.0.join("src/.lib.rs.swp"), t0);
        let before = snapshot(&root);
        assert_eq!(before.keys().cloned().collect::<Vec<_>>(), [page.clone(), lib.clone()]);

        assert!(changes(&before, &snapshot(&root)).is_empty(), "nothing changed");
        touch(&dir.0.join("notes.txt"), t0 + Duration::from_secs(5));
        touch(&dir.0.join("target/built.rs"), t0 + Duration::from_secs(5));
        assert!(changes(&before, &snapshot(&root)).is_empty(), "no watched file changed");

        touch(&lib, t0 + Duration::from_secs(5));
        assert_eq!(changes(&before, &snapshot(&root)), std::slice::from_ref(&lib));

        let added = dir.0.join("src/new.rs");
        touch(&added, t0);
        std::fs::remove_file(&page).unwrap();
        assert_eq!(changes(&before, &snapshot(&root)), [page, lib, added]);
    }
}
