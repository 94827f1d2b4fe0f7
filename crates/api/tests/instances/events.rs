//! Events across instances: a write through one instance reaches the WebSocket listeners of
//! every instance, in one `seq` order, each event once, even while PostgreSQL drops the
//! instances' LISTEN connections.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{EVENT_PATIENCE, Instance, Listener, TestDb, is_about};

/// A and B over one fresh database, B started once A is up (so that A alone migrates it).
pub async fn two_instances(db: &TestDb, env: &[(&str, &str)]) -> (Instance, Instance) {
    let a = Instance::start("A", db, env).await;
    let b = Instance::start("B", db, env).await;
    (a, b)
}

#[tokio::test]
async fn a_write_through_a_reaches_a_listener_on_b() {
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db, &[]).await;
    let token = a.admin_token().await;
    // Without `since`, B's listener gets only live events: this one can come only from A's
    // commit crossing over, not from a replay of the table.
    let mut on_b = b.listen().await;

    let movie = a.create_movie(&token, "Alien", 1979).await;

    let id = movie["id"].as_i64().expect("an id");
    let event = on_b.wait_for("A's movie add", |e| is_about(e, "movie", "add", id)).await;
    assert_eq!(event["data"], movie, "the event carries the movie as A answered it");
}

#[tokio::test]
async fn a_thousand_writes_over_both_reach_both_listeners_in_one_order_each_once() {
    const WRITERS: usize = 8;
    const WRITES_EACH: usize = 125;
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db, &[]).await;
    let token = a.admin_token().await;
    let mut on_a = a.listen().await;
    let mut on_b = b.listen().await;

    // Eight writers at once, four through A and four through B.
    let instances = Arc::new([a, b]);
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (instances, token) = (instances.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            let through = &instances[writer % 2];
            let mut ids = Vec::new();
            for n in 0..WRITES_EACH {
                let movie =
                    through.create_movie(&token, &format!("Movie {writer}-{n}"), 1990).await;
                ids.push(movie["id"].as_i64().expect("an id"));
            }
            ids
        }));
    }
    let mut written = BTreeSet::new();
    for writer in writers {
        written.extend(writer.await.expect("the writer finished"));
    }
    assert_eq!(written.len(), WRITERS * WRITES_EACH);

    let got_a = movies_added(&mut on_a, &written).await;
    let got_b = movies_added(&mut on_b, &written).await;
    assert_eq!(got_a.len(), written.len(), "A's listener got each write once");
    assert_eq!(got_b.len(), written.len(), "B's listener got each write once");
    let (seqs_a, seqs_b) = (on_a.seqs(), on_b.seqs());
    assert!(seqs_a.windows(2).all(|w| w[0] < w[1]), "A's listener got its events in seq order");
    assert!(seqs_b.windows(2).all(|w| w[0] < w[1]), "B's listener got its events in seq order");
    assert_eq!(seqs_a, seqs_b, "both listeners got the same events in the same order");
    assert_eq!(got_a, got_b, "each movie has the same seq on both");
}

/// Reads `listener` until it has an `add` of every movie in `ids`; returns each movie's `seq`
/// (and panics on a second `add` of one).
async fn movies_added(listener: &mut Listener, ids: &BTreeSet<i64>) -> BTreeMap<i64, i64> {
    let mut seen = BTreeMap::new();
    while seen.len() < ids.len() {
        let event = listener.next_event().await;
        if event["entity"] != "movie" || event["operation"] != "add" {
            continue;
        }
        let id = event["data"]["id"].as_i64().expect("an id");
        assert!(ids.contains(&id), "an add of a movie no writer made: {event}");
        let seq = event["seq"].as_i64().expect("a seq");
        if let Some(first) = seen.insert(id, seq) {
            panic!("movie {id} was announced twice, at seq {first} and {seq}");
        }
    }
    seen
}

#[tokio::test]
async fn dropping_the_listen_connections_during_writes_loses_no_event() {
    const WRITES: usize = 300;
    /// Connections ended before the writes may stop, so that they surely overlapped.
    const KILLS: usize = 3;
    let Some(db) = TestDb::create().await else { return };
    let db = Arc::new(db);
    let (a, b) = two_instances(&db, &[]).await;
    let token = a.admin_token().await;
    let mut on_a = a.listen().await;
    let mut on_b = b.listen().await;

    // The killer ends every LISTEN connection of the database (both instances') every 100 ms
    // until the writes are over.
    let (writing, killed) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicUsize::new(0)));
    let killer = {
        let (db, writing, killed) = (db.clone(), writing.clone(), killed.clone());
        tokio::spawn(async move {
            while writing.load(Ordering::SeqCst) {
                killed.fetch_add(db.terminate_listen_connections().await, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut written = BTreeSet::new();
    let started = tokio::time::Instant::now();
    let mut n = 0;
    while written.len() < WRITES || killed.load(Ordering::SeqCst) < KILLS {
        let through = if n % 2 == 0 { &a } else { &b };
        let movie = through.create_movie(&token, &format!("Movie {n}"), 2001).await;
        written.insert(movie["id"].as_i64().expect("an id"));
        n += 1;
        assert!(
            started.elapsed() < EVENT_PATIENCE * 2,
            "only {} LISTEN connections were found to end in {:?}: does the server LISTEN on \
             connections of its own?",
            killed.load(Ordering::SeqCst),
            started.elapsed()
        );
    }
    writing.store(false, Ordering::SeqCst);
    killer.await.expect("the killer stopped");
    println!(
        "{} writes, {} LISTEN connections ended meanwhile",
        written.len(),
        killed.load(Ordering::SeqCst)
    );

    let got_a = movies_added(&mut on_a, &written).await;
    let got_b = movies_added(&mut on_b, &written).await;
    assert_eq!(got_a, got_b, "both listeners got every write, each once, at the same seq");
    assert_eq!(on_a.seqs(), on_b.seqs(), "both listeners got the same events in one order");
    // Both instances listen again: a write after the storm still crosses over.
    let movie = a.create_movie(&token, "After the storm", 2002).await;
    let id = movie["id"].as_i64().expect("an id");
    on_b.wait_for("the write after the storm", |e: &Value| is_about(e, "movie", "add", id)).await;
}
