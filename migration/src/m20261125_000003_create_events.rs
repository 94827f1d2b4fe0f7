//! The event log (transactional outbox): one row per change, written in the change's own
//! transaction. `seq` orders events; listeners resume from the last `seq` they saw.

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
                    .table(Events::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Events::Seq))
                    .col(string_len(Events::Entity, 16))
                    .col(string_len(Events::Operation, 32))
                    .col(text(Events::Data))
                    // Milliseconds since the epoch, UTC.
                    .col(big_integer(Events::AtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_at_ms")
                    .table(Events::Table)
                    .col(Events::AtMs)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Events::Table).if_exists().to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Seq,
    Entity,
    Operation,
    Data,
    AtMs,
}
