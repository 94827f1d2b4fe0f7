//! The `movies` table.

use sea_orm::entity::prelude::*;

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
