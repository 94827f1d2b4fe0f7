//! The dispatcher: after each commit that wrote events, reads the new rows from the log and
//! publishes them in `seq` order. Reading back from the table (rather than publishing from the
//! writer) keeps the order true when two writers finish at once, and never publishes an event
//! whose transaction rolled back.

use std::sync::Arc;

use movies_domain::events::{EventLog, EventPublisher};
use tokio::task::JoinHandle;

use super::SeaEventLog;
use crate::db::Database;

const BATCH: u64 = 1000;

/// Starts publishing every event committed from now on.
pub fn spawn_dispatcher(db: Database, publisher: Arc<dyn EventPublisher>) -> JoinHandle<()> {
    let log = SeaEventLog::new(db.clone());
    let committed = db.committed_signal();
    tokio::spawn(async move {
        let mut last = match log.bounds().await {
            Ok(bounds) => bounds.map(|(_, max)| max).unwrap_or(0),
            Err(e) => {
                tracing::error!(error = %e, "event dispatcher cannot read the log; no live events");
                return;
            }
        };
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
    })
}
