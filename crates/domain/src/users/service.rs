//! The user rules: who may list and delete users.

use std::sync::Arc;

use super::{Role, User, UserRepository, UserSummary};
use crate::auth::Principal;
use crate::error::{Entity, Error, Result};

/// Application service for users (accounts are made by [`crate::auth::AuthService`]).
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
}

impl UserService {
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self { users }
    }

    /// Every non-admin user with its counts.
    pub async fn non_admins(&self) -> Result<Vec<UserSummary>> {
        self.users.summaries(Role::User).await
    }

    /// # Errors
    /// `NotFound(User)`.
    pub async fn get(&self, id: i64) -> Result<UserSummary> {
        self.users.summary(id).await?.ok_or(Error::NotFound(Entity::User))
    }

    /// # Errors
    /// `NotFound(User)`.
    pub async fn by_username(&self, username: &str) -> Result<User> {
        self.users.find_by_username(username).await?.ok_or(Error::NotFound(Entity::User))
    }

    /// Admins delete users; an admin cannot delete itself (there would be no admin left to undo
    /// it).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound(User)`.
    pub async fn delete(&self, id: i64, by: &Principal) -> Result<User> {
        by.require_admin()?;
        if id == by.user_id {
            return Err(Error::Forbidden("An admin cannot delete itself"));
        }
        self.users.delete(id).await?.ok_or(Error::NotFound(Entity::User))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::MockUserRepository;

    fn principal(user_id: i64, role: Role) -> Principal {
        Principal::for_test(user_id, role)
    }

    #[tokio::test]
    async fn an_admin_cannot_delete_itself() {
        let service = UserService::new(Arc::new(MockUserRepository::new()));
        let err = service.delete(1, &principal(1, Role::Admin)).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
    }

    #[tokio::test]
    async fn a_user_cannot_delete_anyone() {
        let service = UserService::new(Arc::new(MockUserRepository::new()));
        let err = service.delete(2, &principal(1, Role::User)).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
    }

    #[tokio::test]
    async fn deleting_a_missing_user_is_not_found() {
        let mut users = MockUserRepository::new();
        users.expect_delete().returning(|_| Ok(None));
        let service = UserService::new(Arc::new(users));
        let err = service.delete(2, &principal(1, Role::Admin)).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(Entity::User)));
    }
}
