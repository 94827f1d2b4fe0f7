//! Event types and the message each kind of write produces.

use crate::names::wire_names;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::characters::Character;
use crate::jobs::Job;
use crate::movies::Movie;

/// What kind of record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSubject {
    Movie,
    Character,
    User,
    Job,
    /// Internal: what the auth caches of every instance must learn (revocations, role changes).
    /// Never sent to listeners nor listed by `GET /events`.
    Auth,
}

/// What happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Add,
    Update,
    Delete,
    AddBulk,
    DeleteBulk,
    GenerateProgress,
    GenerateDone,
    /// Internal (with `Auth`): a token was revoked.
    Revoke,
}

wire_names!(EventSubject {
    Movie => "movie",
    Character => "character",
    User => "user",
    Job => "job",
    Auth => "auth",
});
wire_names!(Operation {
    Add => "add",
    Update => "update",
    Delete => "delete",
    AddBulk => "add_bulk",
    DeleteBulk => "delete_bulk",
    GenerateProgress => "generate_progress",
    GenerateDone => "generate_done",
    Revoke => "revoke",
});

impl EventSubject {
    /// The names listeners may see and subscribe to: every subject but the internal ones.
    pub const PUBLIC_NAMES: &'static [&'static str] = &["movie", "character", "user", "job"];

    /// Whether events of this subject stay inside the servers (never sent to listeners).
    pub fn is_internal(self) -> bool {
        matches!(self, Self::Auth)
    }
}

impl Operation {
    /// The operations listeners may see: every one but those only internal events use.
    pub const PUBLIC_NAMES: &'static [&'static str] = &[
        "add",
        "update",
        "delete",
        "add_bulk",
        "delete_bulk",
        "generate_progress",
        "generate_done",
    ];
}

/// An event about to be written, in the transaction of its change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub entity: EventSubject,
    pub operation: Operation,
    pub data: Value,
}

/// A stored event: `seq` increases with every event, in commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub entity: EventSubject,
    pub operation: Operation,
    pub data: Value,
    /// When it was written, RFC 3339 in UTC.
    pub at: String,
}

impl Event {
    /// Whether this event is for the servers only (see [`EventSubject::Auth`]): listeners skip
    /// its `seq`, which is why theirs may have gaps.
    pub fn is_internal(&self) -> bool {
        self.entity.is_internal()
    }
}

/// A movie's character count after a character write: character events carry one for each movie
/// whose count changed, so listeners see `nrCharacters` move without refetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MovieCount {
    pub id: i64,
    pub nr_characters: i64,
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // Serialising plain derived structs to a JSON value cannot fail.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl NewEvent {
    fn new(entity: EventSubject, operation: Operation, data: Value) -> Self {
        Self { entity, operation, data }
    }

    pub fn movie_added(movie: &Movie) -> Self {
        Self::new(EventSubject::Movie, Operation::Add, to_value(movie))
    }

    pub fn movie_updated(movie: &Movie) -> Self {
        Self::new(EventSubject::Movie, Operation::Update, to_value(movie))
    }

    pub fn movie_deleted(movie: &Movie) -> Self {
        Self::new(
            EventSubject::Movie,
            Operation::Delete,
            json!({ "id": movie.id, "name": movie.name }),
        )
    }

    pub fn movies_added(ids: &[i64]) -> Self {
        Self::new(
            EventSubject::Movie,
            Operation::AddBulk,
            json!({ "count": ids.len(), "ids": ids }),
        )
    }

    pub fn movies_deleted(ids: &[i64]) -> Self {
        Self::new(EventSubject::Movie, Operation::DeleteBulk, json!({ "deleted": ids }))
    }

    /// The characters that went with deleted movies.
    pub fn characters_deleted_with_movies(ids: &[i64]) -> Self {
        Self::new(EventSubject::Character, Operation::DeleteBulk, json!({ "deleted": ids }))
    }

    pub fn character_added(character: &Character, movies: &[MovieCount]) -> Self {
        Self::new(EventSubject::Character, Operation::Add, with_movies(to_value(character), movies))
    }

    pub fn character_updated(character: &Character, movies: &[MovieCount]) -> Self {
        let data = with_movies(to_value(character), movies);
        Self::new(EventSubject::Character, Operation::Update, data)
    }

    pub fn character_deleted(character: &Character, movies: &[MovieCount]) -> Self {
        let data = json!({ "id": character.id, "name": character.name });
        Self::new(EventSubject::Character, Operation::Delete, with_movies(data, movies))
    }

    pub fn characters_added(ids: &[i64], movies: &[MovieCount]) -> Self {
        let data = json!({ "count": ids.len(), "ids": ids });
        Self::new(EventSubject::Character, Operation::AddBulk, with_movies(data, movies))
    }

    pub fn characters_deleted(ids: &[i64], movies: &[MovieCount]) -> Self {
        let data = json!({ "deleted": ids });
        Self::new(EventSubject::Character, Operation::DeleteBulk, with_movies(data, movies))
    }

    pub fn user_deleted(id: i64) -> Self {
        Self::new(EventSubject::User, Operation::Delete, json!({ "id": id }))
    }

    /// Internal: the token `jti` (expiring at `expires_at`, seconds) is revoked.
    pub fn token_revoked(jti: &str, expires_at: i64) -> Self {
        Self::new(EventSubject::Auth, Operation::Revoke, json!({ "jti": jti, "exp": expires_at }))
    }

    /// Internal: the user's credentials or role changed.
    pub fn user_credentials_changed(id: i64) -> Self {
        Self::new(EventSubject::Auth, Operation::Update, json!({ "userId": id }))
    }

    /// A job's progress after a batch, written in the batch's transaction: `done` counts the
    /// rows stored so far.
    pub fn job_progress(job: &Job) -> Self {
        let data = json!({ "jobId": job.id, "done": job.done, "requested": job.requested });
        Self::new(EventSubject::Job, Operation::GenerateProgress, data)
    }

    /// A job's end (`done`, `failed` or `cancelled`) with the rows it stored.
    pub fn job_done(job: &Job) -> Self {
        let data = json!({ "jobId": job.id, "status": job.status.as_str(), "done": job.done });
        Self::new(EventSubject::Job, Operation::GenerateDone, data)
    }
}

fn with_movies(mut data: Value, movies: &[MovieCount]) -> Value {
    if let Value::Object(map) = &mut data {
        map.insert("movies".into(), to_value(&movies));
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movie() -> Movie {
        Movie {
            id: 4,
            name: "Alien".into(),
            year: 1979,
            duration: String::new(),
            genre: String::new(),
            description: String::new(),
            nr_characters: 2,
            editor_id: Some(1),
        }
    }

    #[test]
    fn an_added_movie_carries_the_whole_record_with_its_wire_names() {
        let event = NewEvent::movie_added(&movie());
        assert_eq!(event.data["nrCharacters"], 2);
        assert_eq!(event.data["editorId"], 1);
        assert_eq!((event.entity.as_str(), event.operation.as_str()), ("movie", "add"));
    }

    #[test]
    fn a_deleted_movie_carries_its_id_and_name_only() {
        assert_eq!(NewEvent::movie_deleted(&movie()).data, json!({ "id": 4, "name": "Alien" }));
    }

    #[test]
    fn character_events_carry_the_new_counts_of_the_movies_they_touched() {
        let c = Character {
            id: 9,
            name: "Ripley".into(),
            movie_id: 4,
            movie_name: "Alien".into(),
            description: String::new(),
            editor_id: None,
        };
        let event = NewEvent::character_updated(&c, &[MovieCount { id: 4, nr_characters: 3 }]);
        assert_eq!(event.data["movieName"], "Alien");
        assert_eq!(event.data["movies"], json!([{ "id": 4, "nrCharacters": 3 }]));
    }

    #[test]
    fn job_events_carry_the_job_id_and_its_progress() {
        let job = Job {
            id: "j1".into(),
            kind: crate::jobs::JobKind::Movies,
            status: crate::jobs::JobStatus::Cancelled,
            requested: 10,
            done: 4,
            owner_id: None,
            cancel_requested: true,
            created_at: String::new(),
            started_at: None,
            finished_at: None,
            error: None,
        };
        let progress = NewEvent::job_progress(&job);
        assert_eq!(progress.data, json!({ "jobId": "j1", "done": 4, "requested": 10 }));
        assert_eq!(progress.operation, Operation::GenerateProgress);
        let done = NewEvent::job_done(&job);
        assert_eq!(done.data, json!({ "jobId": "j1", "status": "cancelled", "done": 4 }));
        assert_eq!((done.entity, done.operation), (EventSubject::Job, Operation::GenerateDone));
    }

    #[test]
    fn names_round_trip() {
        for op in ["add", "update", "delete", "add_bulk", "delete_bulk", "generate_progress"] {
            assert_eq!(op.parse::<Operation>().unwrap().as_str(), op);
        }
        assert_eq!("job".parse::<EventSubject>().unwrap(), EventSubject::Job);
        assert!("film".parse::<EventSubject>().is_err());
    }

    #[test]
    fn the_public_names_are_every_name_but_the_internal_ones() {
        let public: Vec<&str> = EventSubject::NAMES
            .iter()
            .copied()
            .filter(|n| n.parse::<EventSubject>().is_ok_and(|s| !s.is_internal()))
            .collect();
        assert_eq!(public, EventSubject::PUBLIC_NAMES);
        let internal_ops = [Operation::Revoke.as_str()];
        let ops: Vec<&str> =
            Operation::NAMES.iter().copied().filter(|n| !internal_ops.contains(n)).collect();
        assert_eq!(ops, Operation::PUBLIC_NAMES);
        assert!(NewEvent::token_revoked("j", 1).entity.is_internal());
        assert!(NewEvent::user_credentials_changed(1).entity.is_internal());
    }
}
