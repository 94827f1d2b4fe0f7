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

/// What a batch did with one of its writes.
pub(crate) enum Combined<I, O> {
    Done(Result<O>),
    /// Not made with the others (a name taken among them, say): to be made on its own, for
    /// the outcome it alone would have.
    Alone(I),
}

impl<I: Send + 'static, O: Send + 'static> Combiner<I, O> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(State { waiting: Vec::new(), draining: false }) })
    }

    /// Queues `item` and waits for its outcome. When no task is writing the queue, one starts:
    /// `together` takes the items queued when there are several (in order, at most
    /// [`MAX_COMBINED`]) and says what it did with each, in their order, then `alone` makes one
    /// at a time those it left, and a lone item; until the queue is empty. When `together`
    /// fails as a whole (the database busy or down), each of its writes gets that error, as
    /// each would have alone, rather than a retry one by one. A write whose caller stopped
    /// waiting (a client that left, a request that timed out) before its turn is not made, as
    /// it would not have been without the queue.
    pub(crate) async fn submit<T, F, A, G>(
        self: &Arc<Self>,
        item: I,
        together: T,
        alone: A,
    ) -> Result<O>
    where
        T: Fn(Vec<I>) -> F + Send + 'static,
        F: Future<Output = Result<Vec<Combined<I, O>>>> + Send + 'static,
        A: Fn(I) -> G + Send + 'static,
        G: Future<Output = Result<O>> + Send + 'static,
    {
        let (answer, outcome) = oneshot::channel();
        let start = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.waiting.push((item, answer));
            !std::mem::replace(&mut state.draining, true)
        };
        if start {
            tokio::spawn(self.clone().drain(together, alone));
        }
        outcome.await.map_err(|_| Error::internal("a combined write ended without an answer"))?
    }

    async fn drain<T, F, A, G>(self: Arc<Self>, together: T, alone: A)
    where
        T: Fn(Vec<I>) -> F,
        F: Future<Output = Result<Vec<Combined<I, O>>>> + Send + 'static,
        A: Fn(I) -> G,
        G: Future<Output = Result<O>> + Send + 'static,
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
            // Tasks of their own, so that a panic in one fails its writes, not the queue.
            let outcomes: Vec<Combined<I, O>> = match items.len() {
                1 => items.into_iter().map(Combined::Alone).collect(),
                _ => match tokio::spawn(together(items)).await {
                    Ok(Ok(outcomes)) if outcomes.len() == answers.len() => outcomes,
                    Ok(Err(e)) => {
                        let mut failed: Vec<_> = answers[1..].iter().map(|_| again(&e)).collect();
                        failed.push(e);
                        failed.into_iter().map(|e| Combined::Done(Err(e))).collect()
                    }
                    Ok(Ok(_)) => {
                        fail(answers, "a combined write answered the wrong number of writes");
                        continue;
                    }
                    Err(_) => {
                        fail(answers, "a combined write failed");
                        continue;
                    }
                },
            };
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                match outcome {
                    Combined::Done(outcome) => {
                        let _ = answer.send(outcome);
                    }
                    Combined::Alone(_) if answer.is_closed() => {}
                    Combined::Alone(item) => {
                        let outcome = tokio::spawn(alone(item)).await;
                        let _ = answer.send(outcome.unwrap_or_else(|_| {
                            tracing::error!("a write made alone failed");
                            Err(Error::internal("a write made alone failed"))
                        }));
                    }
                }
            }
        }
    }
}

/// `error` again, for each of the other writes of a batch that failed as a whole: the same
/// variant (what the client is told), with the source's message.
fn again(error: &Error) -> Error {
    match error {
        Error::Unavailable(source) => Error::unavailable(source.to_string()),
        Error::Internal(source) => Error::internal(source.to_string()),
        other => Error::internal(other.to_string()),
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

    type Batch = std::pin::Pin<Box<dyn Future<Output = Result<Vec<Combined<u32, u32>>>> + Send>>;

    /// Doubles each even item and leaves the odd ones to [`tripled`], after a pause during
    /// which more queue up; notes each batch's size.
    fn doubling(sizes: Arc<Mutex<Vec<usize>>>) -> impl Fn(Vec<u32>) -> Batch + Send + 'static {
        move |items: Vec<u32>| {
            sizes.lock().unwrap().push(items.len());
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let each =
                    |i| if i % 2 == 0 { Combined::Done(Ok(i * 2)) } else { Combined::Alone(i) };
                Ok(items.into_iter().map(each).collect())
            })
        }
    }

    async fn tripled(i: u32) -> Result<u32> {
        Ok(i * 3)
    }

    #[tokio::test]
    async fn writes_queued_while_one_runs_go_together_and_each_gets_its_own_outcome() {
        let combiner = Combiner::<u32, u32>::new();
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let (combiner, sizes) = (combiner.clone(), sizes.clone());
                tokio::spawn(async move { combiner.submit(i, doubling(sizes), tripled).await })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let expected = if i % 2 == 0 { i * 2 } else { i * 3 };
            assert_eq!(task.await.unwrap().unwrap(), expected as u32);
        }
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 50);
        assert!(sizes.len() < 50, "no write was combined: {sizes:?}");
        // The queue is idle again: a later write starts a task of its own.
        assert_eq!(combiner.submit(7, doubling(Arc::default()), tripled).await.unwrap(), 21);
    }

    #[tokio::test]
    async fn a_lone_write_is_made_alone() {
        let combiner = Combiner::<u32, u32>::new();
        let sizes = Arc::new(Mutex::new(Vec::new()));
        assert_eq!(combiner.submit(4, doubling(sizes.clone()), tripled).await.unwrap(), 12);
        assert!(sizes.lock().unwrap().is_empty(), "a batch of one went through `together`");
    }

    #[tokio::test]
    async fn a_panicking_batch_fails_its_writes_and_the_queue_goes_on() {
        let combiner = Combiner::<u32, u32>::new();
        let panics = |_: Vec<u32>| async { panic!("boom") };
        let (one, two) =
            tokio::join!(combiner.submit(1, panics, tripled), combiner.submit(3, panics, tripled));
        for failed in [one, two] {
            assert!(matches!(failed, Err(Error::Internal(_))), "{failed:?}");
        }
        let (two, five) = tokio::join!(
            combiner.submit(2, doubling(Arc::default()), tripled),
            combiner.submit(5, doubling(Arc::default()), tripled)
        );
        assert_eq!((two.unwrap(), five.unwrap()), (4, 15));
    }

    #[tokio::test]
    async fn a_write_whose_caller_left_before_its_turn_is_not_made() {
        let combiner = Combiner::<u32, u32>::new();
        let written = Arc::new(AtomicUsize::new(0));
        let made_alone = Arc::new(AtomicUsize::new(0));
        // Every write is left to be made alone, after a pause.
        let counting = {
            let written = written.clone();
            move |items: Vec<u32>| {
                written.fetch_add(items.len(), Ordering::SeqCst);
                async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(items.into_iter().map(Combined::Alone).collect::<Vec<_>>())
                }
            }
        };
        let alone = {
            let made_alone = made_alone.clone();
            move |i: u32| {
                made_alone.fetch_add(1, Ordering::SeqCst);
                async move { Ok(i) }
            }
        };
        // The first batch takes two writes; the second's caller leaves while it runs, so it
        // is not made alone; a third, queued behind, is left before its batch.
        let submit = |i: u32| {
            let (combiner, counting, alone) = (combiner.clone(), counting.clone(), alone.clone());
            tokio::spawn(async move { combiner.submit(i, counting, alone).await })
        };
        let (first, second) = (submit(1), submit(2));
        tokio::time::sleep(Duration::from_millis(10)).await;
        second.abort();
        let third = combiner.submit(3, counting.clone(), alone.clone());
        assert!(tokio::time::timeout(Duration::from_millis(5), third).await.is_err());
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(combiner.submit(4, counting, alone).await.unwrap(), 4);
        assert_eq!(written.load(Ordering::SeqCst), 2, "1 and 2 together, 4 alone; never 3");
        assert_eq!(made_alone.load(Ordering::SeqCst), 2, "1 and 4 alone; never 2");
    }

    #[tokio::test]
    async fn each_write_of_a_batch_that_failed_as_a_whole_gets_its_error_and_none_is_retried() {
        let combiner = Combiner::<u32, u32>::new();
        let busy = |_: Vec<u32>| async { Err(Error::unavailable("database is locked")) };
        let (one, two) =
            tokio::join!(combiner.submit(1, busy, tripled), combiner.submit(2, busy, tripled));
        for failed in [one, two] {
            assert!(matches!(failed, Err(Error::Unavailable(_))), "{failed:?}");
        }
    }

    #[test]
    fn the_other_writes_of_a_failed_batch_get_the_same_kind_of_error() {
        let busy = Error::unavailable("database is locked");
        assert!(
            matches!(again(&busy), Error::Unavailable(s) if s.to_string() == "database is locked")
        );
        let bug = Error::internal("no such table");
        assert!(matches!(again(&bug), Error::Internal(s) if s.to_string() == "no such table"));
    }
}
