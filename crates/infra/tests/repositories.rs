//! The SeaORM adapters against real databases: a fresh SQLite file for every test, and a fresh
//! PostgreSQL database too when `TEST_DATABASE_URL` names a server (skipped with a note if not).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use movies_domain::auth::{TokenRevocations, Username};
use movies_domain::characters::{CharacterFilter, CharacterRecord, CharacterRepository};
use movies_domain::events::{
    Delivery, Event, EventFeed, EventLog, EventPublisher, EventSubject, LiveEvent, Operation,
    Subscription,
};
use movies_domain::jobs::{JobCredit, JobKind, JobService, JobStatus, JobStore, RowGenerator};
use movies_domain::movies::{MovieFilter, MovieInput, MovieRepository, MovieSort, NewMovie};
use movies_domain::users::{Role, UserRepository};
use movies_domain::{Error, Page, RecordKind};
use movies_infra::auth::{CachedRevocations, CachedUsers, auth_invalidation};
use movies_infra::events::{EventHub, Invalidation, SeaEventLog, prune_once, spawn_dispatcher};
use movies_infra::jobs::{FakeRows, SeaJobStore, spawn_runner};
use movies_infra::{
    Database, SeaCharacterRepository, SeaMovieRepository, SeaTokenRevocations, SeaUserRepository,
    connect,
};
use sea_orm::ConnectionTrait;

/// A database that exists for one test.
struct TestDb {
    db: Database,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl TestDb {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/test.db", dir.path().display());
        let db = connect(&url).await.expect("open sqlite");
        Self { db, _dir: Some(dir), drop_pg: None }
    }

    /// A new, uniquely named database on the server `TEST_DATABASE_URL` names, or `None`.
    async fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("skipped on PostgreSQL: TEST_DATABASE_URL is not set");
            return None;
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name =
            format!("movies_infra_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let admin = sea_orm::Database::connect(&admin_url).await.expect("reach PostgreSQL");
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create db");
        admin.close().await.ok();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url);
        let db = connect(&format!("{base}/{name}")).await.expect("open postgres");
        Some(Self { db, _dir: None, drop_pg: Some((admin_url, name)) })
    }

    async fn finish(self) {
        self.db.close().await.ok();
        if let Some((admin_url, name)) = self.drop_pg {
            let admin = sea_orm::Database::connect(&admin_url).await.expect("reach PostgreSQL");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .ok();
            admin.close().await.ok();
        }
    }
}

/// Runs one check on SQLite, then on PostgreSQL when configured.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let t = super::TestDb::sqlite().await;
                    super::$name(t.db.clone()).await;
                    t.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(t) = super::TestDb::postgres().await else { return };
                    super::$name(t.db.clone()).await;
                    t.finish().await;
                }
            )*
        }
    };
}

on_every_backend!(
    a_taken_name_is_a_duplicate,
    concurrent_creates_each_get_the_outcome_they_would_get_alone,
    bulk_insert_skips_taken_names_and_keeps_input_order,
    bulk_insert_over_several_statements_gives_dense_ids_to_the_rows_it_stores,
    concurrent_bulk_inserts_of_the_same_names_in_opposite_orders_both_succeed,
    updating_is_not_found_or_duplicate_as_the_port_says,
    a_character_of_a_missing_movie_is_refused_by_the_foreign_key,
    a_write_by_an_editor_deleted_since_its_token_was_checked_is_unauthorized,
    a_stored_row_the_code_cannot_read_is_an_internal_error,
    character_counts_follow_every_write,
    deleting_a_movie_deletes_its_characters,
    range_deletes_return_the_ids_they_deleted,
    pages_in_id_order_are_the_same_whether_or_not_the_ids_have_gaps,
    a_listed_record_is_the_record_found_field_for_field,
    filters_match_case_insensitively_and_take_wildcards_literally,
    concurrent_character_writes_keep_the_count_exact,
    characters_carry_their_movies_name_through_every_write,
    concurrent_renames_and_character_writes_leave_every_character_the_final_name,
    concurrent_updates_of_a_movie_leave_its_characters_the_name_it_ends_with,
    deleting_an_editor_while_its_characters_are_added_fails_only_those_adds,
    the_migration_that_keeps_movie_names_with_characters_fills_those_already_there,
    migrations_can_run_again_on_an_existing_database,
    usernames_are_unique_regardless_of_case,
    user_summaries_count_the_records_each_user_edits,
    deleting_a_user_keeps_its_records_without_an_editor,
    revocations_are_remembered_until_pruned,
    every_write_records_its_event_and_a_failed_one_none,
    the_dispatcher_publishes_committed_events_in_order,
    pruning_keeps_the_newest_events,
    a_credited_batch_and_the_jobs_progress_commit_together,
    a_sample_of_movie_ids_holds_only_existing_movies,
    a_job_gives_taken_names_a_suffix_and_counts_every_row,
    a_job_of_repeated_titles_leaves_no_gap_in_the_ids,
    an_interrupted_job_resumes_to_exactly_the_requested_total,
    a_job_runs_under_one_lease_and_is_taken_over_once_it_expires,
    a_job_that_wrote_rows_leaves_the_planner_statistics_fresh,
    the_revocation_cache_refuses_a_token_once_revoke_returns_and_loads_at_start,
    a_second_instance_learns_a_revocation_once_its_event_reaches_it,
    a_deleted_or_changed_user_leaves_the_cache_at_once_and_others_on_the_event,
    an_unreadable_event_reloads_revocations_and_forgets_every_user,
    revocations_and_role_changes_record_internal_events,
);

fn new_movie(name: &str, year: i64) -> NewMovie {
    NewMovie::try_from(MovieInput {
        name: Some(name.into()),
        year: Some(year),
        ..Default::default()
    })
    .expect("valid movie")
}

fn record(name: &str, movie_id: i64) -> CharacterRecord {
    CharacterRecord { name: name.into(), movie_id, description: String::new() }
}

async fn nr_characters(movies: &SeaMovieRepository, id: i64) -> i64 {
    movies.find(id).await.unwrap().expect("movie exists").nr_characters
}

async fn a_taken_name_is_a_duplicate(db: Database) {
    let movies = SeaMovieRepository::new(db);
    movies.insert(&new_movie("Alien", 1979), None).await.unwrap();
    let err = movies.insert(&new_movie("Alien", 1986), None).await.unwrap_err();
    assert!(matches!(err, Error::DuplicateName { entity: RecordKind::Movie, .. }), "{err:?}");
}

/// Creates made at once go into the database together (`db/combine.rs`): each still gets its
/// own movie or its own error, and its own event.
async fn concurrent_creates_each_get_the_outcome_they_would_get_alone(db: Database) {
    let users = SeaUserRepository::new(db.clone());
    let movies = SeaMovieRepository::new(db.clone());
    let ana = users.create(&username("ana"), "h", Role::User).await.unwrap().id;
    let gone = users.create(&username("bob"), "h", Role::User).await.unwrap().id;
    users.delete(gone).await.unwrap();
    movies.insert(&new_movie("Taken", 2000), None).await.unwrap();
    let before = log_of(&db).await.len();

    // Two editors, a name already taken, a name twice.
    let mut first: Vec<(String, Option<i64>)> =
        (0..40).map(|i| (format!("M{i}"), if i % 2 == 0 { Some(ana) } else { None })).collect();
    first.insert(5, ("Taken".into(), Some(ana)));
    first.insert(10, ("Twice".into(), None));
    first.insert(20, ("Twice".into(), Some(ana)));
    // An editor deleted since their token was checked: that transaction fails as a whole, and
    // each create is made again on its own.
    let second: Vec<(String, Option<i64>)> = vec![
        ("N1".into(), None),
        ("By a deleted user".into(), Some(gone)),
        ("N2".into(), Some(ana)),
    ];
    let mut stored = Vec::new();
    for creates in [first, second] {
        let new: Vec<NewMovie> = creates.iter().map(|(name, _)| new_movie(name, 2001)).collect();
        let outcomes = futures_util::future::join_all(
            new.iter().zip(&creates).map(|(movie, (_, editor))| movies.insert(movie, *editor)),
        )
        .await;
        for ((name, editor), outcome) in creates.iter().zip(outcomes) {
            match (name.as_str(), outcome) {
                ("Taken" | "Twice", Err(e)) => {
                    assert!(matches!(e, Error::DuplicateName { .. }), "{name}: {e:?}");
                }
                ("By a deleted user", Err(e)) => {
                    assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");
                }
                (_, Ok(movie)) => {
                    assert_eq!((&movie.name, movie.editor_id, movie.year), (name, *editor, 2001));
                    let found = movies.find(movie.id).await.unwrap().expect("stored");
                    assert_eq!(found, movie, "answered as stored");
                    stored.push(movie.id);
                }
                (_, Err(e)) => panic!("{name}: {e:?}"),
            }
        }
    }
    // The 40 movies, one of the two "Twice", N1 and N2: no more, no fewer.
    assert_eq!(stored.len(), 43);
    assert_eq!(movies.count().await.unwrap(), 44);
    assert!(ids_are_dense(&movies).await);
    let events = SeaEventLog::new(db.clone()).since(0, 1000).await.unwrap();
    let mut added: Vec<i64> = events[before..]
        .iter()
        .map(|e| {
            assert_eq!((e.entity, e.operation), (EventSubject::Movie, Operation::Add));
            e.data["id"].as_i64().expect("the movie's id")
        })
        .collect();
    added.sort_unstable();
    stored.sort_unstable();
    assert_eq!(added, stored, "one `add` event for each movie stored");
}

async fn bulk_insert_skips_taken_names_and_keeps_input_order(db: Database) {
    let movies = SeaMovieRepository::new(db);
    movies.insert(&new_movie("B", 2000), None).await.unwrap();
    let batch: Vec<_> = ["C", "B", "A"].iter().map(|n| new_movie(n, 2001)).collect();
    let added = movies.insert_many(&batch, None, None).await.unwrap();
    let names: Vec<_> = added.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["C", "A"]);
    // A batch whose every name is taken stores nothing and is not an error.
    assert!(movies.insert_many(&batch[..2], None, None).await.unwrap().is_empty());
    // More rows than one multi-row INSERT holds.
    let many: Vec<_> = (0..2500).map(|i| new_movie(&format!("M{i}"), 1999)).collect();
    assert_eq!(movies.insert_many(&many, None, None).await.unwrap().len(), 2500);
    assert_eq!(movies.count().await.unwrap(), 2503);
}

/// Whether the movie ids are exactly 1 to the number of movies: no id was used up by a row
/// that was not stored.
async fn ids_are_dense(movies: &SeaMovieRepository) -> bool {
    let count = movies.count().await.unwrap() as i64;
    let ids: Vec<i64> = (1..=count + 100).collect();
    movies.find_refs(&ids, &[]).await.unwrap().len() as i64 == count
}

async fn bulk_insert_over_several_statements_gives_dense_ids_to_the_rows_it_stores(db: Database) {
    let movies = SeaMovieRepository::new(db);
    for name in ["M10", "M5000", "M9999"] {
        movies.insert(&new_movie(name, 2000), None).await.unwrap();
    }
    // More rows than one statement holds on either backend, with taken names among them and
    // at a statement's edges, and a name repeated in the input.
    let mut batch: Vec<_> = (0..12_000).map(|i| new_movie(&format!("M{i}"), 1999)).collect();
    batch.push(new_movie("M3", 1999));
    let added = movies.insert_many(&batch, None, None).await.unwrap();
    assert_eq!(added.len(), 11_997);
    let expected: Vec<String> =
        (0..12_000).filter(|i| ![10, 5000, 9999].contains(i)).map(|i| format!("M{i}")).collect();
    let names: Vec<&str> = added.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, expected, "the rows stored, in input order");
    for m in [&added[0], &added[6000], &added[11_996]] {
        let found = movies.find_by_name(&m.name).await.unwrap().expect("stored");
        assert_eq!(&found, m, "returned as stored, with its own id");
    }
    assert!(ids_are_dense(&movies).await);
    // Every name taken: nothing stored, no id used up.
    assert!(movies.insert_many(&batch[..100], None, None).await.unwrap().is_empty());
    let next = movies.insert(&new_movie("Next", 2000), None).await.unwrap();
    assert_eq!(next.id, 12_001);
}

/// Two writers that meet each other's uncommitted names, each from its own end: on PostgreSQL
/// each waited for the other (a deadlock, one of them failed).
async fn concurrent_bulk_inserts_of_the_same_names_in_opposite_orders_both_succeed(db: Database) {
    let movies = Arc::new(SeaMovieRepository::new(db));
    // Two connections open, so that neither writer waits for one while the other runs.
    let (_, _) = tokio::join!(movies.count(), movies.count());
    let forward: Vec<NewMovie> = (0..5000).map(|i| new_movie(&format!("M{i}"), 2000)).collect();
    let backward: Vec<NewMovie> = forward.iter().rev().cloned().collect();
    let writers: Vec<_> = [forward, backward]
        .into_iter()
        .map(|batch| {
            let movies = movies.clone();
            tokio::spawn(async move { movies.insert_many(&batch, None, None).await })
        })
        .collect();
    let mut stored = 0;
    for writer in writers {
        stored += writer.await.expect("the writer ran").expect("the bulk insert succeeds").len();
    }
    assert_eq!(stored, 5000, "each name stored once, by one writer or the other");
    assert_eq!(movies.count().await.unwrap(), 5000);
}

async fn updating_is_not_found_or_duplicate_as_the_port_says(db: Database) {
    let movies = SeaMovieRepository::new(db);
    let a = movies.insert(&new_movie("A", 2000), None).await.unwrap();
    movies.insert(&new_movie("B", 2000), None).await.unwrap();
    let missing = movies.update(999, &new_movie("C", 2000)).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound(RecordKind::Movie)), "{missing:?}");
    let taken = movies.update(a.id, &new_movie("B", 2000)).await.unwrap_err();
    assert!(matches!(taken, Error::DuplicateName { .. }), "{taken:?}");
    let renamed = movies.update(a.id, &new_movie("A2", 2001)).await.unwrap();
    assert_eq!((renamed.id, renamed.name.as_str(), renamed.year), (a.id, "A2", 2001));
}

async fn a_character_of_a_missing_movie_is_refused_by_the_foreign_key(db: Database) {
    let characters = SeaCharacterRepository::new(db.clone());
    let err = characters.insert(&record("Ghost", 12345), None).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(RecordKind::Movie)), "{err:?}");
    let err = characters.insert_many(&[record("Ghost", 12345)], None, None).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(RecordKind::Movie)), "{err:?}");
    // With an editor who exists, the movie is still what is missing.
    let ana = SeaUserRepository::new(db).create(&username("ana"), "h", Role::User).await.unwrap();
    let err = characters.insert(&record("Ghost", 12345), Some(ana.id)).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(RecordKind::Movie)), "{err:?}");
    assert_eq!(characters.count().await.unwrap(), 0);
}

async fn a_write_by_an_editor_deleted_since_its_token_was_checked_is_unauthorized(db: Database) {
    let users = SeaUserRepository::new(db.clone());
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db.clone());
    let store = SeaJobStore::new(db);
    let m = movies.insert(&new_movie("A", 2000), None).await.unwrap().id;
    let ana = users.create(&username("ana"), "h", Role::User).await.unwrap().id;
    users.delete(ana).await.unwrap();
    let unauthorized = |e: Error| assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");

    unauthorized(movies.insert(&new_movie("B", 2000), Some(ana)).await.unwrap_err());
    unauthorized(movies.insert_many(&[new_movie("B", 2000)], Some(ana), None).await.unwrap_err());
    unauthorized(characters.insert(&record("X", m), Some(ana)).await.unwrap_err());
    unauthorized(characters.insert_many(&[record("X", m)], Some(ana), None).await.unwrap_err());
    // Both missing: the editor is what the client can act on (log in again).
    unauthorized(characters.insert(&record("X", 999), Some(ana)).await.unwrap_err());
    // A job's batches are the same writes, crediting the job.
    let job = store.create(JobKind::Characters, 1, None).await.unwrap();
    let credit = || Some(JobCredit::new(job.id.clone()));
    unauthorized(characters.insert_many(&[record("X", m)], Some(ana), credit()).await.unwrap_err());
    unauthorized(
        movies.insert_many(&[new_movie("B", 2000)], Some(ana), credit()).await.unwrap_err(),
    );

    assert_eq!((movies.count().await.unwrap(), characters.count().await.unwrap()), (1, 0));
    assert_eq!(store.get(&job.id).await.unwrap().expect("job").done, 0);
    // The job's characters with an owner that exists: a movie deleted since it was sampled.
    let err = characters.insert_many(&[record("X", 999)], None, credit()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(RecordKind::Movie)), "{err:?}");
}

async fn a_stored_row_the_code_cannot_read_is_an_internal_error(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    let store = SeaJobStore::new(db.clone());
    let job = store.create(JobKind::Movies, 1, None).await.unwrap();
    movies.insert(&new_movie("A", 2000), None).await.unwrap();
    let conn = db.conn();
    conn.execute_unprepared("UPDATE jobs SET status = 'lost'").await.unwrap();
    conn.execute_unprepared("UPDATE events SET entity = 'planet'").await.unwrap();
    let err = store.get(&job.id).await.unwrap_err();
    assert!(matches!(err, Error::Internal(_)), "{err:?}");
    let err = SeaEventLog::new(db).since(0, 10).await.unwrap_err();
    assert!(matches!(err, Error::Internal(_)), "{err:?}");
}

async fn character_counts_follow_every_write(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db);
    let a = movies.insert(&new_movie("A", 2000), None).await.unwrap().id;
    let b = movies.insert(&new_movie("B", 2000), None).await.unwrap().id;

    let ripley = characters.insert(&record("Ripley", a), None).await.unwrap();
    assert_eq!(ripley.movie_name, "A");
    let bulk = characters
        .insert_many(&[record("Ash", a), record("Kane", b), record("Lambert", a)], None, None)
        .await
        .unwrap();
    assert_eq!(bulk.iter().map(|c| c.movie_name.as_str()).collect::<Vec<_>>(), ["A", "B", "A"]);
    assert_eq!((nr_characters(&movies, a).await, nr_characters(&movies, b).await), (3, 1));

    let moved = characters.update(ripley.id, &record("Ripley", b)).await.unwrap();
    assert_eq!(moved.movie_name, "B");
    assert_eq!((nr_characters(&movies, a).await, nr_characters(&movies, b).await), (2, 2));

    characters.delete(bulk[1].id).await.unwrap().expect("deleted");
    assert_eq!(nr_characters(&movies, b).await, 1);
    characters.delete_range(bulk[0].id, bulk[2].id + 1).await.unwrap();
    assert_eq!((nr_characters(&movies, a).await, nr_characters(&movies, b).await), (0, 1));

    let missing = characters.update(9999, &record("X", a)).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound(RecordKind::Character)), "{missing:?}");
    movies.recount_characters().await.unwrap();
    assert_eq!((nr_characters(&movies, a).await, nr_characters(&movies, b).await), (0, 1));
}

async fn deleting_a_movie_deletes_its_characters(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db);
    let a = movies.insert(&new_movie("A", 2000), None).await.unwrap().id;
    characters.insert_many(&[record("X", a), record("Y", a)], None, None).await.unwrap();
    let deleted = movies.delete(a).await.unwrap().expect("deleted");
    assert_eq!(deleted.nr_characters, 2);
    assert_eq!(characters.count().await.unwrap(), 0);
    assert!(movies.delete(a).await.unwrap().is_none());
    assert!(movies.delete_by_name("A").await.unwrap().is_none());
}

async fn range_deletes_return_the_ids_they_deleted(db: Database) {
    let movies = SeaMovieRepository::new(db);
    let batch: Vec<_> = (0..5).map(|i| new_movie(&format!("M{i}"), 2000)).collect();
    let ids: Vec<i64> =
        movies.insert_many(&batch, None, None).await.unwrap().iter().map(|m| m.id).collect();
    let deleted = movies.delete_range(ids[1], ids[3]).await.unwrap();
    assert_eq!(deleted, ids[1..3]);
    assert_eq!(movies.count().await.unwrap(), 3);
}

/// The ids of the movies `page` of the list `filter` holds.
async fn movie_ids(movies: &SeaMovieRepository, filter: &MovieFilter, page: Page) -> Vec<i64> {
    movies.list(filter, page).await.unwrap().items.iter().map(|m| m.id).collect()
}

/// Every page of a list in id order, ascending and descending, `skip` anywhere: the rows
/// `skip` places in. Dense ids take arithmetic, gaps the walk (`PageQuery::id_range`); after a
/// cursor, `skip` counts from the cursor.
async fn pages_in_id_order_are_the_same_whether_or_not_the_ids_have_gaps(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db);
    let batch: Vec<_> = (0..60).map(|i| new_movie(&format!("M{i}"), 2000)).collect();
    let first = movies.insert_many(&batch, None, None).await.unwrap()[0].id;
    let roles: Vec<_> = (0..60).map(|i| record(&format!("C{i}"), first + 1)).collect();
    characters.insert_many(&roles, None, None).await.unwrap();
    let mut gaps = Vec::new();
    // Dense; then without a middle row, the first and the last; then with a new row after a gap.
    for step in 0..5 {
        match step {
            1 => gaps.push(first + 30),
            2 => gaps.push(first),
            3 => gaps.push(first + 59),
            _ => {}
        }
        if let Some(&id) = gaps.last().filter(|_| step > 0 && step < 4) {
            movies.delete(id).await.unwrap();
        }
        if step == 4 {
            movies.insert(&new_movie("After the gaps", 2000), None).await.unwrap();
        }
        let unfiltered = MovieFilter::default();
        let mut ids = movie_ids(&movies, &unfiltered, Page::new(None, Some(100)).unwrap()).await;
        assert_eq!(ids.len() as u64, movies.count().await.unwrap(), "step {step}");
        for (at, skip) in [(0, 0), (0, 3), (10, 1), (25, 0), (40, 2), (55, 4)] {
            let Some(&after) = ids.get(at) else { continue };
            let page = Page::new(Some(skip), Some(5)).unwrap().starting_after(Some(after));
            let got = movie_ids(&movies, &unfiltered, page).await;
            let from = (at + 1 + skip as usize).min(ids.len());
            let want = &ids[from..(from + 5).min(ids.len())];
            assert_eq!(got, want, "step {step}, after {after}, skip {skip}");
        }
        for descending in [false, true] {
            if descending {
                ids.reverse();
            }
            let filter = MovieFilter {
                sort: MovieSort { descending, ..Default::default() },
                ..Default::default()
            };
            for skip in [1, 2, 17, 29, 30, 55, 58, 59, 60, 61, 200] {
                let page = Page::new(Some(skip), Some(5)).unwrap();
                let got = movie_ids(&movies, &filter, page).await;
                let skip = (skip as usize).min(ids.len());
                let want = &ids[skip..(skip + 5).min(ids.len())];
                assert_eq!(got, want, "step {step}, descending {descending}, skip {skip}");
            }
        }
    }
    // Characters too: dense, then with a gap.
    for gap in [false, true] {
        if gap {
            characters.delete(first_character(&characters).await + 10).await.unwrap();
        }
        let every = Page::new(None, Some(100)).unwrap();
        let all = characters.list(&CharacterFilter::default(), every).await.unwrap().items;
        let all: Vec<i64> = all.iter().map(|c| c.id).collect();
        let page = Page::new(Some(20), Some(3)).unwrap();
        let got = characters.list(&CharacterFilter::default(), page).await.unwrap().items;
        let got: Vec<i64> = got.iter().map(|c| c.id).collect();
        assert_eq!(got, all[20..23], "gap {gap}");
    }
}

/// Lists read their rows by the columns' places (`entities/positional.rs`), `find` by their
/// names: both give the same records, every field set, with an editor and without.
async fn a_listed_record_is_the_record_found_field_for_field(db: Database) {
    let users = SeaUserRepository::new(db.clone());
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db);
    let ana = users.create(&username("ana"), "h", Role::User).await.unwrap().id;
    let input = |name: &str| MovieInput {
        name: Some(name.into()),
        year: Some(1979),
        duration: Some("1h 57m".into()),
        genre: Some("Science fiction".into()),
        description: Some("A \"quoted\" tug, née Nostromo 😀".into()),
    };
    let alien = movies.insert(&NewMovie::try_from(input("Alien")).unwrap(), Some(ana)).await;
    let aliens = movies.insert(&NewMovie::try_from(input("Aliens")).unwrap(), None).await;
    let (alien, aliens) = (alien.unwrap().id, aliens.unwrap().id);
    let ripley =
        CharacterRecord { description: "Warrant officer".into(), ..record("Ripley", alien) };
    characters.insert(&ripley, Some(ana)).await.unwrap();
    characters.insert(&record("Hicks", aliens), None).await.unwrap();

    let listed = movies.list(&MovieFilter::default(), Page::default()).await.unwrap().items;
    assert_eq!(listed.len(), 2);
    for movie in listed {
        assert_eq!(Some(&movie), movies.find(movie.id).await.unwrap().as_ref());
    }
    let listed = characters.list(&CharacterFilter::default(), Page::default()).await.unwrap().items;
    assert_eq!(listed.len(), 2);
    for character in listed {
        assert_eq!(Some(&character), characters.find(character.id).await.unwrap().as_ref());
    }
    let found = movies.find(alien).await.unwrap().expect("alien");
    assert_eq!((found.editor_id, found.nr_characters, found.year), (Some(ana), 1, 1979));
}

async fn first_character(characters: &SeaCharacterRepository) -> i64 {
    let page = Page::new(None, Some(1)).unwrap();
    characters.list(&CharacterFilter::default(), page).await.unwrap().items[0].id
}

async fn filters_match_case_insensitively_and_take_wildcards_literally(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db);
    for (name, year) in [("The Matrix", 1999), ("100% Love", 2011), ("Matrix_Reloaded", 2003)] {
        movies.insert(&new_movie(name, year), None).await.unwrap();
    }
    let list = |filter: MovieFilter| {
        let movies = movies.clone();
        async move {
            let l = movies.list(&filter, Page::default()).await.unwrap();
            (l.total, l.items.into_iter().map(|m| m.name).collect::<Vec<_>>())
        }
    };
    let q = |q: &str| MovieFilter { q: Some(q.into()), ..Default::default() };
    assert_eq!(list(q("MATRIX")).await.0, 2);
    assert_eq!(list(q("%")).await.1, ["100% Love"]);
    assert_eq!(list(q("x_r")).await.1, ["Matrix_Reloaded"]);
    let by_year = MovieFilter {
        year_from: Some(2000),
        sort: MovieSort::parse("-year").unwrap(),
        ..Default::default()
    };
    assert_eq!(list(by_year).await.1, ["100% Love", "Matrix_Reloaded"]);

    let matrix = movies.find_by_name("The Matrix").await.unwrap().unwrap().id;
    characters.insert(&record("Neo", matrix), None).await.unwrap();
    let filter = CharacterFilter { movie_name: Some("The Matrix".into()), ..Default::default() };
    let found = characters.list(&filter, Page::new(None, Some(1)).unwrap()).await.unwrap();
    assert_eq!((found.total, found.items[0].name.as_str()), (1, "Neo"));
}

async fn concurrent_character_writes_keep_the_count_exact(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    let characters = Arc::new(SeaCharacterRepository::new(db));
    let a = movies.insert(&new_movie("A", 2000), None).await.unwrap().id;
    let b = movies.insert(&new_movie("B", 2000), None).await.unwrap().id;
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let characters = characters.clone();
            tokio::spawn(async move {
                let c = characters.insert(&record(&format!("C{i}"), a), None).await?;
                if i % 3 == 0 {
                    characters.update(c.id, &record(&format!("C{i}"), b)).await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task ran").expect("write succeeded");
    }
    assert_eq!((nr_characters(&movies, a).await, nr_characters(&movies, b).await), (16, 8));
}

/// The name each character of the store carries, by the character's name, read by a list page
/// (where it is read from the character's row) and by `find`.
async fn movie_names_of(characters: &SeaCharacterRepository) -> Vec<(String, String)> {
    let page = Page::new(None, Some(100)).unwrap();
    let listed = characters.list(&CharacterFilter::default(), page).await.unwrap().items;
    let mut names = Vec::new();
    for c in listed {
        let found = characters.find(c.id).await.unwrap().expect("listed, so found");
        assert_eq!(found.movie_name, c.movie_name, "{} read by find and by list", c.name);
        names.push((c.name, c.movie_name));
    }
    names.sort();
    names
}

async fn characters_carry_their_movies_name_through_every_write(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db);
    let a = movies.insert(&new_movie("A", 2000), None).await.unwrap().id;
    let b = movies.insert(&new_movie("B", 2000), None).await.unwrap().id;
    let one = characters.insert(&record("C1", a), None).await.unwrap();
    assert_eq!(one.movie_name, "A");
    let many = characters.insert_many(&[record("C2", a), record("C3", b)], None, None).await;
    let many: Vec<String> = many.unwrap().into_iter().map(|c| c.movie_name).collect();
    assert_eq!(many, ["A", "B"]);
    assert_eq!(movie_names_of(&characters).await, pairs(&[("C1", "A"), ("C2", "A"), ("C3", "B")]));

    // Moved to another movie, a character takes its name; renamed, a movie's characters do.
    let moved = characters.update(one.id, &record("C1", b)).await.unwrap();
    assert_eq!(moved.movie_name, "B");
    movies.update(a, &new_movie("A2", 2000)).await.unwrap();
    assert_eq!(movie_names_of(&characters).await, pairs(&[("C1", "B"), ("C2", "A2"), ("C3", "B")]));
    // A character's write that keeps its movie keeps the name.
    let kept = characters.update(one.id, &record("C1 again", b)).await.unwrap();
    assert_eq!(kept.movie_name, "B");
    // A refused write leaves the names as they were.
    let err = characters.update(one.id, &record("C1", 999_999)).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(RecordKind::Movie)), "{err:?}");
    let err = movies.update(b, &new_movie("A2", 2000)).await.unwrap_err();
    assert!(matches!(err, Error::DuplicateName { .. }), "{err:?}");
    assert_eq!(
        movie_names_of(&characters).await,
        pairs(&[("C1 again", "B"), ("C2", "A2"), ("C3", "B")])
    );
}

/// Renames of a movie while characters are added to it, moved into it and out of it, and
/// deleted from it: once all are done, each character of the movie carries the name it ended
/// with and the counts are exact. On PostgreSQL the writes run at once (on SQLite they take
/// turns), and none may fail: a character's write that locked the character before its movie
/// deadlocked with a rename, which locks the movie before its characters.
async fn concurrent_renames_and_character_writes_leave_every_character_the_final_name(
    db: Database,
) {
    let movies = Arc::new(SeaMovieRepository::new(db.clone()));
    let characters = Arc::new(SeaCharacterRepository::new(db));
    let a = movies.insert(&new_movie("A0", 2000), None).await.unwrap().id;
    let b = movies.insert(&new_movie("B", 2000), None).await.unwrap().id;
    let (mut coming, mut leaving) = (Vec::new(), Vec::new());
    for i in 0..8 {
        coming.push(characters.insert(&record(&format!("W{i}"), b), None).await.unwrap().id);
    }
    for i in 0..16 {
        leaving.push(characters.insert(&record(&format!("L{i}"), a), None).await.unwrap().id);
    }
    let renames = {
        let movies = movies.clone();
        tokio::spawn(async move {
            for i in 1..=20 {
                movies.update(a, &new_movie(&format!("A{i}"), 2000)).await?;
            }
            Ok::<_, Error>(())
        })
    };
    let writes: Vec<_> = (0..32)
        .map(|i| {
            let characters = characters.clone();
            let (coming, leaving) = (coming.clone(), leaving.clone());
            tokio::spawn(async move {
                match i % 4 {
                    0 => characters.insert(&record(&format!("C{i}"), a), None).await.map(drop),
                    1 => characters
                        .update(coming[i / 4], &record(&format!("W{}", i / 4), a))
                        .await
                        .map(drop),
                    2 => characters
                        .update(leaving[i / 4], &record(&format!("L{}", i / 4), b))
                        .await
                        .map(drop),
                    _ => characters.delete(leaving[8 + i / 4]).await.map(drop),
                }
            })
        })
        .collect();
    renames.await.expect("task ran").expect("renames succeeded");
    for task in writes {
        task.await.expect("task ran").expect("write succeeded");
    }
    let names = movie_names_of(&characters).await;
    let in_a: Vec<_> = names.iter().filter(|(_, movie)| movie != "B").collect();
    assert_eq!(in_a.len(), 16, "{names:?}");
    assert!(in_a.iter().all(|(_, movie)| movie == "A20"), "{names:?}");
    assert_eq!((nr_characters(&movies, a).await, nr_characters(&movies, b).await), (16, 8));
}

/// Two updates of a movie at once, one renaming it and one keeping the name it read (a new
/// year): whichever commits last, the movie's characters carry the name the movie ends with. On
/// PostgreSQL the second update waits for the first and then writes its own row over it; it must
/// not decide from a name read before that whether the characters need the name.
async fn concurrent_updates_of_a_movie_leave_its_characters_the_name_it_ends_with(db: Database) {
    let movies = Arc::new(SeaMovieRepository::new(db.clone()));
    let characters = SeaCharacterRepository::new(db);
    let a = movies.insert(&new_movie("A0", 2000), None).await.unwrap().id;
    for i in 0..4 {
        characters.insert(&record(&format!("C{i}"), a), None).await.unwrap();
    }
    let mut name = "A0".to_owned();
    for round in 1..=12 {
        let updates = [new_movie(&format!("A{round}"), 2000), new_movie(&name, 2000 + round)];
        let tasks: Vec<_> = updates
            .into_iter()
            .map(|update| {
                let movies = movies.clone();
                tokio::spawn(async move { movies.update(a, &update).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("task ran").expect("update succeeded");
        }
        name = movies.find(a).await.unwrap().expect("movie").name;
        let names = movie_names_of(&characters).await;
        assert!(names.iter().all(|(_, movie)| *movie == name), "round {round}: {name}: {names:?}");
    }
}

/// An editor deleted while its characters are being added to its own movies: each add either
/// commits before the delete (and its characters lose their editor with the rest) or is refused
/// as `Unauthorized`. On PostgreSQL an add that locked a movie before the editor's row deadlocked
/// with the delete, which locks the user and then the user's movies.
async fn deleting_an_editor_while_its_characters_are_added_fails_only_those_adds(db: Database) {
    let users = SeaUserRepository::new(db.clone());
    let movies = SeaMovieRepository::new(db.clone());
    let characters = Arc::new(SeaCharacterRepository::new(db));
    for round in 0..6 {
        let ana =
            users.create(&username(&format!("ana{round}")), "h", Role::User).await.unwrap().id;
        let mut own = Vec::new();
        for i in 0..4 {
            let movie = new_movie(&format!("M{round}-{i}"), 2000);
            own.push(movies.insert(&movie, Some(ana)).await.unwrap().id);
        }
        let adds: Vec<_> = (0..8)
            .map(|i| {
                let characters = characters.clone();
                let batch: Vec<_> =
                    own.iter().map(|m| record(&format!("C{round}-{i}-{m}"), *m)).collect();
                tokio::spawn(async move { characters.insert_many(&batch, Some(ana), None).await })
            })
            .collect();
        users.delete(ana).await.unwrap().expect("deleted");
        for add in adds {
            match add.await.expect("task ran") {
                Ok(_) | Err(Error::Unauthorized(_)) => {}
                Err(e) => panic!("round {round}: an add failed otherwise: {e:?}"),
            }
        }
    }
}

/// Migration 8 on a store that has characters already: they get their movies' names.
async fn the_migration_that_keeps_movie_names_with_characters_fills_those_already_there(
    db: Database,
) {
    use migration::MigratorTrait;
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db.clone());
    let a = movies.insert(&new_movie("A", 2000), None).await.unwrap().id;
    let b = movies.insert(&new_movie("B", 2000), None).await.unwrap().id;
    characters.insert_many(&[record("C1", a), record("C2", b)], None, None).await.unwrap();
    migration::Migrator::down(db.conn(), Some(1)).await.expect("down one");
    migration::Migrator::up(db.conn(), None).await.expect("up again");
    assert_eq!(movie_names_of(&characters).await, pairs(&[("C1", "A"), ("C2", "B")]));
}

async fn migrations_can_run_again_on_an_existing_database(db: Database) {
    use migration::MigratorTrait;
    migration::Migrator::up(db.conn(), None).await.expect("no pending migration fails");
    let movies = SeaMovieRepository::new(db);
    assert_eq!(movies.count().await.unwrap(), 0);
}

fn username(raw: &str) -> Username {
    Username::new(raw).expect("valid username")
}

async fn usernames_are_unique_regardless_of_case(db: Database) {
    let users = SeaUserRepository::new(db);
    let ana = users.create(&username("Ana"), "hash", Role::User).await.unwrap();
    let err = users.create(&username("ANA"), "hash", Role::User).await.unwrap_err();
    assert!(matches!(err, Error::DuplicateName { entity: RecordKind::User, .. }), "{err:?}");
    let (found, hash) = users.credentials("aNa").await.unwrap().expect("found");
    assert_eq!((found.id, found.username.as_str(), hash.as_str()), (ana.id, "Ana", "hash"));
    let admin = users.set_credentials(ana.id, "new", Role::Admin).await.unwrap();
    assert_eq!(admin.role, Role::Admin);
    let missing = users.set_credentials(999, "x", Role::User).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound(RecordKind::User)), "{missing:?}");
}

async fn user_summaries_count_the_records_each_user_edits(db: Database) {
    let users = SeaUserRepository::new(db.clone());
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db);
    let ana = users.create(&username("ana"), "h", Role::User).await.unwrap().id;
    let bob = users.create(&username("bob"), "h", Role::User).await.unwrap().id;
    users.create(&username("root"), "h", Role::Admin).await.unwrap();
    let m = movies.insert(&new_movie("A", 2000), Some(ana)).await.unwrap().id;
    movies
        .insert_many(&[new_movie("B", 2000), new_movie("C", 2000)], Some(ana), None)
        .await
        .unwrap();
    characters.insert_many(&[record("X", m), record("Y", m)], Some(bob), None).await.unwrap();

    let summaries = users.summaries(Role::User).await.unwrap();
    let counts: Vec<_> =
        summaries.iter().map(|u| (u.username.as_str(), u.nr_movies, u.nr_characters)).collect();
    assert_eq!(counts, [("ana", 3, 0), ("bob", 0, 2)]);
    assert_eq!(users.summary(bob).await.unwrap().expect("bob").nr_characters, 2);
    assert!(users.summary(999).await.unwrap().is_none());
}

async fn deleting_a_user_keeps_its_records_without_an_editor(db: Database) {
    let users = SeaUserRepository::new(db.clone());
    let movies = SeaMovieRepository::new(db);
    let ana = users.create(&username("ana"), "h", Role::User).await.unwrap().id;
    let m = movies.insert(&new_movie("A", 2000), Some(ana)).await.unwrap().id;
    assert_eq!(users.delete(ana).await.unwrap().expect("deleted").username, "ana");
    assert!(users.delete(ana).await.unwrap().is_none());
    assert_eq!(movies.find(m).await.unwrap().expect("kept").editor_id, None);
}

async fn revocations_are_remembered_until_pruned(db: Database) {
    let revocations = SeaTokenRevocations::new(db);
    revocations.revoke("old", 100).await.unwrap();
    revocations.revoke("new", 10_000).await.unwrap();
    revocations.revoke("new", 10_000).await.unwrap(); // twice is fine
    assert!(revocations.is_revoked("old").await.unwrap());
    assert!(!revocations.is_revoked("other").await.unwrap());
    assert_eq!(revocations.prune(5_000).await.unwrap(), 1);
    assert!(!revocations.is_revoked("old").await.unwrap());
    assert!(revocations.is_revoked("new").await.unwrap());
}

async fn log_of(db: &Database) -> Vec<(String, String)> {
    let events = SeaEventLog::new(db.clone()).since(0, 1000).await.unwrap();
    events.into_iter().map(|e| (e.entity.to_string(), e.operation.to_string())).collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(e, o)| (e.to_string(), o.to_string())).collect()
}

async fn every_write_records_its_event_and_a_failed_one_none(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db.clone());
    let a = movies.insert(&new_movie("A", 2000), None).await.unwrap().id;
    movies.insert(&new_movie("A", 2001), None).await.unwrap_err(); // duplicate: rolled back
    characters.insert_many(&[record("X", a), record("Y", 999)], None, None).await.unwrap_err();
    characters.insert(&record("X", a), None).await.unwrap();
    movies.insert_many(&[new_movie("B", 2000)], None, None).await.unwrap();
    movies.insert_many(&[new_movie("B", 2000)], None, None).await.unwrap(); // nothing added
    movies.delete(a).await.unwrap();
    assert_eq!(
        log_of(&db).await,
        pairs(&[
            ("movie", "add"),
            ("character", "add"),
            ("movie", "add_bulk"),
            ("movie", "delete"),
            ("character", "delete_bulk"),
        ])
    );
}

/// The next event a live subscription hears; panics on a lag or a close.
async fn next_event(live: &mut Box<dyn Subscription>) -> Arc<LiveEvent> {
    match live.next().await {
        Delivery::Event(event) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

async fn the_dispatcher_publishes_committed_events_in_order(db: Database) {
    let hub = EventHub::new(64);
    let mut live = hub.subscribe();
    let publisher: Arc<dyn EventPublisher> = Arc::new(hub.clone());
    let dispatcher =
        spawn_dispatcher(db.clone(), publisher, Vec::new()).await.expect("dispatcher starts");
    let movies = Arc::new(SeaMovieRepository::new(db));
    let writers: Vec<_> = (0..10)
        .map(|i| {
            let movies = movies.clone();
            tokio::spawn(
                async move { movies.insert(&new_movie(&format!("M{i}"), 2000), None).await },
            )
        })
        .collect();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let mut seqs = Vec::new();
    for _ in 0..10 {
        seqs.push(next_event(&mut live).await.seq);
    }
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs, sorted, "published in seq order, each once");
    dispatcher.abort();
}

async fn pruning_keeps_the_newest_events(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    for i in 0..5 {
        movies.insert(&new_movie(&format!("M{i}"), 2000), None).await.unwrap();
    }
    let log = SeaEventLog::new(db);
    assert_eq!(log.prune(0, 2).await.unwrap(), 3);
    let (oldest, latest) = log.bounds().await.unwrap().expect("two left");
    assert_eq!((oldest, latest), (4, 5));
    // The pruner's round: within a day's retention, only the count limit bites.
    let day = std::time::Duration::from_secs(86_400);
    assert_eq!(prune_once(&log, day, 1).await.unwrap(), 1);
    assert_eq!(log.bounds().await.unwrap(), Some((5, 5)));
    assert_eq!(log.prune(i64::MAX, 1000).await.unwrap(), 1, "all older than now");
    assert!(log.bounds().await.unwrap().is_none());
}

async fn a_credited_batch_and_the_jobs_progress_commit_together(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    let characters = SeaCharacterRepository::new(db.clone());
    let store = SeaJobStore::new(db.clone());
    let job = store.create(JobKind::Movies, 10, None).await.unwrap();
    store.claim(&job.id).await.unwrap().expect("claimed");
    let credit = || Some(JobCredit::new(job.id.clone()));
    movies.insert(&new_movie("Taken", 2000), None).await.unwrap();

    let batch = [new_movie("A", 2000), new_movie("Taken", 2000), new_movie("B", 2000)];
    let added = movies.insert_many(&batch, None, credit()).await.unwrap();
    assert_eq!(added.len(), 2);
    assert_eq!(store.get(&job.id).await.unwrap().expect("job").done, 2, "only what was stored");
    characters.insert_many(&[record("X", added[0].id)], None, credit()).await.unwrap();
    assert_eq!(store.get(&job.id).await.unwrap().expect("job").done, 3);
    // A batch that stores nothing credits nothing and says nothing.
    movies.insert_many(&batch[1..2], None, credit()).await.unwrap();
    let events = SeaEventLog::new(db.clone()).since(0, 100).await.unwrap();
    let progress: Vec<_> =
        events.iter().filter(|e| e.operation.as_str() == "generate_progress").collect();
    assert_eq!(progress.len(), 2);
    assert_eq!(
        progress[1].data,
        serde_json::json!({ "jobId": job.id, "done": 3, "requested": 10 })
    );
    assert_eq!(
        log_of(&db).await,
        pairs(&[
            ("movie", "add"),
            ("movie", "add_bulk"),
            ("job", "generate_progress"),
            ("character", "add_bulk"),
            ("job", "generate_progress"),
        ])
    );

    // A batch credited to a job that does not exist is not stored at all.
    let ghost = Some(JobCredit::new("no-such-job"));
    let err = movies.insert_many(&[new_movie("C", 2000)], None, ghost.clone()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(RecordKind::Job)), "{err:?}");
    let err = characters.insert_many(&[record("Y", added[0].id)], None, ghost).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(RecordKind::Job)), "{err:?}");
    assert_eq!((movies.count().await.unwrap(), characters.count().await.unwrap()), (3, 1));
    let err = store.finish("no-such-job", JobStatus::Done, None).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(RecordKind::Job)), "{err:?}");
}

async fn a_sample_of_movie_ids_holds_only_existing_movies(db: Database) {
    let movies = SeaMovieRepository::new(db);
    assert!(movies.sample_ids(5).await.unwrap().is_empty());
    let batch: Vec<_> = (0..50).map(|i| new_movie(&format!("M{i}"), 2000)).collect();
    let ids: Vec<i64> =
        movies.insert_many(&batch, None, None).await.unwrap().iter().map(|m| m.id).collect();
    movies.delete_range(ids[10], ids[40]).await.unwrap();
    let sample = movies.sample_ids(5).await.unwrap();
    assert!(!sample.is_empty() && sample.len() <= 5, "{sample:?}");
    let kept: Vec<i64> = ids[..10].iter().chain(&ids[40..]).copied().collect();
    assert!(sample.iter().all(|id| kept.contains(id)), "{sample:?}");
}

/// Generates movies all titled "Same".
struct Same;

impl RowGenerator for Same {
    fn movies(&self, n: usize) -> Vec<NewMovie> {
        vec![new_movie("Same", 2001); n]
    }

    fn characters(&self, _: usize, _: &[i64]) -> Vec<CharacterRecord> {
        Vec::new()
    }
}

fn job_service(db: &Database, rows: Arc<dyn RowGenerator>) -> (SeaJobStore, JobService) {
    let store = SeaJobStore::new(db.clone());
    let service = JobService::new(
        Arc::new(store.clone()),
        Arc::new(SeaMovieRepository::new(db.clone())),
        Arc::new(SeaCharacterRepository::new(db.clone())),
        rows,
    );
    (store, service)
}

async fn a_job_gives_taken_names_a_suffix_and_counts_every_row(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    movies.insert(&new_movie("Same", 2000), None).await.unwrap();
    let (store, service) = job_service(&db, Arc::new(Same));
    let job = service.submit_as_system(JobKind::Movies, 5).await.unwrap();
    let job = store.claim(&job.id).await.unwrap().expect("claimed");
    let ended = service.run(job, |_| {}).await.unwrap();
    assert_eq!((ended.status, ended.done), (JobStatus::Done, 5));
    let names: Vec<String> =
        movies.names_after(i64::MIN, 100).await.unwrap().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names.len(), 6);
    let distinct: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(distinct.len(), 6, "{names:?}");
    assert!(names.iter().skip(1).all(|n| n.starts_with("Same (")), "{names:?}");
}

async fn a_job_of_repeated_titles_leaves_no_gap_in_the_ids(db: Database) {
    let movies = SeaMovieRepository::new(db.clone());
    movies.insert(&new_movie("Same", 2000), None).await.unwrap();
    let (store, service) = job_service(&db, Arc::new(Same));
    let job = service.submit_as_system(JobKind::Movies, 2500).await.unwrap();
    let job = store.claim(&job.id).await.unwrap().expect("claimed");
    let ended = service.run(job, |_| {}).await.unwrap();
    assert_eq!((ended.status, ended.done), (JobStatus::Done, 2500));
    assert_eq!(movies.count().await.unwrap(), 2501);
    assert!(ids_are_dense(&movies).await);
}

async fn an_interrupted_job_resumes_to_exactly_the_requested_total(db: Database) {
    // A job that was running when the server died, 700 rows in.
    let (store, service) = job_service(&db, Arc::new(FakeRows));
    let movies = SeaMovieRepository::new(db.clone());
    let job = store.create(JobKind::Movies, 2500, None).await.unwrap();
    let job = store.claim(&job.id).await.unwrap().expect("claimed");
    let batch: Vec<_> = (0..700).map(|i| new_movie(&format!("Before {i}"), 2000)).collect();
    movies.insert_many(&batch, None, Some(JobCredit::new(job.id.clone()))).await.unwrap();

    // The next start: dispatcher, then the runner, which requeues and finishes it.
    let hub = EventHub::new(1024);
    let mut live = hub.subscribe();
    let publisher: Arc<dyn EventPublisher> = Arc::new(hub.clone());
    let dispatcher =
        spawn_dispatcher(db.clone(), publisher, Vec::new()).await.expect("dispatcher starts");
    let runner = spawn_runner(service, &store, 2);
    loop {
        let event = next_event(&mut live).await;
        if event.operation.as_str() == "generate_done" && event.data["jobId"] == job.id.as_str() {
            assert_eq!(event.data["done"], 2500);
            break;
        }
    }
    let finished = store.get(&job.id).await.unwrap().expect("job");
    assert_eq!((finished.status, finished.done), (JobStatus::Done, 2500));
    assert_eq!(movies.count().await.unwrap(), 2500);
    runner.abort();
    dispatcher.abort();
}

async fn a_job_runs_under_one_lease_and_is_taken_over_once_it_expires(db: Database) {
    let other = db.another_instance();
    let short = std::time::Duration::from_millis(50);
    let (a, b) = (SeaJobStore::new(db.clone()).with_lease(short), SeaJobStore::new(other.clone()));
    let (on_a, on_b) = (SeaMovieRepository::new(db.clone()), SeaMovieRepository::new(other));
    let job = a.create(JobKind::Movies, 100, None).await.unwrap();
    let claimed = a.claim_next().await.unwrap().expect("a claims the queued job");
    assert_eq!((claimed.id.as_str(), claimed.status), (job.id.as_str(), JobStatus::Running));
    assert_eq!(b.claim_next().await.unwrap(), None, "held by a");
    let credit = Some(JobCredit::new(job.id.clone()));
    on_a.insert_many(&[new_movie("By a", 2000)], None, credit.clone()).await.unwrap();
    let refused = on_b.insert_many(&[new_movie("By b", 2000)], None, credit.clone()).await;
    assert!(matches!(refused, Err(Error::NotFound(RecordKind::Job))), "b holds no lease");
    assert_eq!(on_a.count().await.unwrap(), 1, "b's batch rolled back");
    assert!(a.renew(&job.id).await.unwrap());

    // a stops renewing (it died): once its lease has run out, b takes the job over.
    let taken = loop {
        if let Some(job) = b.claim_next().await.unwrap() {
            break job;
        }
        tokio::time::sleep(short).await;
    };
    assert_eq!((taken.id.as_str(), taken.done), (job.id.as_str(), 1), "with its progress");
    assert!(!a.renew(&job.id).await.unwrap(), "a lost it");
    let late = on_a.insert_many(&[new_movie("Late a", 2000)], None, credit.clone()).await;
    assert!(matches!(late, Err(Error::NotFound(RecordKind::Job))));
    let ended_by_a = a.finish(&job.id, JobStatus::Failed, None).await;
    assert!(matches!(ended_by_a, Err(Error::NotFound(RecordKind::Job))), "not a's to end");
    if db.is_shared() {
        assert_eq!(a.requeue_interrupted().await.unwrap(), 0, "b's lease is alive");
    }
    on_b.insert_many(&[new_movie("By b", 2000)], None, credit).await.unwrap();
    let ended = b.finish(&job.id, JobStatus::Done, None).await.unwrap();
    assert_eq!((ended.status, ended.done), (JobStatus::Done, 2));
    assert_eq!(on_a.count().await.unwrap(), 2);
}

async fn a_job_that_wrote_rows_leaves_the_planner_statistics_fresh(db: Database) {
    let (store, service) = job_service(&db, Arc::new(FakeRows));
    let job = service.submit_as_system(JobKind::Movies, 50).await.unwrap();
    let runner = spawn_runner(service, &store, 1);
    let mut status = JobStatus::Queued;
    for _ in 0..500 {
        status = store.get(&job.id).await.unwrap().expect("job").status;
        if status == JobStatus::Done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, JobStatus::Done);
    // Autovacuum analyses a table a minute or more after a load; the runner does once the job
    // has ended. (SQLite's planner reads no statistics for these queries: nothing to refresh.)
    let mut analysed = !db.is_shared();
    let query = "SELECT last_analyze IS NOT NULL AS analysed FROM pg_stat_user_tables \
                 WHERE relname = 'movies'";
    for _ in 0..250 {
        if analysed {
            break;
        }
        let statement = sea_orm::Statement::from_string(db.backend(), query);
        let row = db.conn().query_one_raw(statement).await.unwrap().expect("the movies table");
        analysed = row.try_get::<bool>("", "analysed").unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    runner.abort();
    assert!(analysed, "movies analysed after the job");
}

/// One "instance": its own caches over the shared database, told of events as its dispatcher
/// would tell them.
struct Instance {
    invalidate: Invalidation,
    revocations: Arc<CachedRevocations>,
    users: Arc<CachedUsers>,
}

async fn instance(db: &Database) -> Instance {
    let store = Arc::new(SeaTokenRevocations::new(db.clone()));
    let revocations = Arc::new(CachedRevocations::load(store).await.unwrap());
    let users = Arc::new(CachedUsers::new(Arc::new(SeaUserRepository::new(db.clone()))));
    let invalidate = auth_invalidation(revocations.clone(), users.clone());
    Instance { invalidate, revocations, users }
}

/// Tells `instance` every event logged after `after`, as its dispatcher would.
async fn deliver_log(db: &Database, instance: &Instance, after: i64) {
    for event in SeaEventLog::new(db.clone()).since(after, 1000).await.unwrap() {
        (instance.invalidate)(&event);
    }
}

/// Lets a reload task run until `done` holds. Tests run on one thread, so the task progresses
/// exactly when this yields; no clock is involved.
async fn until<F: std::future::Future<Output = bool>>(mut done: impl FnMut() -> F) {
    while !done().await {
        tokio::task::yield_now().await;
    }
}

async fn the_revocation_cache_refuses_a_token_once_revoke_returns_and_loads_at_start(db: Database) {
    let first = instance(&db).await;
    assert!(!first.revocations.is_revoked("t1").await.unwrap());
    first.revocations.revoke("t1", i64::MAX).await.unwrap();
    assert!(first.revocations.is_revoked("t1").await.unwrap());
    first.revocations.revoke("expired", 100).await.unwrap();

    let restarted = instance(&db).await;
    assert!(restarted.revocations.is_revoked("t1").await.unwrap(), "loaded at start");
    assert!(!restarted.revocations.is_revoked("t2").await.unwrap());
    assert_eq!(first.revocations.prune(5_000).await.unwrap(), 1);
    assert!(first.revocations.is_revoked("t1").await.unwrap());
}

async fn a_second_instance_learns_a_revocation_once_its_event_reaches_it(db: Database) {
    let (a, b) = (instance(&db).await, instance(&db).await);
    a.revocations.revoke("t1", i64::MAX).await.unwrap();
    assert!(!b.revocations.is_revoked("t1").await.unwrap(), "memory only, before the event");

    deliver_log(&db, &b, 0).await;

    until(|| async { b.revocations.is_revoked("t1").await.unwrap() }).await;
}

async fn a_deleted_or_changed_user_leaves_the_cache_at_once_and_others_on_the_event(db: Database) {
    let (a, b) = (instance(&db).await, instance(&db).await);
    let ana = a.users.create(&username("ana"), "h", Role::User).await.unwrap().id;
    let bob = a.users.create(&username("bob"), "h", Role::User).await.unwrap().id;
    for id in [ana, bob] {
        a.users.find(id).await.unwrap().expect("cached on a");
        b.users.find(id).await.unwrap().expect("cached on b");
    }

    a.users.delete(ana).await.unwrap().expect("deleted");
    a.users.set_credentials(bob, "h2", Role::Admin).await.unwrap();

    assert_eq!(a.users.find(ana).await.unwrap(), None, "gone at once on the deleting instance");
    assert_eq!(a.users.find(bob).await.unwrap().unwrap().role, Role::Admin);
    assert!(b.users.find(ana).await.unwrap().is_some(), "b still remembers, before the events");
    deliver_log(&db, &b, 0).await;
    until(|| async { b.users.find(ana).await.unwrap().is_none() }).await;
    until(|| async { b.users.find(bob).await.unwrap().is_some_and(|u| u.role == Role::Admin) })
        .await;
}

async fn an_unreadable_event_reloads_revocations_and_forgets_every_user(db: Database) {
    let b = instance(&db).await;
    let users = SeaUserRepository::new(db.clone());
    let ana = users.create(&username("ana"), "h", Role::User).await.unwrap().id;
    assert_eq!(b.users.find(ana).await.unwrap().unwrap().role, Role::User);
    // Written behind b's back, and told to b only as an event it cannot read.
    SeaTokenRevocations::new(db.clone()).revoke("t1", i64::MAX).await.unwrap();
    users.set_credentials(ana, "h", Role::Admin).await.unwrap();
    let log = SeaEventLog::new(db.clone()).since(0, 10).await.unwrap();
    let unreadable = Event {
        entity: EventSubject::Auth,
        operation: Operation::Revoke,
        data: serde_json::json!({ "jti": 7 }),
        ..log[0].clone()
    };
    (b.invalidate)(&unreadable);

    until(|| async { b.revocations.is_revoked("t1").await.unwrap() }).await;
    until(|| async { b.users.find(ana).await.unwrap().is_some_and(|u| u.role == Role::Admin) })
        .await;
}

async fn revocations_and_role_changes_record_internal_events(db: Database) {
    let users = SeaUserRepository::new(db.clone());
    let ana = users.create(&username("ana"), "h", Role::User).await.unwrap().id;
    users.set_credentials(ana, "h", Role::Admin).await.unwrap();
    users.set_credentials(ana + 100, "h", Role::Admin).await.unwrap_err(); // none: rolled back
    SeaTokenRevocations::new(db.clone()).revoke("t1", 99).await.unwrap();
    let events = SeaEventLog::new(db.clone()).since(0, 10).await.unwrap();
    assert!(events.iter().all(Event::is_internal));
    assert_eq!(log_of(&db).await, pairs(&[("auth", "update"), ("auth", "revoke")]));
    assert_eq!(events[1].data, serde_json::json!({ "jti": "t1", "exp": 99 }));
}
