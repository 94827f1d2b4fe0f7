//! `UserRepository` over SeaORM. Counts of edited records are computed when read, from indexed
//! `editor_id` columns, so they are always true.

use async_trait::async_trait;
use movies_domain::auth::Username;
use movies_domain::events::NewEvent;
use movies_domain::users::{Role, User, UserRepository, UserSummary};
use movies_domain::{Error, RecordKind, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ActiveValue::Unchanged, ColumnTrait,
    DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Select,
};

use crate::db::{Database, db_error, write_error};
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
    // A role this code does not know (from a newer schema) gets the least privilege.
    User { id: m.id, username: m.username, role: m.role.parse().unwrap_or_default() }
}

#[derive(Debug, FromQueryResult)]
struct SummaryRow {
    id: i64,
    username: String,
    role: String,
    nr_movies: i64,
    nr_characters: i64,
}

fn summaries() -> Select<user::Entity> {
    user::Entity::find()
        .select_only()
        .columns([Column::Id, Column::Username, Column::Role])
        .expr_as(
            Expr::cust("(SELECT COUNT(*) FROM movies WHERE movies.editor_id = users.id)"),
            "nr_movies",
        )
        .expr_as(
            Expr::cust("(SELECT COUNT(*) FROM characters WHERE characters.editor_id = users.id)"),
            "nr_characters",
        )
        .order_by_asc(Column::Id)
}

impl From<SummaryRow> for UserSummary {
    fn from(r: SummaryRow) -> Self {
        Self {
            id: r.id,
            username: r.username,
            role: r.role.parse().unwrap_or_default(),
            nr_movies: r.nr_movies as u64,
            nr_characters: r.nr_characters as u64,
        }
    }
}

#[async_trait]
impl UserRepository for SeaUserRepository {
    async fn create(&self, username: &Username, password_hash: &str, role: Role) -> Result<User> {
        let model = user::ActiveModel {
            id: NotSet,
            username: Set(username.as_str().to_owned()),
            username_key: Set(username.as_str().to_lowercase()),
            password_hash: Set(password_hash.to_owned()),
            role: Set(role.as_str().to_owned()),
        };
        let stored = model.insert(self.db.conn()).await.map_err(write_error(
            RecordKind::User,
            username.as_str(),
            None,
        ))?;
        Ok(to_domain(stored))
    }

    async fn find(&self, id: i64) -> Result<Option<User>> {
        let found = user::Entity::find_by_id(id).one(self.db.conn()).await.map_err(db_error)?;
        Ok(found.map(to_domain))
    }

    async fn find_by_username(&self, username: &str) -> Result<Option<User>> {
        Ok(self.credentials(username).await?.map(|(user, _)| user))
    }

    async fn credentials(&self, username: &str) -> Result<Option<(User, String)>> {
        let found = user::Entity::find()
            .filter(Column::UsernameKey.eq(username.to_lowercase()))
            .one(self.db.conn())
            .await
            .map_err(db_error)?;
        Ok(found.map(|m| {
            let hash = m.password_hash.clone();
            (to_domain(m), hash)
        }))
    }

    async fn set_credentials(&self, id: i64, password_hash: &str, role: Role) -> Result<User> {
        let model = user::ActiveModel {
            id: Unchanged(id),
            password_hash: Set(password_hash.to_owned()),
            role: Set(role.as_str().to_owned()),
            ..Default::default()
        };
        let txn = self.db.write().await?;
        let stored = match model.update(&*txn).await {
            Ok(stored) => stored,
            Err(e) => {
                txn.rollback().await?;
                return Err(match e {
                    DbErr::RecordNotUpdated => Error::NotFound(RecordKind::User),
                    e => db_error(e),
                });
            }
        };
        // Internal: the other instances' auth caches drop the user's cached role.
        self.db.commit(txn, vec![NewEvent::user_credentials_changed(id)]).await?;
        Ok(to_domain(stored))
    }

    async fn summaries(&self, role: Role) -> Result<Vec<UserSummary>> {
        let rows = summaries()
            .filter(Column::Role.eq(role.as_str()))
            .into_model::<SummaryRow>()
            .all(self.db.conn())
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(UserSummary::from).collect())
    }

    async fn summary(&self, id: i64) -> Result<Option<UserSummary>> {
        let row = summaries()
            .filter(Column::Id.eq(id))
            .into_model::<SummaryRow>()
            .one(self.db.conn())
            .await
            .map_err(db_error)?;
        Ok(row.map(UserSummary::from))
    }

    async fn delete(&self, id: i64) -> Result<Option<User>> {
        // The foreign keys set the editor of the user's movies and characters to NULL.
        let txn = self.db.write().await?;
        let deleted =
            user::Entity::delete_by_id(id).exec_with_returning(&*txn).await.map_err(db_error)?;
        let events = deleted.iter().map(|u| NewEvent::user_deleted(u.id)).collect();
        self.db.commit(txn, events).await?;
        Ok(deleted.map(to_domain))
    }
}
