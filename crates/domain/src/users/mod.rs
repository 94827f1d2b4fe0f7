//! Users: who edits movies and characters, the user port, and the admins' user service.

mod model;
mod port;
mod service;

pub use model::{Role, User, UserSummary};
#[cfg(any(test, feature = "mocks"))]
pub use port::MockUserRepository;
pub use port::UserRepository;
pub use service::UserService;
