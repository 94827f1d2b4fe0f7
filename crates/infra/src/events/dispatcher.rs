//! The dispatcher: after each commit that wrote events, reads the new rows from the log and
//! publishes them in `seq` order. Reading back from the table (rather than publishing from the
//! writer) keeps the order true when two writers finish at once, and never publishes an event
//! whose transaction rolled back.

use std::sync::Arc;

use movies_domain::Result;
use movies_domain::events::{EventLog, EventPublisher};
use tokio::task::JoinHandle;

use super::SeaEventLog;
use crate::db::Database;

const BATCH: u64 = 1000;

/// Starts publishing every event committed after this call returns. The log's current end is
/// read before returning, so no event committed afterwards can be taken for an old one.
///
/// # Errors
/// As [`movies_domain::events::EventLog`]: `Unavailable` when the log cannot be read for now,
/// `Internal` when a row cannot be read at all.
pub async fn spawn_dispatcher(
    db: Database,
    publisher: Arc<dyn EventPublisher>,
) -> Result<JoinHandle<()>> {
    let log = SeaEventLog::new(db.clone());
    let committed = db.committed_signal();
    let mut last = log.bounds().await?.map(|(_, max)| max).unwrap_or(0);
    Ok(tokio::spawn(async move {
        loop {
            committed.notified().await;
            loop {
                let batch = match log.since(last, BATCH).await {
                    Ok(batch) => batch,
                    Err(e) => {
                        // The next commit wakes us again; nothing is lost, the rows stay.
                        tracing::warn!(error = %e, "event dispatcher could not read the log");
                        break;
                    }
                };
                let full = batch.len() as u64 == BATCH;
                for event in batch {
                    last = event.seq;
                    publisher.publish(event);
                }
                if !full {
                    break;
                }
            }
        }
    }))
}
