//! The outside movie catalogue (The Movie Database): the port that reads it, the shapes the
//! domain reads from its answers, and the service that browses it and imports its movies into
//! ours.

mod model;
mod port;
mod service;

pub use model::{OutsideGenre, OutsideMovie, runtime_text};
#[cfg(any(test, feature = "mocks"))]
pub use port::MockMovieCatalogue;
pub use port::MovieCatalogue;
pub use service::CatalogueService;
