//! Messages in the index: insert, list and search, read flags, tags,
//! deletion, retention.

use std::time::{Duration, SystemTime};

use rusqlite::types::Value;
use rusqlite::{Connection, Row, Transaction, params, params_from_iter};

use super::{Change, Result, Store, remove_files};
use crate::inbox::entry::{Entry, MailAddress, millis};
use crate::inbox::search::Filter;

/// A message as listed: its [`Entry`] (without the search text), and what
/// only the index knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    /// What the file says.
    pub entry: Entry,
    /// Read flag.
    pub read: bool,
    /// The AUTH user name the client used, `""` without AUTH.
    pub username: String,
    /// The session that delivered it, once that session ended.
    pub session_id: Option<String>,
}

/// A page of a listing or search, with Mailpit's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Messages in the mailbox.
    pub total: u64,
    /// Unread messages in the mailbox.
    pub unread: u64,
    /// Messages matching the search.
    pub matched: u64,
    /// Unread messages matching the search.
    pub matched_unread: u64,
    /// Every tag in use, sorted.
    pub tags: Vec<String>,
    /// The page, newest first.
    pub rows: Vec<MessageRow>,
}

/// A recorded session as the index lists it; `record` is its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The session id (as in the logs).
    pub id: String,
    /// Start, ms since the epoch.
    pub started_ms: i64,
    /// End, ms since the epoch.
    pub ended_ms: i64,
    /// The client's address.
    pub peer: String,
    /// `delivered`, `refused`, ...
    pub outcome: String,
    /// The whole record as JSON.
    pub record: String,
}

const COLUMNS: &str = "id, path, created, size, read, message_id, subject, from_json, to_json, \
    cc_json, bcc_json, reply_to_json, mail_from, rcpt_json, username, attachments, inline, \
    snippet, tags, (SELECT session_id FROM delivered WHERE message_id = messages.id)";

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

fn parse<T: serde::de::DeserializeOwned + Default>(text: String) -> T {
    serde_json::from_str(&text).unwrap_or_default()
}

fn message_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        entry: Entry {
            id: r.get(0)?,
            path: r.get(1)?,
            created_ms: r.get(2)?,
            size: r.get::<_, i64>(3)? as u64,
            message_id: r.get(5)?,
            subject: r.get(6)?,
            from: parse::<MailAddress>(r.get(7)?),
            to: parse(r.get(8)?),
            cc: parse(r.get(9)?),
            bcc: parse(r.get(10)?),
            reply_to: parse(r.get(11)?),
            mail_from: r.get(12)?,
            rcpt_to: parse(r.get(13)?),
            attachments: r.get(15)?,
            inline: r.get(16)?,
            snippet: r.get(17)?,
            search_text: String::new(),
            tags: parse(r.get(18)?),
            seen: r.get::<_, i64>(4)? != 0,
        },
        read: r.get::<_, i64>(4)? != 0,
        username: r.get(14)?,
        session_id: r.get(19)?,
    })
}

/// Inserts (or replaces) a message's row and search text.
pub(super) fn insert(txn: &Connection, e: &Entry, username: &str) -> rusqlite::Result<()> {
    txn.prepare_cached(
        "INSERT OR REPLACE INTO messages (id, path, created, size, read, message_id, subject, \
         from_json, to_json, cc_json, bcc_json, reply_to_json, mail_from, rcpt_json, username, \
         attachments, inline, snippet, tags) VALUES (?1, ?2, ?3, ?4, ?19, ?5, ?6, ?7, ?8, ?9, \
         ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        e.id,
        e.path,
        e.created_ms,
        e.size as i64,
        e.message_id,
        e.subject,
        json(&e.from),
        json(&e.to),
        json(&e.cc),
        json(&e.bcc),
        json(&e.reply_to),
        e.mail_from,
        json(&e.rcpt_to),
        username,
        e.attachments,
        e.inline,
        e.snippet,
        json(&e.tags),
        e.seen,
    ])?;
    txn.prepare_cached("INSERT OR REPLACE INTO message_text (id, text) VALUES (?1, ?2)")?
        .execute(params![e.id, e.search_text])?;
    Ok(())
}

/// Rows deleted: their ids (told to live pages) and their files (removed
/// once the deletion is committed).
#[derive(Debug, Default)]
struct Removed {
    ids: Vec<String>,
    paths: Vec<String>,
}

/// Deletes the rows matching `filter`.
fn delete_where(txn: &Transaction<'_>, filter: &Filter) -> rusqlite::Result<Removed> {
    let clause = filter.where_clause();
    let ids: Vec<(String, String)> = {
        let mut stmt = txn.prepare(&format!("SELECT id, path FROM messages {clause}"))?;
        stmt.query_map(params_from_iter(filter.params()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    delete_ids(txn, ids)
}

fn delete_ids(txn: &Transaction<'_>, rows: Vec<(String, String)>) -> rusqlite::Result<Removed> {
    let mut removed = Removed::default();
    for (id, path) in rows {
        txn.prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute([&id])?;
        txn.prepare_cached("DELETE FROM message_text WHERE id = ?1")?
            .execute([&id])?;
        removed.ids.push(id);
        removed.paths.push(path);
    }
    Ok(removed)
}

/// A filter on a list of ids.
fn ids_filter(ids: &[String]) -> (String, Vec<Value>) {
    let marks = vec!["?"; ids.len()].join(", ");
    (
        format!("id IN ({marks})"),
        ids.iter().map(|id| Value::Text(id.clone())).collect(),
    )
}

impl Store {
    /// Adds a message that is already durable in the Maildir.
    pub async fn insert(&self, entry: Entry, username: String) -> Result<()> {
        let id = entry.id.clone();
        self.write(move |txn| insert(txn, &entry, &username), |_| {})
            .await?;
        self.tell(Change::Added(id));
        Ok(())
    }

    /// One page of the messages matching `filter`, newest first, with the
    /// counters. `limit` 0 means no limit.
    pub async fn page(&self, filter: Filter, start: u64, limit: u64) -> Result<Page> {
        self.read(move |conn| {
            let clause = filter.where_clause();
            let p = params_from_iter(filter.params());
            let (total, unread): (i64, i64) = conn.query_row(
                "SELECT count(*), coalesce(sum(read = 0), 0) FROM messages",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (matched, matched_unread) = if filter.terms() == 0 {
                (total, unread)
            } else {
                conn.query_row(
                    &format!("SELECT count(*), coalesce(sum(read = 0), 0) FROM messages {clause}"),
                    p,
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
            };
            let limit = if limit == 0 { -1 } else { limit as i64 };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages {clause} ORDER BY created DESC, id DESC \
                 LIMIT {limit} OFFSET {start}"
            ))?;
            let rows = stmt
                .query_map(params_from_iter(filter.params()), message_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page {
                total: total as u64,
                unread: unread as u64,
                matched: matched as u64,
                matched_unread: matched_unread as u64,
                tags: all_tags(conn)?,
                rows,
            })
        })
        .await
    }

    /// One message by id.
    pub async fn get(&self, id: String) -> Result<Option<MessageRow>> {
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM messages WHERE id = ?1"))?;
            let mut rows = stmt.query_map([id], message_row)?;
            rows.next().transpose()
        })
        .await
    }

    /// The newest message matching `filter`.
    pub async fn latest(&self, filter: Filter) -> Result<Option<MessageRow>> {
        Ok(self.page(filter, 0, 1).await?.rows.into_iter().next())
    }

    /// Marks the messages with these ids (all of them when `None`)
    /// read or unread; returns how many changed.
    pub async fn set_read(
        &self,
        ids: Option<Vec<String>>,
        filter: Filter,
        read: bool,
    ) -> Result<usize> {
        self.write(
            move |txn| {
                let (mut clause, mut values) = match &ids {
                    Some(ids) => {
                        let (c, v) = ids_filter(ids);
                        (format!("WHERE {c}"), v)
                    }
                    None => (filter.where_clause(), filter.params().to_vec()),
                };
                clause = if clause.is_empty() {
                    "WHERE read != ?".into()
                } else {
                    format!("{clause} AND read != ?")
                };
                values.push(Value::Integer(read as i64));
                txn.execute(
                    &format!("UPDATE messages SET read = {} {clause}", read as i64),
                    params_from_iter(values),
                )
            },
            |_| {},
        )
        .await
        .inspect(|&changed| {
            if changed > 0 {
                self.tell(Change::Updated);
            }
        })
    }

    /// Deletes messages (rows, then files): these ids, or all matching
    /// `filter`. Returns how many.
    pub async fn delete(&self, ids: Option<Vec<String>>, filter: Filter) -> Result<usize> {
        let root = self.root().to_path_buf();
        let removed = self
            .write(
                move |txn| match ids {
                    Some(ids) => {
                        let (c, v) = ids_filter(&ids);
                        let mut stmt =
                            txn.prepare(&format!("SELECT id, path FROM messages WHERE {c}"))?;
                        let rows = stmt
                            .query_map(params_from_iter(v), |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                        drop(stmt);
                        delete_ids(txn, rows)
                    }
                    None => delete_where(txn, &filter),
                },
                move |removed: &Removed| remove_files(&root, &removed.paths),
            )
            .await?;
        let count = removed.ids.len();
        self.tell_deleted(removed.ids);
        Ok(count)
    }

    /// Replaces the tags of these messages.
    pub async fn set_tags(&self, ids: Vec<String>, tags: Vec<String>) -> Result<()> {
        self.write(
            move |txn| {
                let tags = json(&tags);
                for id in &ids {
                    txn.execute(
                        "UPDATE messages SET tags = ?1 WHERE id = ?2",
                        params![tags, id],
                    )?;
                }
                Ok(())
            },
            |_| {},
        )
        .await?;
        self.tell(Change::Updated);
        Ok(())
    }

    /// Every tag in use, sorted, with its count.
    pub async fn tag_counts(&self) -> Result<Vec<(String, i64)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT json_each.value, count(*) FROM messages, json_each(messages.tags) \
                 GROUP BY json_each.value ORDER BY lower(json_each.value)",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .await
    }

    /// Removes the oldest messages beyond `max_messages` (0: no limit) and
    /// those older than `max_age`, and sessions on the same terms (rows,
    /// then the session log's segments that hold only removed sessions);
    /// returns how many messages went.
    pub async fn prune(&self, max_messages: u64, max_age: Option<Duration>) -> Result<usize> {
        let root = self.root().to_path_buf();
        let inner = std::sync::Arc::clone(&self.inner);
        let cutoff = max_age.map(|age| millis(SystemTime::now()) - age.as_millis() as i64);
        let (removed, _) = self
            .write(
                move |txn| {
                    let pick = |sql: &str, value: i64| -> rusqlite::Result<Vec<(String, String)>> {
                        let mut stmt = txn.prepare(sql)?;
                        stmt.query_map([value], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
                    };
                    let mut rows = Vec::new();
                    let mut sessions = Vec::new();
                    if max_messages > 0 {
                        let keep = max_messages as i64;
                        rows.extend(pick(
                            "SELECT id, path FROM messages ORDER BY created DESC, id DESC LIMIT -1 OFFSET ?1",
                            keep,
                        )?);
                        sessions.extend(pick(
                            "SELECT id, id FROM sessions ORDER BY started DESC, id DESC LIMIT -1 OFFSET ?1",
                            keep,
                        )?);
                    }
                    if let Some(cutoff) = cutoff {
                        rows.extend(pick("SELECT id, path FROM messages WHERE created < ?1", cutoff)?);
                        sessions.extend(pick("SELECT id, id FROM sessions WHERE ended < ?1", cutoff)?);
                    }
                    rows.sort();
                    rows.dedup();
                    sessions.sort();
                    sessions.dedup();
                    for (id, _) in sessions {
                        txn.prepare_cached("DELETE FROM sessions WHERE id = ?1")?.execute([&id])?;
                        txn.prepare_cached("DELETE FROM delivered WHERE session_id = ?1")?.execute([&id])?;
                    }
                    let oldest_kept: Option<i64> =
                        txn.query_row("SELECT min(ended) FROM sessions", [], |r| r.get(0))?;
                    Ok((delete_ids(txn, rows)?, oldest_kept))
                },
                move |(removed, oldest_kept): &(Removed, Option<i64>)| {
                    remove_files(&root, &removed.paths);
                    if let Err(error) = inner.with_log(|log| log.prune(*oldest_kept)) {
                        tracing::warn!(%error, "retention: cannot remove old session records");
                    }
                },
            )
            .await?;
        let count = removed.ids.len();
        self.tell_deleted(removed.ids);
        Ok(count)
    }
}

fn all_tags(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT json_each.value FROM messages, json_each(messages.tags) \
         WHERE messages.tags <> '[]' ORDER BY lower(json_each.value)",
    )?;
    stmt.query_map([], |r| r.get(0))?.collect()
}
