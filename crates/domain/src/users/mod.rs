//! Users: who edits movies and characters. Accounts, passwords and tokens come with the
//! authentication issue; the foundation holds the entity and the lookups records need.

mod model;
mod port;

pub use model::{Role, User};
#[cfg(any(test, feature = "mocks"))]
pub use port::MockUserRepository;
pub use port::UserRepository;
