//! Generation jobs: the SeaORM `JobStore`, the fake-data generator and the runner that works
//! through the queue, a bounded number of jobs at a time.

mod generator;
mod runner;
mod store;

pub use generator::{fake_characters, fake_movies};
pub use runner::{BATCH_SIZE, run_job, spawn_runner};
pub use store::SeaJobStore;
