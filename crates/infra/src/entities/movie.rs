//! The `movies` table.

use sea_orm::entity::prelude::*;

use super::positional::{FromPositions, SqlxRow};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "movies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    pub year: i32,
    pub duration: String,
    pub genre: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub nr_characters: i64,
    pub editor_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::character::Entity")]
    Character,
}

impl Related<super::character::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Character.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl FromPositions for Model {
    fn from_positions(row: SqlxRow<'_>) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.get(0)?,
            name: row.get(1)?,
            year: row.get(2)?,
            duration: row.get(3)?,
            genre: row.get(4)?,
            description: row.get(5)?,
            nr_characters: row.get(6)?,
            editor_id: row.get(7)?,
        })
    }
}

impl From<Model> for movies_domain::movies::Movie {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            year: m.year,
            duration: m.duration,
            genre: m.genre,
            description: m.description,
            nr_characters: m.nr_characters,
            editor_id: m.editor_id,
        }
    }
}
