//! Background generation jobs: the job entity, the `JobStore` port, and the `JobService` rules
//! (bounds, who may see and cancel a job).

mod model;
mod port;
mod service;

pub use model::{BatchOutcome, Job, JobKind, JobStatus, MAX_ACTIVE_PER_USER, MAX_GENERATE};
pub use port::JobStore;
#[cfg(any(test, feature = "mocks"))]
pub use port::MockJobStore;
pub use service::JobService;
