//! The servers sharing a PostgreSQL database: each says it is alive (`seen_ms`) and how far it
//! has taken in the event log (`delivered_seq`), so that a write that changes who may do what (a
//! logout) answers only once every live server has taken it in. Unused on SQLite.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Instances::Table)
                    .if_not_exists()
                    .col(string_len(Instances::Id, 36).primary_key())
                    .col(big_integer(Instances::SeenMs))
                    .col(big_integer(Instances::DeliveredSeq))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Instances::Table).if_exists().to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    SeenMs,
    DeliveredSeq,
}
