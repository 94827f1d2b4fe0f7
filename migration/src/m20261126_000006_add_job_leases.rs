//! Job leases: the instance running a job (`lease_holder`) holds it until `lease_until_ms` and
//! renews that while it works, so that with several instances on one database a job runs on
//! exactly one, and one whose instance died is taken over once its lease has expired.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [string_len_null(Jobs::LeaseHolder, 36), big_integer_null(Jobs::LeaseUntilMs)]
        {
            let mut column = column;
            manager
                .alter_table(Table::alter().table(Jobs::Table).add_column(&mut column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Jobs::LeaseHolder, Jobs::LeaseUntilMs] {
            manager
                .alter_table(Table::alter().table(Jobs::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    LeaseHolder,
    LeaseUntilMs,
}
