//! Generation jobs' adapters: the SeaORM `JobStore` (job bookkeeping, and [`record_progress`],
//! with which the repositories credit a job in a batch's transaction), the `fake`-crate
//! `RowGenerator`, and the runner that schedules queued jobs onto `JobService::run`.

mod generator;
mod runner;
mod store;

pub use generator::FakeRows;
pub use runner::{refresh_statistics_after, run_under_lease, spawn_runner};
pub(crate) use store::record_progress;
pub use store::{DEFAULT_LEASE, SeaJobStore};
