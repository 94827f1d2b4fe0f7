//! Generation jobs. `done` is updated in the same transaction as each batch of rows, so a job
//! interrupted at any point resumes with exactly the rows still missing.

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
                    .table(Jobs::Table)
                    .if_not_exists()
                    .col(string_len(Jobs::Id, 36).primary_key())
                    .col(string_len(Jobs::Kind, 16))
                    .col(string_len(Jobs::Status, 16))
                    .col(big_integer(Jobs::Requested))
                    .col(big_integer(Jobs::Done).default(0))
                    .col(big_integer_null(Jobs::OwnerId))
                    .col(boolean(Jobs::CancelRequested).default(false))
                    // Times in milliseconds since the epoch, UTC.
                    .col(big_integer(Jobs::CreatedAtMs))
                    .col(big_integer_null(Jobs::StartedAtMs))
                    .col(big_integer_null(Jobs::FinishedAtMs))
                    .col(text_null(Jobs::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Jobs::Table, Jobs::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_status_created")
                    .table(Jobs::Table)
                    .col(Jobs::Status)
                    .col(Jobs::CreatedAtMs)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Jobs::Table).if_exists().to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Status,
    Requested,
    Done,
    OwnerId,
    CancelRequested,
    CreatedAtMs,
    StartedAtMs,
    FinishedAtMs,
    Error,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
