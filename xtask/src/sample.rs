//! A few movies and characters, so that the pages `screenshots` takes show data and the
//! fuzzer's reads and character jobs find some.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use crate::http;
use crate::server::Server;

/// Movies, created first: (name, year, genre, duration, description).
const MOVIES: &[(&str, u16, &str, &str, &str)] = &[
    ("Spirited Away", 2001, "Animation", "125 min", "A girl works in a bathhouse for spirits."),
    ("Alien", 1979, "Science fiction", "117 min", "A crew meets the perfect organism."),
    ("The Grand Budapest Hotel", 2014, "Comedy", "99 min", "A concierge and his lobby boy."),
];

/// Characters created after the movies: (name, movie name, description).
const CHARACTERS: &[(&str, &str, &str)] = &[
    ("Chihiro", "Spirited Away", "Ten years old, renamed Sen."),
    ("Ellen Ripley", "Alien", "Warrant officer of the Nostromo."),
];

/// Characters added one by one while the live page is open: (name, movie name, description).
const LATE_CHARACTERS: &[(&str, &str, &str)] = &[
    ("Haku", "Spirited Away", "A river spirit."),
    ("Dallas", "Alien", "Captain of the Nostromo."),
    ("M. Gustave", "The Grand Budapest Hotel", "The concierge."),
    ("Yubaba", "Spirited Away", "Runs the bathhouse."),
    ("Ash", "Alien", "Science officer."),
    ("Zero Moustafa", "The Grand Budapest Hotel", "The lobby boy."),
    ("No-Face", "Spirited Away", "A lonely spirit."),
    ("Lambert", "Alien", "Navigator of the Nostromo."),
];

/// The pause between two of [`LATE_CHARACTERS`]: chromium shows the page for well under a second.
const LATE_PAUSE: Duration = Duration::from_millis(60);

/// Creates [`MOVIES`] and [`CHARACTERS`] with `token`.
pub fn add(server: &mut Server, token: &str) -> Result<(), String> {
    let mut bodies = Vec::new();
    for (name, year, genre, duration, description) in MOVIES {
        let body = json!({
            "name": name, "year": year, "genre": genre, "duration": duration,
            "description": description,
        });
        bodies.push(("/movies", body));
    }
    for (name, movie, description) in CHARACTERS {
        bodies.push(("/characters", character(name, movie, description)));
    }
    for (path, body) in bodies {
        post(server.port(), token, path, &body).map_err(|e| server.failure(&e))?;
    }
    Ok(())
}

/// Creates [`LATE_CHARACTERS`] one by one, a pause apart, until they run out or `stop` is set.
pub fn add_while_watched(port: u16, token: &str, stop: &AtomicBool) -> Result<(), String> {
    for (name, movie, description) in LATE_CHARACTERS {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        post(port, token, "/characters", &character(name, movie, description))?;
        thread::sleep(LATE_PAUSE);
    }
    Ok(())
}

fn character(name: &str, movie: &str, description: &str) -> Value {
    json!({ "name": name, "movieName": movie, "description": description })
}

fn post(port: u16, token: &str, path: &str, body: &Value) -> Result<(), String> {
    let response = http::post_json(port, path, Some(token), body)?;
    if response.status != 200 {
        return Err(format!("POST {path} {body} answered {} {}", response.status, response.body));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_belong_to_movies_that_are_created_first() {
        for (_, movie, _) in CHARACTERS.iter().chain(LATE_CHARACTERS) {
            assert!(MOVIES.iter().any(|(name, ..)| name == movie), "{movie}");
        }
    }
}
