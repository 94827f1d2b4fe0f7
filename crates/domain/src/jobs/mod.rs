//! Background generation jobs: the job entity, the `JobStore` and `RowGenerator` ports, and the
//! `JobService` with the rules (bounds, who may see and cancel a job) and the run itself (batches
//! through the movie and character repositories, retries, how a job ends).

mod model;
mod port;
mod run;
mod service;

pub use model::{
    BATCH_SIZE, Job, JobCredit, JobKind, JobStatus, MAX_ACTIVE_PER_USER, MAX_GENERATE,
};
pub use port::{JobStore, RowGenerator};
#[cfg(any(test, feature = "mocks"))]
pub use port::{MockJobStore, MockRowGenerator};
pub use run::NO_MOVIES_LEFT;
pub use service::JobService;
