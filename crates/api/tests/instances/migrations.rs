//! Instances that start together on an empty database migrate it once: one of them applies
//! every migration, the other finds the schema up to date, and both serve.

use reqwest::StatusCode;

use crate::harness::{ADMIN, ADMIN_PASSWORD, Instance, TestDb};

/// The migrations in migration/src, one file each (`mYYYYMMDD_HHMMSS_name.rs`).
fn migrations_in_the_source() -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migration/src");
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with('m') && name.ends_with(".rs") && name.as_bytes()[1].is_ascii_digit()
        })
        .count()
}

/// `N` from a line `applied N database migrations`.
fn applied(line: &str) -> Option<usize> {
    let before = line.split(" database migrations").next()?;
    let (_, n) = before.rsplit_once("applied ")?;
    n.trim().parse().ok()
}

#[tokio::test]
async fn instances_starting_together_on_an_empty_database_migrate_it_once() {
    let migrations = migrations_in_the_source();
    for round in 1..=3 {
        let Some(db) = TestDb::create().await else { return };
        // The same environment for both, as a deployment gives every instance (the admin's
        // too), started at the same moment.
        let mut a = Instance::spawn("A", &db, &[]);
        let mut b = Instance::spawn("B", &db, &[]);
        tokio::join!(a.ready(), b.ready());

        let lines = |instance: &Instance, text: &str| instance.log().count(|l| l.contains(text));
        let applying: Vec<String> = [&a, &b]
            .iter()
            .flat_map(|i| i.log().lines())
            .filter(|l| l.contains("database migrations"))
            .collect();
        let up_to_date =
            lines(&a, "database schema is up to date") + lines(&b, "database schema is up to date");
        println!("round {round}: {applying:?}, {up_to_date} up to date");
        assert_eq!(
            applying.len(),
            1,
            "round {round}: one instance applies the migrations: {applying:?}"
        );
        assert_eq!(applied(&applying[0]), Some(migrations), "round {round}: {}", applying[0]);
        assert_eq!(up_to_date, 1, "round {round}: the other finds the schema up to date");

        let sql = "SELECT version, COUNT(*)::text FROM seaql_migrations GROUP BY version ORDER BY version";
        let recorded = db.rows(sql).await;
        assert_eq!(recorded.len(), migrations, "round {round}: {recorded:?}");
        assert!(recorded.iter().all(|row| row[1] == "1"), "round {round}: {recorded:?}");
        for instance in [&a, &b] {
            instance.get("/ready", None).await.expect(StatusCode::OK);
            instance.login(ADMIN, ADMIN_PASSWORD).await;
        }
        drop((a, b));
        drop(db);
    }
}
