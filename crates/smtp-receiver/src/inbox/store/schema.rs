//! The index's tables. The Maildir is the truth; these only make it fast
//! to list and search, and hold what a file cannot (read flags, tags set
//! through the API, the link to a session).

use rusqlite::Connection;

/// Bumped when the tables change: an index of another version is rebuilt.
pub const VERSION: i64 = 2;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id            TEXT PRIMARY KEY NOT NULL,
    path          TEXT NOT NULL,
    created       INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    read          INTEGER NOT NULL DEFAULT 0,
    message_id    TEXT NOT NULL,
    subject       TEXT NOT NULL,
    from_json     TEXT NOT NULL,
    to_json       TEXT NOT NULL,
    cc_json       TEXT NOT NULL,
    bcc_json      TEXT NOT NULL,
    reply_to_json TEXT NOT NULL,
    mail_from     TEXT NOT NULL,
    rcpt_json     TEXT NOT NULL,
    username      TEXT NOT NULL DEFAULT '',
    attachments   INTEGER NOT NULL,
    inline        INTEGER NOT NULL,
    snippet       TEXT NOT NULL,
    tags          TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS messages_created ON messages (created DESC, id DESC);
-- The counters of every listing (total, unread) and of a subject search
-- read these small covering indexes, not 100,000 wide rows; the tags in
-- use come from the few tagged rows only.
DROP INDEX IF EXISTS messages_subject;
CREATE INDEX IF NOT EXISTS messages_read ON messages (read);
CREATE INDEX IF NOT EXISTS messages_subject_read ON messages (subject, read);
CREATE INDEX IF NOT EXISTS messages_tagged ON messages (tags) WHERE tags <> '[]';
-- WITHOUT ROWID: a table keyed by text is otherwise two B-trees (the
-- rows and the key's index), and every B-tree a delivery touches is one
-- more page in the write-ahead log (version 2).
CREATE TABLE IF NOT EXISTS message_text (
    id   TEXT PRIMARY KEY NOT NULL,
    text TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    id       TEXT PRIMARY KEY NOT NULL,
    started  INTEGER NOT NULL,
    ended    INTEGER NOT NULL,
    peer     TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    record   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS delivered (
    message_id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivered_session ON delivered (session_id);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started DESC, id DESC);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
";

/// Sets the connection up: WAL (readers never wait for the writer),
/// `synchronous=NORMAL` (a commit is durable at the next checkpoint: the
/// index can always be rebuilt from the Maildir, which has its own fsyncs),
/// a busy timeout.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Creates the tables; returns false when an index of another version
/// was found (the caller rebuilds it).
pub fn create(conn: &Connection) -> rusqlite::Result<bool> {
    conn.execute_batch(TABLES)?;
    let found: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
            r.get::<_, String>(0)
        })
        .ok()
        .and_then(|v| v.parse().ok());
    match found {
        Some(v) if v == VERSION => Ok(true),
        Some(_) => {
            conn.execute_batch(
                "DROP TABLE messages; DROP TABLE message_text; DROP TABLE sessions; \
                 DROP TABLE delivered;",
            )?;
            conn.execute_batch(TABLES)?;
            set_version(conn)?;
            Ok(false)
        }
        None => {
            set_version(conn)?;
            Ok(true)
        }
    }
}

fn set_version(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('version', ?1)",
        [VERSION.to_string()],
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> String {
        conn.query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
            r.get(0)
        })
        .unwrap()
    }

    /// An index written by another version (version 1 kept the search
    /// texts in a rowid table) is emptied and made anew, for the caller to
    /// rebuild from the Maildir; one of this version is kept as it is.
    #[test]
    fn an_index_of_another_version_is_made_anew() {
        let conn = Connection::open_in_memory().unwrap();
        assert!(create(&conn).unwrap(), "a new index is current");
        conn.execute("INSERT INTO message_text (id, text) VALUES ('a', 'b')", [])
            .unwrap();
        assert!(create(&conn).unwrap(), "reopened: current, kept");
        let kept: i64 = conn
            .query_row("SELECT count(*) FROM message_text", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1);

        conn.execute("UPDATE meta SET value = '1' WHERE key = 'version'", [])
            .unwrap();
        assert!(!create(&conn).unwrap(), "version 1: to be rebuilt");
        let left: i64 = conn
            .query_row("SELECT count(*) FROM message_text", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
        assert_eq!(version(&conn), VERSION.to_string());
        let without_rowid: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE name = 'message_text'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(without_rowid.contains("WITHOUT ROWID"), "{without_rowid}");
    }
}
