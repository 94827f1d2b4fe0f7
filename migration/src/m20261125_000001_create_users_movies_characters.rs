//! Users, movies and characters. `movies.nr_characters` is a stored count that the adapters keep
//! true in the same transaction as each write; deleting a movie cascades to its characters.

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
                    .table(Users::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Users::Id))
                    .col(string_len(Users::Username, 50))
                    // Lower-cased username: names are unique regardless of case.
                    .col(string_len_uniq(Users::UsernameKey, 50))
                    .col(string(Users::PasswordHash))
                    .col(string_len(Users::Role, 16).default("user"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Movies::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Movies::Id))
                    .col(string_len_uniq(Movies::Name, 200))
                    .col(integer(Movies::Year))
                    .col(string_len(Movies::Duration, 50).default(""))
                    .col(string_len(Movies::Genre, 100).default(""))
                    .col(text(Movies::Description).default(""))
                    .col(big_integer(Movies::NrCharacters).default(0))
                    .col(big_integer_null(Movies::EditorId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Movies::Table, Movies::EditorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Characters::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Characters::Id))
                    .col(string_len(Characters::Name, 200))
                    .col(big_integer(Characters::MovieId))
                    .col(text(Characters::Description).default(""))
                    .col(big_integer_null(Characters::EditorId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Characters::Table, Characters::MovieId)
                            .to(Movies::Table, Movies::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Characters::Table, Characters::EditorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, table, column) in [
            ("idx_movies_year", Movies::Table, Movies::Year),
            ("idx_movies_genre", Movies::Table, Movies::Genre),
            ("idx_movies_editor_id", Movies::Table, Movies::EditorId),
        ] {
            manager
                .create_index(
                    Index::create().name(name).table(table).col(column).if_not_exists().to_owned(),
                )
                .await?;
        }
        for (name, column) in [
            ("idx_characters_movie_id", Characters::MovieId),
            ("idx_characters_editor_id", Characters::EditorId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Characters::Table)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            [Characters::Table.into_iden(), Movies::Table.into_iden(), Users::Table.into_iden()]
        {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    UsernameKey,
    PasswordHash,
    Role,
}

#[derive(DeriveIden)]
enum Movies {
    Table,
    Id,
    Name,
    Year,
    Duration,
    Genre,
    Description,
    NrCharacters,
    EditorId,
}

#[derive(DeriveIden)]
enum Characters {
    Table,
    Id,
    Name,
    MovieId,
    Description,
    EditorId,
}
