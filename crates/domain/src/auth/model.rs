//! Credentials, token claims and the authenticated principal, with the authorization rules.

use std::fmt;

use crate::error::{Error, FieldError, Result};
use crate::users::Role;

/// A username: 3 to 50 letters, digits, `_`, `.` or `-`. Unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// ```
    /// use movies_domain::auth::Username;
    ///
    /// assert!(Username::new("ana.b-c_1").is_ok());
    /// assert_eq!(Username::new("ab").unwrap_err().kind, "string_length");
    /// assert_eq!(Username::new("ana b").unwrap_err().kind, "string_pattern_mismatch");
    /// ```
    pub fn new(raw: &str) -> Result<Self, FieldError> {
        let len = raw.chars().count();
        if !(3..=50).contains(&len) {
            return Err(FieldError::new(
                "username",
                "string_length",
                "Username must have 3 to 50 characters",
            ));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return Err(FieldError::new(
                "username",
                "string_pattern_mismatch",
                "Username may contain only letters, digits, '_', '.' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plain-text password, 8 to 128 characters. Its `Debug` never shows it.
///
/// ```
/// use movies_domain::auth::Password;
///
/// let password = Password::new("password", "correct horse".into()).unwrap();
/// assert_eq!(format!("{password:?}"), "Password(<redacted>)");
/// assert_eq!(password.expose(), "correct horse");
/// assert!(Password::new("password", "short".into()).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(field: &'static str, raw: String) -> Result<Self, FieldError> {
        if !(8..=128).contains(&raw.chars().count()) {
            return Err(FieldError::new(
                field,
                "string_length",
                "Password must have 8 to 128 characters",
            ));
        }
        Ok(Self(raw))
    }

    /// A password as typed at login: not checked against the rules, which may have changed
    /// since the account was made; a wrong one simply does not verify.
    pub fn unchecked(raw: String) -> Self {
        Self(raw)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// What a token says: `sub` (username), `uid`, `role`, `iat`, `exp` (seconds since the epoch) and
/// `jti` (the token's unique id, by which it can be revoked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub uid: i64,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// A signed token and its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub claims: Claims,
}

/// The user a valid, unrevoked token speaks for, with the role the store holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    /// The token's id and expiry, so that logging out can revoke exactly this token.
    pub token_id: String,
    pub token_expires_at: i64,
}

impl Principal {
    /// A principal for unit tests of the rules.
    #[cfg(test)]
    pub(crate) fn for_test(user_id: i64, role: Role) -> Self {
        Self { user_id, username: "u".into(), role, token_id: "j".into(), token_expires_at: 0 }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// # Errors
    /// `Forbidden` unless the principal is an admin.
    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() { Ok(()) } else { Err(Error::Forbidden("Admin privileges required")) }
    }

    /// Only the record's editor or an admin may change or delete it. A record without an editor
    /// (made before accounts existed, or whose editor was deleted) is the admins' to change.
    ///
    /// ```
    /// use movies_domain::Error;
    /// use movies_domain::auth::Principal;
    /// use movies_domain::users::Role;
    ///
    /// let ana = Principal {
    ///     user_id: 1,
    ///     username: "ana".into(),
    ///     role: Role::User,
    ///     token_id: "token-1".into(),
    ///     token_expires_at: i64::MAX,
    /// };
    /// assert!(ana.require_editor_of(Some(1)).is_ok());
    /// assert!(matches!(ana.require_editor_of(Some(2)), Err(Error::Forbidden(_))));
    /// assert!(ana.require_editor_of(None).is_err());
    ///
    /// let admin = Principal { role: Role::Admin, ..ana };
    /// assert!(admin.require_editor_of(Some(2)).is_ok());
    /// assert!(admin.require_editor_of(None).is_ok());
    /// ```
    ///
    /// # Errors
    /// `Forbidden` otherwise.
    pub fn require_editor_of(&self, editor_id: Option<i64>) -> Result<()> {
        if self.is_admin() || editor_id == Some(self.user_id) {
            Ok(())
        } else {
            Err(Error::Forbidden("Only the record's editor or an admin may change it"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(user_id: i64, role: Role) -> Principal {
        Principal::for_test(user_id, role)
    }

    #[test]
    fn usernames_follow_the_pattern() {
        assert!(Username::new("ana.b-c_1").is_ok());
        assert!(Username::new("ab").is_err());
        assert!(Username::new(&"a".repeat(51)).is_err());
        assert!(Username::new("ana b").is_err());
        assert!(Username::new("ané").is_err());
    }

    #[test]
    fn passwords_are_bounded_and_never_printed() {
        assert!(Password::new("password", "short".into()).is_err());
        assert!(Password::new("password", "x".repeat(129)).is_err());
        let p = Password::new("password", "correct horse".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn only_the_editor_or_an_admin_may_change_a_record() {
        assert!(principal(1, Role::User).require_editor_of(Some(1)).is_ok());
        assert!(principal(1, Role::User).require_editor_of(Some(2)).is_err());
        assert!(principal(1, Role::User).require_editor_of(None).is_err());
        assert!(principal(1, Role::Admin).require_editor_of(Some(2)).is_ok());
        assert!(principal(1, Role::Admin).require_editor_of(None).is_ok());
    }

    #[test]
    fn only_admins_pass_the_admin_check() {
        assert!(principal(1, Role::User).require_admin().is_err());
        assert!(principal(1, Role::Admin).require_admin().is_ok());
    }
}
