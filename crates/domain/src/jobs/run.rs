//! How a job runs: batch after batch through the movie and character repositories, each batch
//! crediting the job in its own transaction, until the job is done, cancelled or failed.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{BATCH_SIZE, Job, JobCredit, JobKind, JobService, JobStatus};
use crate::error::{Error, RecordKind, Result};
use crate::movies::NewMovie;
use crate::text::{MAX_NAME_CHARS, Name};

/// How many times a batch inserts the movies whose names were taken, each time under a new
/// suffix, before the job fails.
pub(super) const NAME_ATTEMPTS: usize = 4;

/// Why a character job fails when every movie is gone.
pub const NO_MOVIES_LEFT: &str = "there are no movies left to attach characters to";

/// What one batch did.
enum Batch {
    /// Rows were stored and credited to the job.
    Stored,
    /// A character batch found no movie to attach characters to.
    NoMovies,
}

impl JobService {
    /// Works a claimed (`running`) `job` through to its end and records that end with
    /// `JobStore::finish` (which records `NewEvent::job_done`); returns the ended job.
    /// `on_batch` hears the job's `done` after every batch.
    ///
    /// The rules: batches of [`BATCH_SIZE`] rows through `MovieRepository::insert_many` or
    /// `CharacterRepository::insert_many`, each crediting the job in its own transaction, so
    /// `done` is exact whenever the run stops. The job ends `done` at the requested count;
    /// `cancelled` after the batch during which a cancel was asked; `failed` with
    /// [`NO_MOVIES_LEFT`] when a character batch samples no movie, and with the error's message
    /// on any other error (`Unauthorized` included: the owner was deleted). A character batch
    /// whose movie was deleted between sampling and insert (`NotFound(Movie)`: nothing stored)
    /// samples again. Movie names are unique: a batch gives a name already taken a suffix
    /// unique to the job and the row, and inserts again, under a new suffix, what a concurrent
    /// writer took meanwhile, at most `NAME_ATTEMPTS` (4) times in all, then fails `Internal`.
    ///
    /// # Errors
    /// Only what `JobStore::finish` returns: the job then stays `running` in the store, and
    /// `JobService::requeue_interrupted` puts it back in the queue, with its progress, at the
    /// next start.
    pub async fn run(&self, job: Job, on_batch: impl Fn(u64) + Send + Sync) -> Result<Job> {
        let credit = JobCredit::new(job.id.clone());
        let mut done = job.done;
        let mut cancel = job.cancel_requested;
        let mut taken = Taken::default();
        let (status, error) = loop {
            if cancel {
                break (JobStatus::Cancelled, None);
            }
            let n = job.requested.saturating_sub(done).min(BATCH_SIZE);
            if n == 0 {
                break (JobStatus::Done, None);
            }
            let batch = match job.kind {
                JobKind::Movies => self.movie_batch(&job, done, n, &credit, &mut taken).await,
                JobKind::Characters => self.character_batch(&job, n, &credit).await,
            };
            match batch {
                Ok(Batch::Stored) => match self.store.get(&job.id).await {
                    Ok(Some(now)) => {
                        done = now.done;
                        cancel = now.cancel_requested;
                        on_batch(done);
                    }
                    Ok(None) => break failed(Error::NotFound(RecordKind::Job)),
                    Err(e) => break failed(e),
                },
                Ok(Batch::NoMovies) => break (JobStatus::Failed, Some(NO_MOVIES_LEFT.into())),
                // A movie deleted between sampling and insert: nothing was stored; sample again.
                Err(Error::NotFound(RecordKind::Movie)) => {}
                Err(e) => break failed(e),
            }
            // Let other tasks (and writers waiting for the database) in between batches.
            YieldNow(false).await;
        };
        self.store.finish(&job.id, status, error).await
    }

    /// Stores `n` generated movies as rows `done..done + n` of `job`.
    async fn movie_batch(
        &self,
        job: &Job,
        done: u64,
        n: u64,
        credit: &JobCredit,
        known: &mut Taken,
    ) -> Result<Batch> {
        let mut batch = self.rows.movies(n as usize);
        // Names already stored, or repeated in the batch, get their suffix before the first
        // insert, so that a batch is normally one transaction (one `add_bulk` and one progress
        // event); the insert skips a name another writer took meanwhile, retried below. Only
        // titles this job has not met yet are looked up: generated titles soon repeat.
        let titles: Vec<String> = batch.iter().map(|m| m.name.to_string()).collect();
        let unknown: Vec<String> = titles
            .iter()
            .filter(|t| !known.contains(t))
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let taken: HashSet<String> = match unknown.is_empty() {
            true => HashSet::new(),
            false => {
                self.movies.find_refs(&[], &unknown).await?.into_iter().map(|(_, n)| n).collect()
            }
        };
        let mut seen = HashSet::with_capacity(batch.len());
        let mut picks = Vec::with_capacity(batch.len());
        for ((row, title), movie) in (done..).zip(titles).zip(&mut batch) {
            let mut pick = Pick { row, title, suffixes: 0 };
            if known.contains(&pick.title)
                || taken.contains(&pick.title)
                || !seen.insert(pick.title.clone())
            {
                pick.rename(movie, &job.id)?;
            }
            picks.push(pick);
        }
        known.extend(seen.into_iter().chain(taken));
        for _ in 0..NAME_ATTEMPTS {
            let stored =
                self.movies.insert_many(&batch, job.owner_id, Some(credit.clone())).await?;
            if stored.len() == batch.len() {
                return Ok(Batch::Stored);
            }
            let stored: HashSet<String> = stored.into_iter().map(|m| m.name).collect();
            let mut left = (Vec::new(), Vec::new());
            for (mut pick, mut movie) in picks.into_iter().zip(batch) {
                if !stored.contains(movie.name.as_str()) {
                    pick.rename(&mut movie, &job.id)?;
                    left.0.push(pick);
                    left.1.push(movie);
                }
            }
            (picks, batch) = left;
        }
        Err(Error::internal(format!(
            "could not find free names for {} generated movies",
            picks.len()
        )))
    }

    /// Stores `n` generated characters of `job`, in movies sampled at random.
    async fn character_batch(&self, job: &Job, n: u64, credit: &JobCredit) -> Result<Batch> {
        let movie_ids = self.movies.sample_ids(n).await?;
        if movie_ids.is_empty() {
            return Ok(Batch::NoMovies);
        }
        let characters = self.rows.characters(n as usize, &movie_ids);
        self.characters.insert_many(&characters, job.owner_id, Some(credit.clone())).await?;
        Ok(Batch::Stored)
    }
}

fn failed(e: Error) -> (JobStatus, Option<String>) {
    (JobStatus::Failed, Some(e.to_string()))
}

/// A generated movie's place in its job, and how many suffixes its title has had.
struct Pick {
    /// Its row number within the job.
    row: u64,
    /// The generated title.
    title: String,
    suffixes: usize,
}

impl Pick {
    /// Gives `movie` its title with the next suffix.
    fn rename(&mut self, movie: &mut NewMovie, job_id: &str) -> Result<()> {
        self.suffixes += 1;
        movie.name = Name::new("name", &suffixed(&self.title, job_id, self.row, self.suffixes))
            .map_err(|e| Error::internal(format!("a generated name is invalid: {}", e.msg)))?;
        Ok(())
    }
}

/// Titles a job has met (stored, or found taken), which it need not look up again: at most
/// [`Taken::MAX`], since a generator whose titles never repeat would make it grow with the job.
#[derive(Default)]
struct Taken(HashSet<String>);

impl Taken {
    const MAX: usize = 100_000;

    fn contains(&self, title: &str) -> bool {
        self.0.contains(title)
    }

    fn extend(&mut self, titles: impl IntoIterator<Item = String>) {
        let room = Self::MAX.saturating_sub(self.0.len());
        self.0.extend(titles.into_iter().take(room));
    }
}

/// The name for a generated movie whose title was taken: a suffix unique to the job, the row
/// and the attempt (the first suffix of a row is `attempt` 1), the title cut so the whole stays within [`MAX_NAME_CHARS`] characters.
pub(super) fn suffixed(title: &str, job_id: &str, row: u64, attempt: usize) -> String {
    let job = job_id.chars().take(8).collect::<String>();
    let suffix = format!(" ({job}-{row}{})", "'".repeat(attempt.saturating_sub(1)));
    let keep = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    format!("{}{suffix}", title.chars().take(keep).collect::<String>())
}

/// A future that is pending once, asking to be polled again at once: the executor runs other
/// tasks in between. The domain has no runtime to ask for a yield; this needs none.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::characters::{Character, CharacterRecord, MockCharacterRepository};
    use crate::jobs::{MockJobStore, MockRowGenerator};
    use crate::movies::{MockMovieRepository, Movie, MovieInput};

    const JOB: &str = "0123456789";
    const OWNER: i64 = 7;

    type Batches = Arc<Mutex<Vec<Vec<String>>>>;

    fn running(kind: JobKind, requested: u64, done: u64) -> Job {
        Job {
            id: JOB.into(),
            kind,
            status: JobStatus::Running,
            requested,
            done,
            owner_id: Some(OWNER),
            cancel_requested: false,
            created_at: String::new(),
            started_at: None,
            finished_at: None,
            error: None,
        }
    }

    fn new_movie(name: &str) -> NewMovie {
        let input = MovieInput { name: Some(name.into()), year: Some(2000), ..Default::default() };
        NewMovie::try_from(input).unwrap()
    }

    fn stored(m: &NewMovie) -> Movie {
        Movie {
            id: 1,
            name: m.name.to_string(),
            year: 2000,
            duration: String::new(),
            genre: String::new(),
            description: String::new(),
            nr_characters: 0,
            editor_id: Some(OWNER),
        }
    }

    fn character(r: &CharacterRecord) -> Character {
        Character {
            id: 1,
            name: r.name.clone(),
            movie_id: r.movie_id,
            movie_name: String::new(),
            description: String::new(),
            editor_id: Some(OWNER),
        }
    }

    fn credits_the_job(credit: &Option<JobCredit>) -> bool {
        credit.as_ref().is_some_and(|c| c.job_id == JOB)
    }

    /// Generates movies titled `titles`, in turn, or "M0", "M1", ... when `titles` is empty;
    /// and characters named "C" in the first movie given.
    fn generator(titles: &'static [&'static str]) -> MockRowGenerator {
        let next = AtomicU64::new(0);
        let mut rows = MockRowGenerator::new();
        rows.expect_movies().returning(move |n| {
            (0..n)
                .map(|_| {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    match titles {
                        [] => new_movie(&format!("M{i}")),
                        _ => new_movie(titles[i as usize % titles.len()]),
                    }
                })
                .collect()
        });
        rows.expect_characters().returning(|n, ids| {
            let record =
                CharacterRecord { name: "C".into(), movie_id: ids[0], description: "".into() };
            vec![record; n]
        });
        rows
    }

    /// A job store for `job`, whose `done` is `done` (which the inserts move) and whose cancel
    /// flag rises once `done` reaches `cancel_at`; `finish`, expected once, echoes the end.
    fn store(job: &Job, done: Arc<AtomicU64>, cancel_at: u64) -> MockJobStore {
        let mut store = MockJobStore::new();
        let current = job.clone();
        store.expect_get().withf(|id| id == JOB).returning(move |_| {
            let done = done.load(Ordering::SeqCst);
            Ok(Some(Job { done, cancel_requested: done >= cancel_at, ..current.clone() }))
        });
        let ended = job.clone();
        store
            .expect_finish()
            .withf(|id, _, _| id == JOB)
            .times(1)
            .returning(move |_, status, error| Ok(Job { status, error, ..ended.clone() }));
        store
    }

    /// Movies that store what they are given, crediting `done`, except names in `taken` (which
    /// `find_refs` reports too when `known`); each insert's names go to `batches`.
    fn movies(
        done: Arc<AtomicU64>,
        taken: &[&str],
        known: bool,
        batches: Batches,
    ) -> MockMovieRepository {
        let taken: Vec<String> = taken.iter().map(|t| t.to_string()).collect();
        let reported = if known { taken.clone() } else { Vec::new() };
        let mut movies = MockMovieRepository::new();
        movies.expect_find_refs().returning(move |ids, names| {
            assert!(ids.is_empty());
            Ok(names.iter().filter(|n| reported.contains(n)).map(|n| (1, n.clone())).collect())
        });
        movies
            .expect_insert_many()
            .withf(|_, editor, credit| *editor == Some(OWNER) && credits_the_job(credit))
            .returning(move |batch, _, _| {
                let names: Vec<String> = batch.iter().map(|m| m.name.to_string()).collect();
                let added: Vec<Movie> = batch
                    .iter()
                    .filter(|m| !taken.contains(&m.name.to_string()))
                    .map(stored)
                    .collect();
                batches.lock().unwrap().push(names);
                done.fetch_add(added.len() as u64, Ordering::SeqCst);
                Ok(added)
            });
        movies
    }

    fn job_service(
        store: MockJobStore,
        movies: MockMovieRepository,
        characters: MockCharacterRepository,
        titles: &'static [&'static str],
    ) -> JobService {
        JobService::new(
            Arc::new(store),
            Arc::new(movies),
            Arc::new(characters),
            Arc::new(generator(titles)),
        )
    }

    /// A movie job's run against the fakes above.
    #[derive(Default)]
    struct MovieRun {
        /// Names the movie table holds, as another writer left them.
        taken: &'static [&'static str],
        /// Whether the names were taken before the batch's check (else just after it).
        known: bool,
        /// The generated titles, in turn ("M0", "M1", ... when empty).
        titles: &'static [&'static str],
        /// The job's `done` at which a cancel is asked.
        cancel_at: Option<u64>,
    }

    /// What a run did: the ended job, the rows credited, each insert's names, what `on_batch`
    /// heard.
    struct Ran {
        ended: Job,
        done: u64,
        inserts: Vec<Vec<String>>,
        heard: Vec<u64>,
    }

    impl MovieRun {
        async fn of(self, requested: u64, from: u64) -> Ran {
            let cancel_at = self.cancel_at.unwrap_or(u64::MAX);
            let job = Job {
                cancel_requested: from >= cancel_at,
                ..running(JobKind::Movies, requested, from)
            };
            let done = Arc::new(AtomicU64::new(from));
            let batches = Batches::default();
            let service = job_service(
                store(&job, done.clone(), cancel_at),
                movies(done.clone(), self.taken, self.known, batches.clone()),
                MockCharacterRepository::new(),
                self.titles,
            );
            let heard = Mutex::new(Vec::new());
            let ended = service.run(job, |d| heard.lock().unwrap().push(d)).await.unwrap();
            let inserts = batches.lock().unwrap().clone();
            let heard = heard.into_inner().unwrap();
            Ran { ended, done: done.load(Ordering::SeqCst), inserts, heard }
        }
    }

    #[tokio::test]
    async fn a_movie_job_runs_in_batches_to_the_requested_count_and_ends_done() {
        const B: u64 = BATCH_SIZE;
        let ran = MovieRun::default().of(2 * B + B / 2, 0).await;
        assert_eq!((ran.ended.status, ran.ended.error), (JobStatus::Done, None));
        assert_eq!(ran.heard, [B, 2 * B, 2 * B + B / 2]);
        let sizes: Vec<u64> = ran.inserts.iter().map(|i| i.len() as u64).collect();
        assert_eq!(sizes, [B, B, B / 2]);
    }

    #[tokio::test]
    async fn an_interrupted_job_makes_only_the_rows_still_missing() {
        let requested = 2 * BATCH_SIZE + BATCH_SIZE / 2;
        let ran = MovieRun::default().of(requested, 2 * BATCH_SIZE + 100).await;
        assert_eq!(
            (ran.ended.status, ran.done, ran.inserts.len()),
            (JobStatus::Done, requested, 1)
        );
    }

    #[tokio::test]
    async fn a_cancel_stops_the_job_after_the_batch_during_which_it_was_asked() {
        let ran = MovieRun { cancel_at: Some(2 * BATCH_SIZE), ..Default::default() }
            .of(5 * BATCH_SIZE, 0)
            .await;
        assert_eq!((ran.ended.status, ran.ended.error), (JobStatus::Cancelled, None));
        assert_eq!(ran.inserts.len(), 2);
        // Cancelled before it started (asked while it was requeued): no batch at all.
        let ran = MovieRun { cancel_at: Some(0), ..Default::default() }.of(10, 0).await;
        assert_eq!((ran.ended.status, ran.inserts.len()), (JobStatus::Cancelled, 0));
    }

    #[tokio::test]
    async fn names_taken_or_repeated_in_the_batch_get_a_suffix_before_the_first_insert() {
        let titles = &["Same", "Same", "Taken", "Free"];
        let ran = MovieRun { taken: &["Taken"], known: true, titles, ..Default::default() }
            .of(14, 10)
            .await;
        assert_eq!(ran.ended.status, JobStatus::Done);
        assert_eq!(
            ran.inserts,
            [["Same", "Same (01234567-11)", "Taken (01234567-12)", "Free"]],
            "one insert: row numbers count from the job's done"
        );
    }

    #[tokio::test]
    async fn a_name_taken_meanwhile_is_inserted_again_under_a_new_suffix() {
        // "Raced" is taken by another writer after the check: the first insert skips it.
        let ran = MovieRun { taken: &["Raced"], titles: &["Raced", "Free"], ..Default::default() }
            .of(2, 0)
            .await;
        assert_eq!((ran.ended.status, ran.done), (JobStatus::Done, 2));
        assert_eq!(
            ran.inserts,
            [vec!["Raced", "Free"], vec!["Raced (01234567-0)"]],
            "each attempt its own insert, crediting the job with what it stored"
        );
    }

    #[tokio::test]
    async fn a_movie_job_fails_when_no_free_name_is_found_and_keeps_what_it_stored() {
        let taken = &["Raced", "Raced (01234567-0)", "Raced (01234567-0')", "Raced (01234567-0'')"];
        let ran =
            MovieRun { taken, titles: &["Raced", "Free"], ..Default::default() }.of(2, 0).await;
        assert_eq!(ran.ended.status, JobStatus::Failed);
        assert_eq!(ran.ended.error.as_deref(), Some("internal error"));
        assert_eq!(ran.inserts.len(), NAME_ATTEMPTS);
        assert_eq!(ran.done, 1, "the free name was stored and counted");
    }

    #[test]
    fn a_suffixed_name_stays_within_bounds_and_differs_per_attempt() {
        let long = "x".repeat(MAX_NAME_CHARS);
        let a = suffixed(&long, "0123456789", 7, 1);
        let b = suffixed(&long, "0123456789", 7, 2);
        assert_eq!(a.chars().count(), MAX_NAME_CHARS);
        assert!(a.ends_with(" (01234567-7)"), "{a}");
        assert!(b.ends_with(" (01234567-7')"), "{b}");
    }

    /// Characters: a store for `job` and movies that sample `samples` in turn.
    fn sampling(
        job: &Job,
        done: Arc<AtomicU64>,
        samples: Vec<Vec<i64>>,
    ) -> (MockJobStore, MockMovieRepository) {
        let mut movies = MockMovieRepository::new();
        let samples = Mutex::new(samples.into_iter());
        movies
            .expect_sample_ids()
            .returning(move |_| Ok(samples.lock().unwrap().next().unwrap_or_default()));
        (store(job, done, u64::MAX), movies)
    }

    #[tokio::test]
    async fn a_character_job_attaches_characters_to_sampled_movies_and_samples_again_when_one_went()
    {
        let job = running(JobKind::Characters, 3, 0);
        let done = Arc::new(AtomicU64::new(0));
        let (store, movies) = sampling(&job, done.clone(), vec![vec![4], vec![5]]);
        let mut characters = MockCharacterRepository::new();
        let mut tries = 0;
        let credited = done.clone();
        characters
            .expect_insert_many()
            .withf(|_, editor, credit| *editor == Some(OWNER) && credits_the_job(credit))
            .times(2)
            .returning(move |records, _, _| {
                tries += 1;
                if tries == 1 {
                    // Movie 4 was deleted after it was sampled: nothing stored.
                    assert!(records.iter().all(|r| r.movie_id == 4));
                    return Err(Error::NotFound(RecordKind::Movie));
                }
                assert!(records.iter().all(|r| r.movie_id == 5));
                credited.fetch_add(records.len() as u64, Ordering::SeqCst);
                Ok(records.iter().map(character).collect())
            });
        let service = job_service(store, movies, characters, &[]);
        let ended = service.run(job, |_| {}).await.unwrap();
        assert_eq!((ended.status, done.load(Ordering::SeqCst)), (JobStatus::Done, 3));
    }

    #[tokio::test]
    async fn a_character_job_fails_when_no_movie_is_left() {
        let job = running(JobKind::Characters, 3, 0);
        let (store, movies) = sampling(&job, Arc::default(), vec![vec![]]);
        let service = job_service(store, movies, MockCharacterRepository::new(), &[]);
        let ended = service.run(job, |_| panic!("no batch")).await.unwrap();
        assert_eq!(ended.status, JobStatus::Failed);
        assert_eq!(ended.error.as_deref(), Some(NO_MOVIES_LEFT));
    }

    #[tokio::test]
    async fn a_job_whose_owner_was_deleted_fails_at_once_with_the_reason() {
        let job = running(JobKind::Characters, 3, 0);
        let (store, movies) = sampling(&job, Arc::default(), vec![vec![4]]);
        let mut characters = MockCharacterRepository::new();
        characters
            .expect_insert_many()
            .times(1)
            .returning(|_, _, _| Err(Error::Unauthorized(crate::auth::USER_GONE)));
        let service = job_service(store, movies, characters, &[]);
        let ended = service.run(job, |_| {}).await.unwrap();
        assert_eq!(ended.status, JobStatus::Failed);
        assert_eq!(ended.error.as_deref(), Some(crate::auth::USER_GONE));
    }

    #[tokio::test]
    async fn a_run_whose_end_cannot_be_recorded_says_so() {
        let job = Job { cancel_requested: true, ..running(JobKind::Movies, 10, 0) };
        let mut store = MockJobStore::new();
        store.expect_finish().returning(|_, _, _| Err(Error::unavailable("down")));
        let service =
            job_service(store, MockMovieRepository::new(), MockCharacterRepository::new(), &[]);
        assert!(matches!(service.run(job, |_| {}).await, Err(Error::Unavailable(_))));
    }
}
