//! The SQLite writer's thread yields the CPU to everything else in the process. sqlx runs each
//! SQLite connection on a thread of its own; the writer's does every write's SQLite work,
//! which for a bulk insert or a generation job is a core's worth for seconds or minutes. At the
//! same priority as the runtime's threads, a job on a 2-core machine took the CPU that
//! requests needed: `GET /movies/{id}` beside a generation job answered in a median of 2.09
//! and 2.53 ms in quick runs (x2.33 of its median alone in a full run). A few steps down (nice
//! +5), the scheduler hands the writer what the requests leave: 1.93 and 1.71 ms, and the job
//! about 40% slower while requests come (docs/operations.md).
//!
//! sqlx gives no hook on the thread it spawns, so the writer's threads are named
//! [`WRITER_THREAD`] and, once a write finds that a new one was opened (the writer closes after
//! [`super::SQLITE_IDLE_CLOSE`] unused, and reopens), each thread of that name is looked up in
//! `/proc/self/task` and given the lower priority. Linux only; elsewhere threads keep theirs.

use std::sync::atomic::{AtomicU64, Ordering};

/// The name of the writer's threads (sqlx adds its connection number). A thread's name is 15
/// bytes at most in `/proc`, so this stays short.
const WRITER_THREAD: &str = "sqlite-writer-";

/// How many steps of `nice` the writer's threads stand below the process's (+5: about a third
/// of a runtime thread's share of a busy core).
#[cfg(target_os = "linux")]
const WRITER_NICE_STEPS: i32 = 5;

/// Counts the writer threads opened and those lowered, so that the lookup runs once per new
/// thread rather than once per write.
#[derive(Debug, Default)]
pub(crate) struct WriterPriority {
    opened: AtomicU64,
    lowered: AtomicU64,
}

impl WriterPriority {
    /// The name of a new writer thread (sqlx's number `id`); counts it as opened.
    pub(crate) fn name_thread(&self, id: u64) -> String {
        self.opened.fetch_add(1, Ordering::SeqCst);
        format!("{WRITER_THREAD}{id}")
    }

    /// Lowers the writer threads opened since the last call: called once a write holds the
    /// writer, whose thread then exists.
    pub(crate) fn lower_new_threads(&self) {
        let opened = self.opened.load(Ordering::SeqCst);
        if self.lowered.swap(opened, Ordering::SeqCst) != opened {
            lower_writer_threads();
        }
    }
}

/// Gives every thread named [`WRITER_THREAD`] the process's priority lowered by
/// [`WRITER_NICE_STEPS`] (the same for a thread lowered already: the call is idempotent).
#[cfg(target_os = "linux")]
fn lower_writer_threads() {
    use rustix::process::{Pid, getpriority_process, setpriority_process};
    // This thread is a runtime thread, at the process's priority.
    let Ok(base) = getpriority_process(None) else { return };
    for pid in writer_threads().into_iter().filter_map(Pid::from_raw) {
        if let Err(e) = setpriority_process(Some(pid), base + WRITER_NICE_STEPS) {
            let tid = pid.as_raw_nonzero().get();
            tracing::debug!(error = %e, tid, "could not lower the SQLite writer's priority");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_writer_threads() {}

/// The ids of this process's threads named [`WRITER_THREAD`].
#[cfg(target_os = "linux")]
fn writer_threads() -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with(WRITER_THREAD))
        })
        .filter_map(|task| task.file_name().to_str()?.parse().ok())
        .collect()
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use rustix::process::{Pid, getpriority_process};

    use super::*;
    use crate::db::connect;

    /// Once a write holds the writer, its thread runs [`WRITER_NICE_STEPS`] below this
    /// process's priority. Other tests' writers run beside this one (and may not have been
    /// lowered yet), so it looks for one lowered thread: without the lowering there is none.
    #[tokio::test]
    async fn the_writers_thread_runs_below_the_process_once_it_has_written() {
        let base = getpriority_process(None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = connect(&format!("sqlite://{}", dir.path().join("p.db").display())).await.unwrap();
        db.write().await.unwrap().rollback().await.unwrap();

        let nice = |tid: i32| getpriority_process(Some(Pid::from_raw(tid).unwrap())).ok();
        let threads = writer_threads();
        assert!(
            threads.iter().any(|&tid| nice(tid) == Some(base + WRITER_NICE_STEPS)),
            "writer threads {threads:?} at {:?}, the process at {base}",
            threads.iter().map(|&tid| nice(tid)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_thread_named_counts_as_lowered_after_one_call() {
        let priority = WriterPriority::default();
        assert_eq!(priority.name_thread(7), "sqlite-writer-7");
        assert_eq!(priority.name_thread(8), "sqlite-writer-8");
        priority.lower_new_threads();
        assert_eq!(priority.lowered.load(Ordering::SeqCst), 2, "both counted as lowered");
    }
}
