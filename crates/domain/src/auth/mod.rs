//! Authentication and authorization: credentials that validate themselves, the ports for
//! password hashing, tokens and revocation, the `AuthService`, and the rules of who may change
//! what (`Principal::require_admin`, `Principal::require_editor_of`).

mod model;
mod port;
mod service;

pub use model::{Claims, IssuedToken, Password, Principal, Username};
#[cfg(any(test, feature = "mocks"))]
pub use port::{MockPasswordHasher, MockTokenRevocations, MockTokenService};
pub use port::{PasswordHasher, TokenRevocations, TokenService};
pub use service::{AuthService, Login, USER_GONE};
