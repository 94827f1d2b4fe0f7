//! `TokenRevocations` over SeaORM: the `revoked_tokens` table.

use async_trait::async_trait;
use movies_domain::Result;
use movies_domain::auth::TokenRevocations;
use movies_domain::events::NewEvent;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use crate::db::{Database, db_error};
use crate::entities::revoked_token::{self, Column};

#[derive(Clone, Debug)]
pub struct SeaTokenRevocations {
    db: Database,
}

impl SeaTokenRevocations {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl TokenRevocations for SeaTokenRevocations {
    async fn revoke(&self, jti: &str, expires_at: i64) -> Result<()> {
        let row =
            revoked_token::ActiveModel { jti: Set(jti.to_owned()), expires_at: Set(expires_at) };
        let txn = self.db.write().await?;
        let result = revoked_token::Entity::insert(row)
            .on_conflict(OnConflict::column(Column::Jti).do_nothing().to_owned())
            .exec_without_returning(&*txn)
            .await;
        match result {
            // Revoked twice (two logouts racing): the event again does no harm.
            Ok(_) | Err(DbErr::RecordNotInserted) => {}
            Err(e) => {
                txn.rollback().await?;
                return Err(db_error(e));
            }
        }
        // Internal: how the other instances' caches learn it (see `auth/cached.rs`).
        self.db.commit(txn, vec![NewEvent::token_revoked(jti, expires_at)]).await
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool> {
        let n = revoked_token::Entity::find()
            .filter(Column::Jti.eq(jti))
            .count(self.db.conn())
            .await
            .map_err(db_error)?;
        Ok(n > 0)
    }

    async fn prune(&self, now: i64) -> Result<u64> {
        let deleted = revoked_token::Entity::delete_many()
            .filter(Column::ExpiresAt.lt(now))
            .exec(self.db.conn())
            .await
            .map_err(db_error)?;
        Ok(deleted.rows_affected)
    }

    async fn unexpired(&self, now: i64) -> Result<Vec<(String, i64)>> {
        revoked_token::Entity::find()
            .select_only()
            .columns([Column::Jti, Column::ExpiresAt])
            .filter(Column::ExpiresAt.gte(now))
            .into_tuple()
            .all(self.db.conn())
            .await
            .map_err(db_error)
    }
}
