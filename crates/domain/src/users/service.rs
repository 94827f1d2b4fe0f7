//! The user rules: who may list and delete users.

use std::sync::Arc;

use super::{Role, User, UserRepository, UserSummary};
use crate::auth::Principal;
use crate::error::{Error, RecordKind, Result};

/// Application service for users (accounts are made by [`crate::auth::AuthService`]).
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
}

impl UserService {
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self { users }
    }

    /// Every non-admin user with its counts, for an admin.
    ///
    /// # Errors
    /// `Forbidden` when `by` is not an admin.
    pub async fn non_admins(&self, by: &Principal) -> Result<Vec<UserSummary>> {
        by.require_admin()?;
        self.users.summaries(Role::User).await
    }

    /// The same list for any signed-in user, as the original's `/users/basicUsers` gives it.
    pub async fn basic_users(&self, _by: &Principal) -> Result<Vec<UserSummary>> {
        self.users.summaries(Role::User).await
    }

    /// # Errors
    /// `NotFound(User)`.
    pub async fn get(&self, id: i64) -> Result<UserSummary> {
        self.users.summary(id).await?.ok_or(Error::NotFound(RecordKind::User))
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
        self.users.delete(id).await?.ok_or(Error::NotFound(RecordKind::User))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::MockUserRepository;

    fn principal(user_id: i64, role: Role) -> Principal {
        Principal::for_test(user_id, role)
    }

    fn summary(id: i64) -> UserSummary {
        UserSummary {
            id,
            username: format!("user{id}"),
            role: Role::User,
            nr_movies: 0,
            nr_characters: 0,
        }
    }

    #[tokio::test]
    async fn only_an_admin_lists_the_non_admins() {
        let service = UserService::new(Arc::new(MockUserRepository::new())); // never called
        let err = service.non_admins(&principal(1, Role::User)).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)));
    }

    #[tokio::test]
    async fn an_admin_lists_the_users_of_role_user() {
        let mut users = MockUserRepository::new();
        users
            .expect_summaries()
            .withf(|role| *role == Role::User)
            .times(1)
            .returning(|_| Ok(vec![summary(2)]));
        let service = UserService::new(Arc::new(users));
        let listed = service.non_admins(&principal(1, Role::Admin)).await.unwrap();
        assert_eq!(listed.iter().map(|u| u.id).collect::<Vec<_>>(), [2]);
    }

    #[tokio::test]
    async fn any_signed_in_user_lists_the_basic_users() {
        let mut users = MockUserRepository::new();
        users.expect_summaries().times(1).returning(|_| Ok(vec![summary(2)]));
        let service = UserService::new(Arc::new(users));
        assert_eq!(service.basic_users(&principal(3, Role::User)).await.unwrap().len(), 1);
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
        assert!(matches!(err, Error::NotFound(RecordKind::User)));
    }
}
