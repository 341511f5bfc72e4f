//! The store's operations as synchronous SQLite statements on the database thread's connection.
//!
//! Each method is one statement, or one transaction when it takes several, and reports the
//! changes it made only after its commit. Field writes are `UPDATE ... SET` of the patched
//! columns; counters are `INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`; unique names
//! are UNIQUE indexes, whose violation becomes [`StoreError::Conflict`].

use super::sql_error;
use crate::channels::ChannelKind;
use crate::store::crypto::Cipher;
use crate::store::fields::{self, Field, Record, Value};
use crate::store::{
    Account, AccountPatch, ApiKey, ApiKeyPatch, Change, ConsoleSession, KeyHash, LockToken, Model,
    ModelPatch, NewAccount, NewApiKey, NewModel, Session, Settings, StoreError, StoreResult, UsageDelta,
    UsageQuery, UsageRow, now_ms,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use tokio::sync::broadcast;

/// How often expired sessions, locks and windows are deleted (reads ignore them meanwhile).
const PRUNE_EVERY_MS: i64 = 60_000;

/// The database thread's state: the one connection, the cipher, and the sender of the change feed.
pub(super) struct Db {
    conn: Connection,
    cipher: Cipher,
    changes: broadcast::Sender<Change>,
    next_prune_at: i64,
}

/// A record kind's table, and what its conflicts call it.
struct Table {
    name: &'static str,
    kind: &'static str,
}

const ACCOUNTS: Table = Table { name: "accounts", kind: "account" };
const MODELS: Table = Table { name: "models", kind: "model" };
const KEYS: Table = Table { name: "api_keys", kind: "API key" };

/// A result row read through the column names of [`fields`].
struct RowRecord<'a, 'b>(&'a Row<'b>);

impl Record for RowRecord<'_, '_> {
    fn int(&self, name: &str) -> Result<Option<i64>, String> {
        self.0.get(name).map_err(|_| "is not a number".to_string())
    }

    fn text(&self, name: &str) -> Result<Option<String>, String> {
        self.0.get(name).map_err(|_| "is not text".to_string())
    }
}

fn to_sql(value: &Option<Value>) -> SqlValue {
    match value {
        Some(Value::Int(v)) => SqlValue::Integer(*v),
        Some(Value::Text(v)) => SqlValue::Text(v.clone()),
        None => SqlValue::Null,
    }
}

/// A u64 counter or id as SQLite's i64 (saturating: counters never come near 2^63).
fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Turns a UNIQUE violation of a `table` write into `Conflict` naming what is taken, and any
/// other error into [`sql_error`].
fn unique<'a>(table: &'a Table, fields: &'a [Field]) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |err| match &err {
        rusqlite::Error::SqliteFailure(e, message)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            // SQLite names the column: "UNIQUE constraint failed: api_keys.hash".
            if message.as_deref().is_some_and(|m| m.ends_with(".hash")) {
                return StoreError::Conflict("an API key with this hash".into());
            }
            let label = match (fields::text_of(fields, "model_id"), fields::text_of(fields, "name")) {
                (Some(id), _) => format!("model id {id:?}"),
                (None, Some(name)) => format!("{} name {name:?}", table.kind),
                (None, None) => format!("{} with the same unique fields", table.kind),
            };
            StoreError::Conflict(label)
        }
        _ => sql_error(err, "write"),
    }
}

impl Db {
    pub(super) fn new(conn: Connection, cipher: Cipher, changes: broadcast::Sender<Change>) -> Db {
        Db { conn, cipher, changes, next_prune_at: 0 }
    }

    fn announce(&self, change: Change) {
        // No receiver is fine: nobody is listening yet.
        let _ = self.changes.send(change);
    }

    /// Deletes expired sessions, console sessions, locks and windows, at most once a minute.
    /// Called before each operation; failures are left for the next time.
    pub(super) fn prune_if_due(&mut self) {
        let now = now_ms();
        if now < self.next_prune_at {
            return;
        }
        self.next_prune_at = now + PRUNE_EVERY_MS;
        let pruned = self.conn.execute_batch(&format!(
            "DELETE FROM sessions WHERE expires_at <= {now};
             DELETE FROM console_sessions WHERE expires_at <= {now};
             DELETE FROM locks WHERE expires_at <= {now};
             DELETE FROM windows WHERE expires_at <= {now};"
        ));
        if let Err(err) = pruned {
            tracing::warn!(error = %err, "store: pruning expired rows failed");
        }
    }

    // --- records -------------------------------------------------------------------------------

    fn select<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        decode: impl Fn(&RowRecord) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| sql_error(e, "prepare a read"))?;
        let mut rows = stmt.query(params).map_err(|e| sql_error(e, "read"))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| sql_error(e, "read"))? {
            out.push(decode(&RowRecord(row))?);
        }
        Ok(out)
    }

    fn get<T>(
        &self,
        table: &Table,
        id: u64,
        decode: impl Fn(&RowRecord) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let sql = format!("SELECT * FROM {} WHERE id = ?1", table.name);
        Ok(self.select(&sql, [i64_of(id)], decode)?.pop())
    }

    /// `INSERT` of `fields` plus the timestamps; with `upsert_on`, an existing row with the same
    /// values in those columns gets the other fields instead (its remaining columns are kept).
    fn insert<T>(
        &self,
        table: &Table,
        fields: &[Field],
        upsert_on: Option<&[&str]>,
        decode: impl Fn(&RowRecord) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let now = now_ms();
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
        let n = names.len();
        let mut sql = format!(
            "INSERT INTO {} ({}, created_at, updated_at) VALUES ({}, ?{}, ?{})",
            table.name,
            names.join(", "),
            marks.join(", "),
            n + 1,
            n + 1,
        );
        if let Some(target) = upsert_on {
            let sets: Vec<String> = names
                .iter()
                .filter(|name| !target.contains(name))
                .map(|name| format!("{name} = excluded.{name}"))
                .chain(["updated_at = excluded.updated_at".to_string()])
                .collect();
            sql += &format!(" ON CONFLICT ({}) DO UPDATE SET {}", target.join(", "), sets.join(", "));
        }
        sql += " RETURNING *";
        let values = fields.iter().map(|(_, v)| to_sql(v)).chain([SqlValue::Integer(now)]);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| sql_error(e, "prepare a write"))?;
        let mut rows = stmt.query(params_from_iter(values)).map_err(unique(table, fields))?;
        let row = rows
            .next()
            .map_err(unique(table, fields))?
            .ok_or_else(|| StoreError::Unavailable("INSERT ... RETURNING returned no row".into()))?;
        decode(&RowRecord(row))
    }

    /// `UPDATE` of the patched columns only; `None` when there is no such row.
    fn update<T>(
        &self,
        table: &Table,
        id: u64,
        fields: &[Field],
        decode: impl Fn(&RowRecord) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        if fields.is_empty() {
            return self.get(table, id, decode);
        }
        let n = fields.len();
        let sets: Vec<String> =
            fields.iter().enumerate().map(|(i, (name, _))| format!("{name} = ?{}", i + 1)).collect();
        let sql = format!(
            "UPDATE {} SET {}, updated_at = ?{} WHERE id = ?{} RETURNING *",
            table.name,
            sets.join(", "),
            n + 1,
            n + 2
        );
        let values = fields
            .iter()
            .map(|(_, v)| to_sql(v))
            .chain([SqlValue::Integer(now_ms()), SqlValue::Integer(i64_of(id))]);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| sql_error(e, "prepare a write"))?;
        let mut rows = stmt.query(params_from_iter(values)).map_err(unique(table, fields))?;
        match rows.next().map_err(unique(table, fields))? {
            Some(row) => decode(&RowRecord(row)).map(Some),
            None => Ok(None),
        }
    }

    fn delete(&self, table: &Table, id: u64) -> StoreResult<bool> {
        let sql = format!("DELETE FROM {} WHERE id = ?1", table.name);
        let n = self.conn.execute(&sql, [i64_of(id)]).map_err(|e| sql_error(e, "delete"))?;
        Ok(n > 0)
    }

    fn decode_account<'c>(&'c self) -> impl Fn(&RowRecord) -> StoreResult<Account> + 'c {
        |row| fields::account(row, &self.cipher)
    }

    // --- accounts ------------------------------------------------------------------------------

    pub(super) fn list_accounts(&mut self) -> StoreResult<Vec<Account>> {
        self.select("SELECT * FROM accounts ORDER BY id", [], self.decode_account())
    }

    pub(super) fn get_account(&mut self, id: u64) -> StoreResult<Option<Account>> {
        self.get(&ACCOUNTS, id, self.decode_account())
    }

    pub(super) fn create_account(&mut self, new: NewAccount) -> StoreResult<Account> {
        let fields = fields::new_account(&new, &self.cipher);
        let account = self.insert(&ACCOUNTS, &fields, None, self.decode_account())?;
        self.announce(Change::Account(account.id));
        Ok(account)
    }

    pub(super) fn update_account(&mut self, id: u64, patch: AccountPatch) -> StoreResult<Option<Account>> {
        let fields = fields::account_patch(&patch, &self.cipher);
        let account = self.update(&ACCOUNTS, id, &fields, self.decode_account())?;
        if account.is_some() && !fields.is_empty() {
            self.announce(Change::Account(id));
        }
        Ok(account)
    }

    pub(super) fn delete_account(&mut self, id: u64) -> StoreResult<bool> {
        let deleted = self.delete(&ACCOUNTS, id)?;
        if deleted {
            self.announce(Change::Account(id));
        }
        Ok(deleted)
    }

    pub(super) fn upsert_account(&mut self, seed: NewAccount) -> StoreResult<Account> {
        let fields = fields::new_account(&seed, &self.cipher);
        let account = self.insert(&ACCOUNTS, &fields, Some(&["channel", "name"]), self.decode_account())?;
        self.announce(Change::Account(account.id));
        Ok(account)
    }

    // --- models --------------------------------------------------------------------------------

    pub(super) fn list_models(&mut self) -> StoreResult<Vec<Model>> {
        self.select("SELECT * FROM models ORDER BY id", [], |r| fields::model(r))
    }

    pub(super) fn get_model(&mut self, id: u64) -> StoreResult<Option<Model>> {
        self.get(&MODELS, id, |r| fields::model(r))
    }

    pub(super) fn create_model(&mut self, new: NewModel) -> StoreResult<Model> {
        let model = self.insert(&MODELS, &fields::new_model(&new), None, |r| fields::model(r))?;
        self.announce(Change::Model(model.id));
        Ok(model)
    }

    pub(super) fn update_model(&mut self, id: u64, patch: ModelPatch) -> StoreResult<Option<Model>> {
        let fields = fields::model_patch(&patch);
        let model = self.update(&MODELS, id, &fields, |r| fields::model(r))?;
        if model.is_some() && !fields.is_empty() {
            self.announce(Change::Model(id));
        }
        Ok(model)
    }

    pub(super) fn delete_model(&mut self, id: u64) -> StoreResult<bool> {
        let deleted = self.delete(&MODELS, id)?;
        if deleted {
            self.announce(Change::Model(id));
        }
        Ok(deleted)
    }

    pub(super) fn upsert_model(&mut self, seed: NewModel) -> StoreResult<Model> {
        let fields = fields::new_model(&seed);
        let model = self.insert(&MODELS, &fields, Some(&["channel", "model_id"]), |r| fields::model(r))?;
        self.announce(Change::Model(model.id));
        Ok(model)
    }

    pub(super) fn seed_catalogue(
        &mut self,
        channel: ChannelKind,
        models: Vec<NewModel>,
    ) -> StoreResult<bool> {
        let marker = format!("seeded:{channel}");
        let now = now_ms();
        let tx = self.conn.transaction().map_err(|e| sql_error(e, "begin seeding"))?;
        let seeded = tx
            .query_row("SELECT 1 FROM meta WHERE name = ?1", [&marker], |_| Ok(()))
            .optional()
            .map_err(|e| sql_error(e, "read the seed marker"))?
            .is_some();
        if seeded {
            return Ok(false);
        }
        let mut created = Vec::new();
        for model in models.iter().filter(|m| m.channel == channel) {
            let id: Option<i64> = tx
                .query_row(
                    "INSERT INTO models (model_id, channel, upstream, kind, enabled, display_name, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                     ON CONFLICT (channel, model_id) DO NOTHING RETURNING id",
                    params![
                        model.model_id,
                        model.channel.as_str(),
                        model.upstream,
                        model.kind.as_str(),
                        model.enabled,
                        model.display_name,
                        now
                    ],
                    |row| row.get(0),
                )
                .optional()
                .map_err(|e| sql_error(e, "seed a model"))?;
            created.extend(id);
        }
        tx.execute("INSERT INTO meta (name, value) VALUES (?1, ?2)", params![marker, now.to_string()])
            .map_err(|e| sql_error(e, "write the seed marker"))?;
        tx.commit().map_err(|e| sql_error(e, "commit seeding"))?;
        for id in created {
            self.announce(Change::Model(id as u64));
        }
        Ok(true)
    }

    // --- API keys ------------------------------------------------------------------------------

    pub(super) fn list_keys(&mut self) -> StoreResult<Vec<ApiKey>> {
        self.select("SELECT * FROM api_keys ORDER BY id", [], |r| fields::api_key(r))
    }

    pub(super) fn get_key(&mut self, id: u64) -> StoreResult<Option<ApiKey>> {
        self.get(&KEYS, id, |r| fields::api_key(r))
    }

    pub(super) fn find_key(&mut self, hash: &KeyHash) -> StoreResult<Option<ApiKey>> {
        Ok(self.select("SELECT * FROM api_keys WHERE hash = ?1", [&hash.0], |r| fields::api_key(r))?.pop())
    }

    pub(super) fn create_key(&mut self, new: NewApiKey) -> StoreResult<ApiKey> {
        let key = self.insert(&KEYS, &fields::new_key(&new), None, |r| fields::api_key(r))?;
        self.announce(Change::Key(key.id));
        Ok(key)
    }

    pub(super) fn update_key(&mut self, id: u64, patch: ApiKeyPatch) -> StoreResult<Option<ApiKey>> {
        let fields = fields::key_patch(&patch);
        let key = self.update(&KEYS, id, &fields, |r| fields::api_key(r))?;
        if key.is_some() && !fields.is_empty() {
            self.announce(Change::Key(id));
        }
        Ok(key)
    }

    pub(super) fn delete_key(&mut self, id: u64) -> StoreResult<bool> {
        let deleted = self.delete(&KEYS, id)?;
        if deleted {
            self.announce(Change::Key(id));
        }
        Ok(deleted)
    }

    pub(super) fn upsert_key(&mut self, seed: NewApiKey) -> StoreResult<ApiKey> {
        let key = self.insert(&KEYS, &fields::new_key(&seed), Some(&["name"]), |r| fields::api_key(r))?;
        self.announce(Change::Key(key.id));
        Ok(key)
    }

    // --- settings ------------------------------------------------------------------------------

    fn read_settings(conn: &Connection) -> StoreResult<Settings> {
        let mut stmt = conn
            .prepare_cached("SELECT name, value FROM settings")
            .map_err(|e| sql_error(e, "read settings"))?;
        let mut rows = stmt.query([]).map_err(|e| sql_error(e, "read settings"))?;
        let mut settings = Settings::new();
        while let Some(row) = rows.next().map_err(|e| sql_error(e, "read settings"))? {
            let name: String = row.get(0).map_err(|e| sql_error(e, "read settings"))?;
            let text: String = row.get(1).map_err(|e| sql_error(e, "read settings"))?;
            let value = serde_json::from_str(&text)
                .map_err(|_| StoreError::Corrupt(format!("setting {name:?} is not JSON")))?;
            settings.insert(name, value);
        }
        Ok(settings)
    }

    pub(super) fn settings(&mut self) -> StoreResult<Settings> {
        Db::read_settings(&self.conn)
    }

    pub(super) fn update_settings(
        &mut self,
        changes: Vec<(String, Option<serde_json::Value>)>,
    ) -> StoreResult<Settings> {
        let tx = self.conn.transaction().map_err(|e| sql_error(e, "begin a settings write"))?;
        for (name, value) in &changes {
            match value {
                Some(value) => tx.execute(
                    "INSERT INTO settings (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    params![name, value.to_string()],
                ),
                None => tx.execute("DELETE FROM settings WHERE name = ?1", [name]),
            }
            .map_err(|e| sql_error(e, "write a setting"))?;
        }
        let settings = Db::read_settings(&tx)?;
        tx.commit().map_err(|e| sql_error(e, "commit settings"))?;
        if !changes.is_empty() {
            self.announce(Change::Settings);
        }
        Ok(settings)
    }

    // --- usage ---------------------------------------------------------------------------------

    pub(super) fn record_usage(&mut self, deltas: Vec<UsageDelta>) -> StoreResult<()> {
        let tx = self.conn.transaction().map_err(|e| sql_error(e, "begin a usage write"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO usage (day, key_id, account_id, model, requests, errors, input_tokens,
                         output_tokens, cache_read_tokens, cache_write_tokens)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (day, key_id, account_id, model) DO UPDATE SET
                         requests = requests + excluded.requests,
                         errors = errors + excluded.errors,
                         input_tokens = input_tokens + excluded.input_tokens,
                         output_tokens = output_tokens + excluded.output_tokens,
                         cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
                         cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens",
                )
                .map_err(|e| sql_error(e, "prepare a usage write"))?;
            for d in &deltas {
                stmt.execute(params![
                    d.day,
                    i64_of(d.key_id.unwrap_or(0)),
                    i64_of(d.account_id.unwrap_or(0)),
                    d.model,
                    i64_of(d.requests),
                    i64_of(d.errors),
                    i64_of(d.input_tokens),
                    i64_of(d.output_tokens),
                    i64_of(d.cache_read_tokens),
                    i64_of(d.cache_write_tokens),
                ])
                .map_err(|e| sql_error(e, "write usage"))?;
            }
        }
        tx.commit().map_err(|e| sql_error(e, "commit usage"))
    }

    pub(super) fn query_usage(&mut self, query: UsageQuery) -> StoreResult<Vec<UsageRow>> {
        let mut sql = String::from("SELECT * FROM usage WHERE 1 = 1");
        let mut values: Vec<SqlValue> = Vec::new();
        let mut filter = |clause: &str, value: SqlValue| {
            values.push(value);
            sql += &format!(" AND {clause} ?{}", values.len());
        };
        if let Some(day) = query.from_day {
            filter("day >=", SqlValue::Integer(day.into()));
        }
        if let Some(day) = query.to_day {
            filter("day <=", SqlValue::Integer(day.into()));
        }
        if let Some(id) = query.key_id {
            filter("key_id =", SqlValue::Integer(i64_of(id)));
        }
        if let Some(id) = query.account_id {
            filter("account_id =", SqlValue::Integer(i64_of(id)));
        }
        if let Some(model) = query.model {
            filter("model =", SqlValue::Text(model));
        }
        sql += " ORDER BY day, key_id, account_id, model";
        let id = |v: i64| (v != 0).then_some(v as u64);
        let count = |row: &Row, name: &str| row.get::<_, i64>(name).map(|v| v.max(0) as u64);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| sql_error(e, "prepare a usage query"))?;
        let rows = stmt
            .query_map(params_from_iter(values), |row| {
                Ok(UsageRow {
                    day: row.get("day")?,
                    key_id: id(row.get("key_id")?),
                    account_id: id(row.get("account_id")?),
                    model: row.get("model")?,
                    requests: count(row, "requests")?,
                    errors: count(row, "errors")?,
                    input_tokens: count(row, "input_tokens")?,
                    output_tokens: count(row, "output_tokens")?,
                    cache_read_tokens: count(row, "cache_read_tokens")?,
                    cache_write_tokens: count(row, "cache_write_tokens")?,
                })
            })
            .map_err(|e| sql_error(e, "query usage"))?;
        rows.collect::<Result<_, _>>().map_err(|e| sql_error(e, "query usage"))
    }

    // --- sessions ------------------------------------------------------------------------------

    pub(super) fn get_session(&mut self, key: &str) -> StoreResult<Option<Session>> {
        let row: Option<(Option<i64>, Option<String>)> = self
            .conn
            .prepare_cached("SELECT account_id, data FROM sessions WHERE key = ?1 AND expires_at > ?2")
            .and_then(|mut stmt| {
                stmt.query_row(params![key, now_ms()], |r| Ok((r.get(0)?, r.get(1)?))).optional()
            })
            .map_err(|e| sql_error(e, "read a session"))?;
        let Some((account_id, data)) = row else { return Ok(None) };
        let data = data
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|_| StoreError::Corrupt(format!("session {key:?}: data is not JSON")))?;
        Ok(Some(Session { account_id: account_id.map(|id| id as u64), data }))
    }

    pub(super) fn put_session(&mut self, key: &str, session: Session, ttl_ms: i64) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO sessions (key, account_id, data, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET account_id = excluded.account_id, data = excluded.data,
                     expires_at = excluded.expires_at",
                params![
                    key,
                    session.account_id.map(i64_of),
                    session.data.map(|d| d.to_string()),
                    now_ms().saturating_add(ttl_ms)
                ],
            )
            .map_err(|e| sql_error(e, "write a session"))?;
        Ok(())
    }

    pub(super) fn delete_session(&mut self, key: &str) -> StoreResult<()> {
        self.conn
            .execute("DELETE FROM sessions WHERE key = ?1", [key])
            .map_err(|e| sql_error(e, "delete a session"))?;
        Ok(())
    }

    pub(super) fn get_console_session(&mut self, token: &KeyHash) -> StoreResult<Option<ConsoleSession>> {
        self.conn
            .prepare_cached(
                "SELECT user, expires_at FROM console_sessions WHERE token = ?1 AND expires_at > ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![token.0, now_ms()], |r| {
                    Ok(ConsoleSession { user: r.get(0)?, expires_at: r.get(1)? })
                })
                .optional()
            })
            .map_err(|e| sql_error(e, "read a console session"))
    }

    pub(super) fn put_console_session(
        &mut self,
        token: &KeyHash,
        session: ConsoleSession,
    ) -> StoreResult<()> {
        self.conn
            .execute(
                "INSERT INTO console_sessions (token, user, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (token) DO UPDATE SET user = excluded.user, expires_at = excluded.expires_at",
                params![token.0, session.user, session.expires_at],
            )
            .map_err(|e| sql_error(e, "write a console session"))?;
        Ok(())
    }

    pub(super) fn delete_console_session(&mut self, token: &KeyHash) -> StoreResult<()> {
        self.conn
            .execute("DELETE FROM console_sessions WHERE token = ?1", [&token.0])
            .map_err(|e| sql_error(e, "delete a console session"))?;
        Ok(())
    }

    // --- coordination --------------------------------------------------------------------------

    pub(super) fn try_lock(
        &mut self,
        name: &str,
        token: LockToken,
        ttl_ms: i64,
    ) -> StoreResult<Option<LockToken>> {
        let now = now_ms();
        // One statement: insert, or take over a row whose holder's time ran out.
        let taken = self
            .conn
            .execute(
                "INSERT INTO locks (name, token, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
                 WHERE locks.expires_at <= ?4",
                params![name, token.0, now.saturating_add(ttl_ms), now],
            )
            .map_err(|e| sql_error(e, "take a lock"))?;
        Ok((taken == 1).then_some(token))
    }

    pub(super) fn unlock(&mut self, name: &str, token: LockToken) -> StoreResult<()> {
        self.conn
            .execute("DELETE FROM locks WHERE name = ?1 AND token = ?2", params![name, token.0])
            .map_err(|e| sql_error(e, "release a lock"))?;
        Ok(())
    }

    pub(super) fn count_in_window(&mut self, key: &str, window_ms: i64) -> StoreResult<u64> {
        let now = now_ms();
        let start = now - now.rem_euclid(window_ms);
        // All right-hand sides see the row as it was, so `count` resets when `start` moves on.
        let count: i64 = self
            .conn
            .query_row(
                "INSERT INTO windows (key, window_ms, start, count, expires_at) VALUES (?1, ?2, ?3, 1, ?4)
                 ON CONFLICT (key, window_ms) DO UPDATE SET
                     count = CASE WHEN start = excluded.start THEN count + 1 ELSE 1 END,
                     start = excluded.start,
                     expires_at = excluded.expires_at
                 RETURNING count",
                params![key, window_ms, start, start.saturating_add(window_ms)],
                |row| row.get(0),
            )
            .map_err(|e| sql_error(e, "count in a window"))?;
        Ok(count.max(0) as u64)
    }
}
