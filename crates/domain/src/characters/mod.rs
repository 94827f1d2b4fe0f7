//! Characters: the entity, its validated input, the repository port and the service.

mod model;
mod port;
mod service;

pub use model::{
    Character, CharacterFilter, CharacterInput, CharacterRecord, MovieRef, NewCharacter,
};
pub use port::CharacterRepository;
#[cfg(any(test, feature = "mocks"))]
pub use port::MockCharacterRepository;
pub use service::CharacterService;
