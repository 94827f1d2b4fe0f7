//! `EventLog` over SeaORM: the `events` table read back in `seq` order.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat};
use movies_domain::events::{Event, EventLog};
use movies_domain::{Error, Result};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::{Database, db_error};
use crate::entities::event::{self, Column};

#[derive(Clone, Debug)]
pub struct SeaEventLog {
    db: Database,
}

impl SeaEventLog {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

pub(crate) fn to_domain(m: event::Model) -> Result<Event> {
    let corrupt = |what: &str| Error::internal(format!("event {} has {what}", m.seq));
    Ok(Event {
        seq: m.seq,
        entity: m.entity.parse().map_err(|_| corrupt("an unknown entity"))?,
        operation: m.operation.parse().map_err(|_| corrupt("an unknown operation"))?,
        data: serde_json::from_str(&m.data).map_err(|_| corrupt("data that is not JSON"))?,
        at: DateTime::from_timestamp_millis(m.at_ms)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default(),
    })
}

#[async_trait]
impl EventLog for SeaEventLog {
    async fn since(&self, after: i64, limit: u64) -> Result<Vec<Event>> {
        let rows = event::Entity::find()
            .filter(Column::Seq.gt(after))
            .order_by_asc(Column::Seq)
            .limit(limit)
            .all(self.db.conn())
            .await
            .map_err(db_error)?;
        rows.into_iter().map(to_domain).collect()
    }

    async fn bounds(&self) -> Result<Option<(i64, i64)>> {
        let row: Option<(Option<i64>, Option<i64>)> = event::Entity::find()
            .select_only()
            .expr(Func::min(Expr::col(Column::Seq)))
            .expr(Func::max(Expr::col(Column::Seq)))
            .into_tuple()
            .one(self.db.conn())
            .await
            .map_err(db_error)?;
        Ok(match row {
            Some((Some(min), Some(max))) => Some((min, max)),
            _ => None,
        })
    }

    async fn prune(&self, before_ms: i64, keep: u64) -> Result<u64> {
        let mut expired = Condition::any().add(Column::AtMs.lt(before_ms));
        if let Some((_, max)) = self.bounds().await? {
            expired = expired.add(Column::Seq.lte(max - keep as i64));
        }
        let deleted = event::Entity::delete_many()
            .filter(expired)
            .exec(self.db.conn())
            .await
            .map_err(db_error)?;
        Ok(deleted.rows_affected)
    }
}
