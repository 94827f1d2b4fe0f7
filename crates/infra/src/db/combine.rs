//! Combining concurrent single writes into one transaction.
//!
//! A write transaction holds the database's one writer (SQLite's write lock, this process's
//! write gate) for every round trip of its statements, and each round trip is a hop to the
//! connection's thread and back to a busy runtime: on 2 cores, 64 clients creating movies one
//! at a time spent most of their 90-100 ms waiting in line behind each other's hops, not in
//! SQLite (a profile of `POST /movies` found the writer's SQLite work at about a sixth of its
//! time). Writes that queued up while one ran go together in the next transaction instead,
//! with the statements of one.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use movies_domain::{Error, Result};
use tokio::sync::oneshot;

/// The most writes one transaction takes: the rest wait for the next one.
pub(crate) const MAX_COMBINED: usize = 256;

/// A queue of single writes of one kind (`I` in, `O` out), written by one task at a time.
pub(crate) struct Combiner<I, O> {
    state: Mutex<State<I, O>>,
}

impl<I, O> std::fmt::Debug for Combiner<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Combiner").finish_non_exhaustive()
    }
}

struct State<I, O> {
    waiting: Vec<Waiting<I, O>>,
    /// Whether a task is writing what is queued: the one that will take what comes next.
    draining: bool,
}

type Waiting<I, O> = (I, oneshot::Sender<Result<O>>);

impl<I: Send + 'static, O: Send + 'static> Combiner<I, O> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(State { waiting: Vec::new(), draining: false }) })
    }

    /// Queues `item` and waits for its outcome. When no task is writing the queue, one starts:
    /// `write` takes the items queued (in order, at most [`MAX_COMBINED`]) and answers each, in
    /// their order, until the queue is empty. A write starts after its caller stopped waiting
    /// (a client that left, a request that timed out) is not made, as it would not have been
    /// without the queue.
    pub(crate) async fn submit<W, F>(self: &Arc<Self>, item: I, write: W) -> Result<O>
    where
        W: Fn(Vec<I>) -> F + Send + 'static,
        F: Future<Output = Vec<Result<O>>> + Send + 'static,
    {
        let (answer, outcome) = oneshot::channel();
        let start = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.waiting.push((item, answer));
            !std::mem::replace(&mut state.draining, true)
        };
        if start {
            tokio::spawn(self.clone().drain(write));
        }
        outcome.await.map_err(|_| Error::internal("a combined write ended without an answer"))?
    }

    async fn drain<W, F>(self: Arc<Self>, write: W)
    where
        W: Fn(Vec<I>) -> F,
        F: Future<Output = Vec<Result<O>>> + Send + 'static,
    {
        loop {
            let batch: Vec<Waiting<I, O>> = {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                state.waiting.retain(|(_, answer)| !answer.is_closed());
                if state.waiting.is_empty() {
                    state.draining = false;
                    return;
                }
                let n = state.waiting.len().min(MAX_COMBINED);
                state.waiting.drain(..n).collect()
            };
            let (items, answers): (Vec<I>, Vec<_>) = batch.into_iter().unzip();
            // A task of its own, so that a panic in it fails this batch, not the queue.
            match tokio::spawn(write(items)).await {
                Ok(outcomes) if outcomes.len() == answers.len() => {
                    for (answer, outcome) in answers.into_iter().zip(outcomes) {
                        let _ = answer.send(outcome);
                    }
                }
                Ok(_) => fail(answers, "a combined write answered the wrong number of writes"),
                Err(_) => fail(answers, "a combined write failed"),
            }
        }
    }
}

fn fail<O>(answers: Vec<oneshot::Sender<Result<O>>>, why: &'static str) {
    tracing::error!("{why}");
    for answer in answers {
        let _ = answer.send(Err(Error::internal(why)));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Doubles each item, after a pause during which more queue up; notes each batch's size.
    fn doubling(sizes: Arc<Mutex<Vec<usize>>>) -> impl Fn(Vec<u32>) -> Doubled + Send + 'static {
        move |items: Vec<u32>| {
            sizes.lock().unwrap().push(items.len());
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                items.into_iter().map(|i| Ok(i * 2)).collect()
            })
        }
    }

    type Doubled = std::pin::Pin<Box<dyn Future<Output = Vec<Result<u32>>> + Send>>;

    #[tokio::test]
    async fn writes_queued_while_one_runs_go_together_and_each_gets_its_own_outcome() {
        let combiner = Combiner::<u32, u32>::new();
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let (combiner, sizes) = (combiner.clone(), sizes.clone());
                tokio::spawn(async move { combiner.submit(i, doubling(sizes)).await })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap().unwrap(), i as u32 * 2);
        }
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 50);
        assert!(sizes.len() < 50, "no write was combined: {sizes:?}");
        // The queue is idle again: a later write starts a task of its own.
        assert_eq!(combiner.submit(7, doubling(Arc::default())).await.unwrap(), 14);
    }

    #[tokio::test]
    async fn a_panicking_batch_fails_its_writes_and_the_queue_goes_on() {
        let combiner = Combiner::<u32, u32>::new();
        let panics = |_: Vec<u32>| async { panic!("boom") };
        let failed = combiner.submit(1, panics).await;
        assert!(matches!(failed, Err(Error::Internal(_))), "{failed:?}");
        assert_eq!(combiner.submit(2, doubling(Arc::default())).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn a_write_whose_caller_left_before_it_started_is_not_made() {
        let combiner = Combiner::<u32, u32>::new();
        let written = Arc::new(AtomicUsize::new(0));
        let counting = {
            let written = written.clone();
            move |items: Vec<u32>| {
                written.fetch_add(items.len(), Ordering::SeqCst);
                async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    items.into_iter().map(Ok).collect::<Vec<_>>()
                }
            }
        };
        // The first write runs; the second queues behind it, and its caller gives up.
        let first = tokio::spawn({
            let (combiner, counting) = (combiner.clone(), counting.clone());
            async move { combiner.submit(1, counting).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let gave_up =
            tokio::time::timeout(Duration::from_millis(5), combiner.submit(2, counting.clone()));
        assert!(gave_up.await.is_err());
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(combiner.submit(3, counting).await.unwrap(), 3);
        assert_eq!(written.load(Ordering::SeqCst), 2, "the abandoned write was made");
    }
}
