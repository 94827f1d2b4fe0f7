//! `Readiness` over SeaORM: a ping on a pooled connection.

use async_trait::async_trait;
use movies_domain::readiness::Readiness;
use movies_domain::{Error, Result};

use crate::db::Database;

#[derive(Clone, Debug)]
pub struct SeaReadiness {
    db: Database,
}

impl SeaReadiness {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Readiness for SeaReadiness {
    async fn check(&self) -> Result<()> {
        // Any failure to answer a ping is an outage, never a bug of ours.
        self.db.conn().ping().await.map_err(Error::unavailable)
    }
}
