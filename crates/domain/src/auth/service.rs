//! `AuthService`: registration, login, token verification, logout, and the first admin.

use std::sync::Arc;

use super::Username;
use super::{IssuedToken, Password, PasswordHasher, Principal, TokenRevocations, TokenService};
use crate::clock::now_secs;
use crate::error::{Error, Result};
use crate::text::Checks;
use crate::users::{Role, User, UserRepository};

/// The one answer to every failed login, so it does not tell which part was wrong.
const BAD_LOGIN: &str = "Incorrect username or password";

/// The `Unauthorized` reason when the user a token speaks for has been deleted: at
/// authentication, or by an adapter whose write found the user gone since (the client can only
/// log in again, as another account).
pub const USER_GONE: &str = "The token's user no longer exists";

/// A successful login: the token and who it is for.
#[derive(Debug, Clone)]
pub struct Login {
    pub token: IssuedToken,
    pub user: User,
}

#[derive(Clone)]
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenService>,
    revocations: Arc<dyn TokenRevocations>,
}

impl AuthService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenService>,
        revocations: Arc<dyn TokenRevocations>,
    ) -> Self {
        Self { users, hasher, tokens, revocations }
    }

    /// Makes a `user` account. `Ok(false)` when the name is taken (in any case), as the
    /// original service answered.
    ///
    /// # Errors
    /// `Invalid` for a missing or malformed username or password (`password_field` names the
    /// field the client used for it).
    pub async fn register(
        &self,
        username: Option<String>,
        password: Option<String>,
        password_field: &'static str,
    ) -> Result<bool> {
        let (username, password) = credentials(username, password, password_field)?;
        if self.users.find_by_username(username.as_str()).await?.is_some() {
            return Ok(false);
        }
        let hash = self.hasher.hash(&password).await?;
        match self.users.create(&username, &hash, Role::User).await {
            Ok(_) => Ok(true),
            // Registered by someone else between the check and the insert.
            Err(Error::DuplicateName { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Checks a username and password and issues a token. Only their presence is checked as
    /// input: a malformed name is just an unknown user, and a password that breaks today's
    /// rules may still be an account's.
    ///
    /// # Errors
    /// `Invalid` naming each missing field (`password_field` names the field the client used
    /// for the password); `Unauthorized` for an unknown user or a wrong password alike, after
    /// the same amount of hashing work.
    pub async fn login(
        &self,
        username: Option<String>,
        password: Option<String>,
        password_field: &'static str,
    ) -> Result<Login> {
        let mut checks = Checks::default();
        let username = checks.required("username", username, |_, raw: String| Ok(raw));
        let password = checks.required(password_field, password, |_, raw| Ok(raw));
        let (Some(username), Some(password)) = (username, password) else {
            return Err(Error::Invalid(checks.into_errors()));
        };
        let password = Password::unchecked(password);
        let Some((user, hash)) = self.users.credentials(&username).await? else {
            self.hasher.verify(&password, None).await?;
            return Err(Error::Unauthorized(BAD_LOGIN));
        };
        if !self.hasher.verify(&password, Some(hash)).await? {
            return Err(Error::Unauthorized(BAD_LOGIN));
        }
        let token = self.tokens.issue(&user)?;
        Ok(Login { token, user })
    }

    /// The principal a bearer token speaks for, with its current role.
    ///
    /// # Errors
    /// `Unauthorized` for an invalid, expired or revoked token, or one whose user is gone.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        let claims = self.tokens.verify(token)?;
        if self.revocations.is_revoked(&claims.jti).await? {
            return Err(Error::Unauthorized("Token has been revoked"));
        }
        let user = self.users.find(claims.uid).await?.ok_or(Error::Unauthorized(USER_GONE))?;
        Ok(Principal {
            user_id: user.id,
            username: user.username,
            role: user.role,
            token_id: claims.jti,
            token_expires_at: claims.exp,
        })
    }

    /// Revokes the principal's token until it expires, and forgets revocations that have.
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        self.revocations.revoke(&principal.token_id, principal.token_expires_at).await?;
        self.revocations.prune(now_secs()).await?;
        Ok(())
    }

    /// Creates the admin `username`, or resets its password and makes it an admin if it exists.
    ///
    /// # Errors
    /// `Invalid` for a malformed username or password.
    pub async fn ensure_admin(&self, username: &str, password: String) -> Result<User> {
        let (username, password) =
            credentials(Some(username.to_owned()), Some(password), "password")?;
        let hash = self.hasher.hash(&password).await?;
        if let Some(user) = self.users.find_by_username(username.as_str()).await? {
            return self.users.set_credentials(user.id, &hash, Role::Admin).await;
        }
        match self.users.create(&username, &hash, Role::Admin).await {
            // Another server sharing the database created it meanwhile (both starting at once).
            Err(Error::DuplicateName { .. }) => {
                let user = self.users.find_by_username(username.as_str()).await?;
                let user =
                    user.ok_or_else(|| Error::internal("the admin was created, then gone"))?;
                self.users.set_credentials(user.id, &hash, Role::Admin).await
            }
            created => created,
        }
    }

    /// Forgets revocations of tokens that have expired; returns how many.
    pub async fn prune_revocations(&self) -> Result<u64> {
        self.revocations.prune(now_secs()).await
    }
}

fn credentials(
    username: Option<String>,
    password: Option<String>,
    password_field: &'static str,
) -> Result<(Username, Password)> {
    let mut checks = Checks::default();
    let username = checks.required("username", username, |_, raw: String| Username::new(&raw));
    let password = checks.required(password_field, password, Password::new);
    match (username, password) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err(Error::Invalid(checks.into_errors())),
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::auth::{Claims, MockPasswordHasher, MockTokenRevocations, MockTokenService};
    use crate::error::RecordKind;
    use crate::users::MockUserRepository;

    fn user() -> User {
        User { id: 7, username: "ana".into(), role: Role::User }
    }

    fn claims() -> Claims {
        Claims {
            sub: "ana".into(),
            uid: 7,
            role: Role::User,
            iat: 0,
            exp: 100,
            jti: "jti-1".into(),
        }
    }

    struct Fakes {
        users: MockUserRepository,
        hasher: MockPasswordHasher,
        tokens: MockTokenService,
        revocations: MockTokenRevocations,
    }

    impl Fakes {
        fn new() -> Self {
            Self {
                users: MockUserRepository::new(),
                hasher: MockPasswordHasher::new(),
                tokens: MockTokenService::new(),
                revocations: MockTokenRevocations::new(),
            }
        }

        fn service(self) -> AuthService {
            AuthService::new(
                Arc::new(self.users),
                Arc::new(self.hasher),
                Arc::new(self.tokens),
                Arc::new(self.revocations),
            )
        }
    }

    #[tokio::test]
    async fn registering_hashes_the_password_and_stores_a_plain_user() {
        let mut f = Fakes::new();
        f.users.expect_find_by_username().returning(|_| Ok(None));
        f.hasher.expect_hash().returning(|_| Ok("$argon2id$fake".into()));
        f.users
            .expect_create()
            .withf(|name, hash, role| {
                name.as_str() == "ana" && hash == "$argon2id$fake" && *role == Role::User
            })
            .times(1)
            .returning(|_, _, _| Ok(user()));
        let service = f.service();
        let registered = service
            .register(Some("ana".into()), Some("password1".into()), "hashedPassword")
            .await
            .unwrap();
        assert!(registered);
    }

    #[tokio::test]
    async fn a_taken_name_registers_as_false_without_hashing() {
        let mut f = Fakes::new();
        f.users.expect_find_by_username().returning(|_| Ok(Some(user())));
        let service = f.service();
        let registered = service
            .register(Some("ANA".into()), Some("password1".into()), "hashedPassword")
            .await
            .unwrap();
        assert!(!registered);
    }

    #[tokio::test]
    async fn a_race_lost_at_insert_also_registers_as_false() {
        let mut f = Fakes::new();
        f.users.expect_find_by_username().returning(|_| Ok(None));
        f.hasher.expect_hash().returning(|_| Ok("h".into()));
        f.users.expect_create().returning(|u, _, _| {
            Err(Error::DuplicateName { entity: RecordKind::User, name: u.as_str().into() })
        });
        let service = f.service();
        let registered = service
            .register(Some("ana".into()), Some("password1".into()), "password")
            .await
            .unwrap();
        assert!(!registered);
    }

    #[tokio::test]
    async fn bad_credentials_are_invalid_and_name_the_field_the_client_used() {
        let f = Fakes::new();
        let err = f.service().register(Some("a b".into()), None, "hashedPassword").await;
        let Err(Error::Invalid(errors)) = err else { panic!("expected Invalid") };
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].loc, vec![crate::Loc::Field("hashedPassword")]);
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[tokio::test]
    async fn a_login_names_only_the_fields_that_are_missing_and_asks_nothing() {
        let service = Fakes::new().service(); // any port call would panic
        let missing = |r: Result<Login>| match r {
            Err(Error::Invalid(errors)) => {
                errors.iter().map(|e| (e.loc.clone(), e.kind)).collect::<Vec<_>>()
            }
            other => panic!("expected Invalid, got {other:?}"),
        };
        let field = |name| (vec![crate::Loc::Field(name)], "missing");
        let no_name = service.login(None, some("pw"), "hashedPassword").await;
        assert_eq!(missing(no_name), [field("username")]);
        let no_password = service.login(some("ana"), None, "hashedPassword").await;
        assert_eq!(missing(no_password), [field("hashedPassword")]);
        let neither = service.login(None, None, "password").await;
        assert_eq!(missing(neither), [field("username"), field("password")]);
    }

    #[tokio::test]
    async fn a_malformed_name_or_password_at_login_is_just_a_wrong_login() {
        let mut f = Fakes::new();
        f.users.expect_credentials().with(eq("a b")).returning(|_| Ok(None));
        f.hasher.expect_verify().returning(|_, _| Ok(false));
        let err = f.service().login(some("a b"), some("x"), "password").await.unwrap_err();
        assert!(matches!(err, Error::Unauthorized(BAD_LOGIN)));
    }

    #[tokio::test]
    async fn an_unknown_user_costs_a_dummy_verification_and_is_unauthorized() {
        let mut f = Fakes::new();
        f.users.expect_credentials().returning(|_| Ok(None));
        f.hasher
            .expect_verify()
            .withf(|_, hash| hash.is_none())
            .times(1)
            .returning(|_, _| Ok(false));
        let err =
            f.service().login(some("ghost"), some("password1"), "password").await.unwrap_err();
        assert!(matches!(err, Error::Unauthorized(BAD_LOGIN)));
    }

    #[tokio::test]
    async fn a_wrong_password_is_the_same_unauthorized() {
        let mut f = Fakes::new();
        f.users.expect_credentials().returning(|_| Ok(Some((user(), "h".into()))));
        f.hasher.expect_verify().returning(|_, _| Ok(false));
        let err = f.service().login(some("ana"), some("wrong-pass"), "password").await.unwrap_err();
        assert!(matches!(err, Error::Unauthorized(BAD_LOGIN)));
    }

    #[tokio::test]
    async fn a_right_password_gets_a_token() {
        let mut f = Fakes::new();
        f.users.expect_credentials().returning(|_| Ok(Some((user(), "h".into()))));
        f.hasher.expect_verify().returning(|_, _| Ok(true));
        f.tokens
            .expect_issue()
            .returning(|_| Ok(IssuedToken { token: "t".into(), claims: claims() }));
        let login = f.service().login(some("ana"), some("password1"), "password").await.unwrap();
        assert_eq!((login.token.token.as_str(), login.user.id), ("t", 7));
    }

    #[tokio::test]
    async fn a_revoked_token_is_unauthorized() {
        let mut f = Fakes::new();
        f.tokens.expect_verify().returning(|_| Ok(claims()));
        f.revocations.expect_is_revoked().with(eq("jti-1")).returning(|_| Ok(true));
        let err = f.service().authenticate("t").await.unwrap_err();
        assert!(matches!(err, Error::Unauthorized(_)));
    }

    #[tokio::test]
    async fn the_principal_carries_the_role_the_store_holds_now() {
        let mut f = Fakes::new();
        f.tokens.expect_verify().returning(|_| Ok(claims()));
        f.revocations.expect_is_revoked().returning(|_| Ok(false));
        f.users
            .expect_find()
            .with(eq(7))
            .returning(|_| Ok(Some(User { role: Role::Admin, ..user() })));
        let principal = f.service().authenticate("t").await.unwrap();
        assert!(principal.is_admin());
    }

    #[tokio::test]
    async fn a_token_of_a_deleted_user_is_unauthorized() {
        let mut f = Fakes::new();
        f.tokens.expect_verify().returning(|_| Ok(claims()));
        f.revocations.expect_is_revoked().returning(|_| Ok(false));
        f.users.expect_find().returning(|_| Ok(None));
        assert!(matches!(f.service().authenticate("t").await, Err(Error::Unauthorized(_))));
    }

    #[tokio::test]
    async fn logging_out_revokes_exactly_the_token_used() {
        let mut f = Fakes::new();
        f.revocations.expect_revoke().with(eq("jti-1"), eq(100)).times(1).returning(|_, _| Ok(()));
        f.revocations.expect_prune().returning(|_| Ok(0));
        let principal = Principal {
            user_id: 7,
            username: "ana".into(),
            role: Role::User,
            token_id: "jti-1".into(),
            token_expires_at: 100,
        };
        f.service().logout(&principal).await.unwrap();
    }

    #[tokio::test]
    async fn ensuring_an_existing_admin_resets_its_password_and_role() {
        let mut f = Fakes::new();
        f.hasher.expect_hash().returning(|_| Ok("new".into()));
        f.users.expect_find_by_username().returning(|_| Ok(Some(user())));
        f.users
            .expect_set_credentials()
            .with(eq(7), eq("new"), eq(Role::Admin))
            .times(1)
            .returning(|_, _, _| Ok(User { role: Role::Admin, ..user() }));
        f.service().ensure_admin("ana", "password1".into()).await.unwrap();
    }

    #[tokio::test]
    async fn an_admin_another_server_created_meanwhile_is_reset_rather_than_an_error() {
        let mut f = Fakes::new();
        f.hasher.expect_hash().returning(|_| Ok("new".into()));
        let mut seq = mockall::Sequence::new();
        f.users.expect_find_by_username().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        f.users.expect_create().times(1).in_sequence(&mut seq).returning(|_, _, _| {
            Err(Error::DuplicateName { entity: crate::RecordKind::User, name: "ana".into() })
        });
        f.users
            .expect_find_by_username()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(user())));
        f.users
            .expect_set_credentials()
            .with(eq(7), eq("new"), eq(Role::Admin))
            .times(1)
            .returning(|_, _, _| Ok(User { role: Role::Admin, ..user() }));
        f.service().ensure_admin("ana", "password1".into()).await.unwrap();
    }
}
