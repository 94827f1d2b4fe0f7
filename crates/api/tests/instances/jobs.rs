//! Generation jobs across instances: each queued job is run by exactly one instance, and the job
//! of an instance killed mid-run is finished by another once its lease has expired, with exactly
//! the rows requested.
//!
//! A job's end is awaited by reading `GET /jobs/{id}` every 100 ms rather than through a
//! listener: the job runs on either instance, and these tests should not depend on events
//! crossing instances, which the tests in `events` cover.

use std::time::Duration;

use movies_domain::jobs::BATCH_SIZE;
use serde_json::Value;

use crate::events::two_instances;
use crate::harness::{
    EVENT_PATIENCE, Endpoint, Instance, JOB_PATIENCE, TestDb, all_events, ended_job, has_field,
    runs_job,
};

/// Reads the job every 100 ms until `done(job)`; returns it. Panics after [`JOB_PATIENCE`].
async fn job_until(
    http: &Endpoint,
    token: &str,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = tokio::time::Instant::now();
    loop {
        let job = http.job(token, id).await;
        if done(&job) {
            return job;
        }
        assert!(
            started.elapsed() < JOB_PATIENCE,
            "job {id} is not {what} after {JOB_PATIENCE:?}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn is_finished(job: &Value) -> bool {
    matches!(job["status"].as_str(), Some("done" | "failed" | "cancelled"))
}

/// How many times each instance logged that it runs job `id`.
fn runs(instances: &[&Instance], id: &str) -> Vec<usize> {
    instances.iter().map(|i| i.log().count(|line| runs_job(line, id))).collect()
}

#[tokio::test]
async fn each_generation_job_is_run_by_exactly_one_instance() {
    const JOBS: usize = 4;
    const EACH: u64 = BATCH_SIZE + BATCH_SIZE / 2;
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db, &[]).await;
    let token = a.admin_token().await;

    // Four jobs at once (the most one user may have), queued through both instances.
    let mut ids = Vec::new();
    for n in 0..JOBS {
        let through = if n % 2 == 0 { &a } else { &b };
        ids.push(through.generate_movies(&token, EACH).await);
    }
    let mut jobs = Vec::new();
    for id in &ids {
        jobs.push(job_until(&a, &token, id, "finished", is_finished).await);
    }

    // Who ran each job first, then how each ended, so that a failure says which went wrong.
    // The runner logs the end after it stores it, so the line may follow the API's answer.
    for id in &ids {
        let ended = |l: &str| l.contains("job ended") && has_field(l, "job", id);
        tokio::select! {
            _ = a.log().wait_for("the job's end", EVENT_PATIENCE, ended) => {},
            _ = b.log().wait_for("the job's end", EVENT_PATIENCE, ended) => {},
        }
        let runs = runs(&[&a, &b], id);
        println!("job {id}: runs on A and B: {runs:?}");
        assert_eq!(runs.iter().sum::<usize>(), 1, "job {id} ran {runs:?} times on A and B");
        let ended: usize = [&a, &b].iter().map(|i| i.log().count(ended)).sum();
        assert_eq!(ended, 1, "job {id} ended {ended} times");
    }
    for job in &jobs {
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!(job["done"], EACH, "{job}");
    }
    let total = JOBS as i64 * EACH as i64;
    assert_eq!(a.movie_count().await, total);
    assert_eq!(b.movie_count().await, total);
    assert_eq!(db.number("SELECT COUNT(*) FROM movies").await, total);
}

#[tokio::test]
async fn a_killed_instances_job_is_finished_by_the_other_once_its_lease_expires() {
    const REQUESTED: u64 = 10 * BATCH_SIZE;
    let Some(db) = TestDb::create().await else { return };
    let (a, b) = two_instances(&db, &[("JOB_LEASE", "2s")]).await;
    let token = a.admin_token().await;
    let id = a.generate_movies(&token, REQUESTED).await;

    // Which instance runs it?
    let line = tokio::select! {
        line = a.log().wait_for("the job's start", EVENT_PATIENCE, |l| runs_job(l, &id)) => line,
        line = b.log().wait_for("the job's start", EVENT_PATIENCE, |l| runs_job(l, &id)) => line,
    };
    let (mut runner, survivor) =
        if a.log().count(|l| runs_job(l, &id)) > 0 { (a, b) } else { (b, a) };
    println!("{} runs the job: {line}", runner.process.name);

    // Kill it once a batch is stored, long before the last.
    job_until(&survivor, &token, &id, "under way", |j| j["done"].as_u64() > Some(0)).await;
    runner.process.kill();
    let both = survivor.log().count(|l| runs_job(l, &id));
    assert_eq!(both, 0, "{} ran the job too, before the kill", survivor.process.name);
    let job = survivor.job(&token, &id).await;
    let done_at_kill = job["done"].as_u64().expect("done");
    assert!(done_at_kill < REQUESTED, "the job ended before the kill; make it bigger: {job}");
    println!("killed {} with the job at {done_at_kill} of {REQUESTED}", runner.process.name);

    // The lease is 2 s: the survivor takes the job over within seconds.
    let resumed =
        survivor.log().wait_for("the job's resumption", EVENT_PATIENCE, |l| runs_job(l, &id)).await;
    println!("{} resumed the job: {resumed}", survivor.process.name);
    let job = job_until(&survivor, &token, &id, "finished", is_finished).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["done"], REQUESTED, "{job}");
    // The runner logs the end after it stores it, so the line may follow the API's answer.
    let ended = |l: &str| ended_job(l, &id, "done");
    survivor.log().wait_for("the job's end", EVENT_PATIENCE, ended).await;
    assert_eq!(survivor.log().count(ended), 1);

    // Exactly the rows requested: no batch stored twice (a batch run again would have stored
    // its rows again, under new names), none lost.
    assert_eq!(db.number("SELECT COUNT(*) FROM movies").await, REQUESTED as i64);
    assert_eq!(db.number("SELECT COUNT(DISTINCT name) FROM movies").await, REQUESTED as i64);
    assert_eq!(survivor.movie_count().await, REQUESTED as i64);
    // A batch in flight at the kill may have taken sequence values it never used: reported, not
    // asserted.
    let span = db.number("SELECT MAX(id) - MIN(id) + 1 FROM movies").await;
    println!("ids: {REQUESTED} rows over a span of {span} ({} unused)", span - REQUESTED as i64);

    // The log tells the same story: the job's progress rises to the total, and it ends once.
    let events = all_events(&survivor, 0).await;
    let of_job = |e: &&Value| e["entity"] == "job" && e["data"]["jobId"] == id.as_str();
    let progress: Vec<u64> = events
        .iter()
        .filter(of_job)
        .filter(|e| e["operation"] == "generate_progress")
        .map(|e| e["data"]["done"].as_u64().expect("done"))
        .collect();
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "progress goes up: {progress:?}");
    assert_eq!(progress.last(), Some(&REQUESTED), "{progress:?}");
    let ends: Vec<&Value> =
        events.iter().filter(of_job).filter(|e| e["operation"] == "generate_done").collect();
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(ends[0]["data"]["status"], "done");
    let added: u64 = events
        .iter()
        .filter(|e| e["entity"] == "movie" && e["operation"] == "add_bulk")
        .map(|e| e["data"]["count"].as_u64().expect("a count"))
        .sum();
    assert_eq!(added, REQUESTED, "the add_bulk events count every row once");
}
