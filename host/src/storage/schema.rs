//! The SQLite schema and its migrations. `PRAGMA user_version` records the applied version so an
//! older database is upgraded in place at start-up, inside one transaction.

use rusqlite::Connection;

use super::StorageError;

/// Migrations in order; index + 1 is the schema version they bring the file to.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE seats (
        id          INTEGER PRIMARY KEY,
        label       TEXT NOT NULL,
        sector      TEXT NOT NULL,
        row         INTEGER NOT NULL,
        position    INTEGER NOT NULL,
        line        TEXT,
        boot_id     INTEGER,
        firmware    TEXT,
        board       TEXT,
        last_seen_ms INTEGER
    );
    -- Raw samples: the hottest channel of each verified telemetry frame, kept for raw_retention.
    -- Clustered by (seat, t_ms) so a seat's chart is one range scan.
    CREATE TABLE samples (
        seat        INTEGER NOT NULL,
        t_ms        INTEGER NOT NULL,
        temp_centi  INTEGER NOT NULL,
        flags       INTEGER NOT NULL,
        PRIMARY KEY (seat, t_ms)
    ) WITHOUT ROWID;
    -- 1-minute min/max/mean beyond the raw window, kept for rollup_retention.
    CREATE TABLE rollups (
        seat        INTEGER NOT NULL,
        minute_ms   INTEGER NOT NULL,
        min_centi   INTEGER NOT NULL,
        max_centi   INTEGER NOT NULL,
        sum_centi   INTEGER NOT NULL,
        n           INTEGER NOT NULL,
        PRIMARY KEY (seat, minute_ms)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        at_ms       INTEGER NOT NULL,
        seat        INTEGER,
        line        TEXT,
        kind        TEXT NOT NULL,
        detail      TEXT NOT NULL
    );
    CREATE INDEX events_by_seat ON events (seat, at_ms);
    -- The current view of every alert (one row per alert id, upserted on each change).
    CREATE TABLE alerts (
        id          INTEGER PRIMARY KEY,
        view        TEXT NOT NULL,
        state       TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE INDEX alerts_open ON alerts (state);
    -- Every state change of every alert, for the audit trail.
    CREATE TABLE alert_history (
        alert_id    INTEGER NOT NULL,
        at_ms       INTEGER NOT NULL,
        state       TEXT NOT NULL,
        view        TEXT NOT NULL
    );
    CREATE INDEX alert_history_by_alert ON alert_history (alert_id, at_ms);
    CREATE TABLE silences (
        id          INTEGER PRIMARY KEY,
        view        TEXT NOT NULL,
        until_ms    INTEGER NOT NULL
    );
    -- Notifications owed to sinks: written in the same transaction as the alert change.
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY,
        sink        TEXT NOT NULL,
        notification TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        delivered_ms INTEGER,
        last_error  TEXT
    );
    CREATE INDEX outbox_due ON outbox (delivered_ms, next_attempt_ms);
    ",
    // 2: the boots whose Hello opened a session, so a replayed Hello is refused after a restart.
    "
    CREATE TABLE hellos (
        seat        INTEGER NOT NULL,
        boot_id     INTEGER NOT NULL,
        counter     INTEGER NOT NULL,
        at_ms       INTEGER NOT NULL,
        PRIMARY KEY (seat, boot_id)
    ) WITHOUT ROWID;
    ",
];

/// The schema version this build writes.
pub const VERSION: u32 = MIGRATIONS.len() as u32;

/// Sets the connection up (WAL, durability, timeouts) and migrates the file to [`VERSION`].
pub fn prepare(conn: &mut Connection) -> Result<(), StorageError> {
    // WAL: readers (HTTP, outbox) never block the writer. synchronous=NORMAL in WAL mode keeps
    // every committed transaction across a process kill (only an OS crash or power cut may lose
    // the last ones), at a fraction of FULL's fsyncs (SQLite docs, "PRAGMA synchronous").
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let current: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > VERSION {
        return Err(StorageError::TooNew {
            found: current,
            supported: VERSION,
        });
    }
    let tx = conn.transaction()?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
    }
    tx.commit()?;
    Ok(())
}
