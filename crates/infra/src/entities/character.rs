//! The `characters` table.

use sea_orm::entity::prelude::*;

use super::positional::{FromPositions, SqlxRow};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "characters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub movie_id: i64,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub editor_id: Option<i64>,
    /// The movie's name, kept with the character (migration 8) so that a page of characters
    /// reads no movie.
    pub movie_name: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::movie::Entity",
        from = "Column::MovieId",
        to = "super::movie::Column::Id",
        on_delete = "Cascade"
    )]
    Movie,
}

impl Related<super::movie::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Movie.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl FromPositions for Model {
    fn from_positions(row: SqlxRow<'_>) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.get(0)?,
            name: row.get(1)?,
            movie_id: row.get(2)?,
            description: row.get(3)?,
            editor_id: row.get(4)?,
            movie_name: row.get(5)?,
        })
    }
}

impl From<Model> for movies_domain::characters::Character {
    fn from(c: Model) -> Self {
        Self {
            id: c.id,
            name: c.name,
            movie_id: c.movie_id,
            movie_name: c.movie_name,
            description: c.description,
            editor_id: c.editor_id,
        }
    }
}
