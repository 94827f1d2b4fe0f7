//! Movies: the entity, its validated input, the repository port and the service.

mod model;
mod port;
mod service;

pub use model::{Movie, MovieFilter, MovieInput, MovieSort, NewMovie, SortKey};
#[cfg(any(test, feature = "mocks"))]
pub use port::MockMovieRepository;
pub use port::MovieRepository;
pub use service::{BulkMovies, MovieService};
