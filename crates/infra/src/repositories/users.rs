//! `UserRepository` over SeaORM.

use async_trait::async_trait;
use movies_domain::Result;
use movies_domain::users::{User, UserRepository};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::db::{Database, unavailable};
use crate::entities::user::{self, Column};

/// Users in the `users` table.
#[derive(Clone, Debug)]
pub struct SeaUserRepository {
    db: Database,
}

impl SeaUserRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn to_domain(m: user::Model) -> User {
    // A role the code does not know (a newer schema) gets the least privilege.
    User {
        id: m.id,
        username: m.username,
        role: m.role.parse().unwrap_or_default(),
    }
}

#[async_trait]
impl UserRepository for SeaUserRepository {
    async fn find(&self, id: i64) -> Result<Option<User>> {
        let found = user::Entity::find_by_id(id)
            .one(self.db.conn())
            .await
            .map_err(unavailable)?;
        Ok(found.map(to_domain))
    }

    async fn find_by_username(&self, username: &str) -> Result<Option<User>> {
        let found = user::Entity::find()
            .filter(Column::UsernameKey.eq(username.to_lowercase()))
            .one(self.db.conn())
            .await
            .map_err(unavailable)?;
        Ok(found.map(to_domain))
    }
}
