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
        // Any failure to answer a ping is an outage, never a bug of ours. Bounded: the pool's
        // acquire timeout covers waiting for a connection and the ping that tests it, but not
        // this ping, which would hang on a connection the network dropped just after that test.
        let limit = self.db.acquire_timeout();
        match tokio::time::timeout(limit, self.db.conn().ping()).await {
            Ok(answer) => answer.map_err(Error::unavailable),
            Err(_) => Err(Error::unavailable(format!("no answer to a ping within {limit:?}"))),
        }
    }
}
