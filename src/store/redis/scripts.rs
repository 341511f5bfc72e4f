//! The Lua scripts that make the Redis backend's multi-key writes atomic.
//!
//! Redis runs a script to its end before any other command, so a script's reads and writes form
//! one step: a unique name cannot be taken between the check and the write, and a record never
//! exists without its index keys. Each write script also `PUBLISH`es its change, so a change is
//! announced exactly when it happened. Scripts build some key names from the prefix they are
//! given (index keys, record hashes): they suit one Redis server (with replicas or Sentinel),
//! not Redis Cluster.

use redis::Script;
use std::sync::LazyLock;

/// Creates, upserts or updates one record hash and its unique index keys, then announces it.
///
/// `KEYS`: id sequence, id set, change channel.
/// `ARGV`: prefix, record stem (`account:`), mode (`create`, `upsert` or `update`), id (update
/// only), now, change kind (`account`), index count `n`, then `n` pairs (index label, index key
/// without prefix; for `upsert` the first index finds the record), then the count `m` of fields
/// to set, `m` pairs (field, value), then the fields to delete.
///
/// Returns `{1, HGETALL}` when written, `{0}` when an updated record does not exist, `{-k}` when
/// index `k` belongs to another record. The hash keeps `id`, `created_at`, `updated_at` and, per
/// index, `_ix:<label>` = its index key, so renames and deletes know which key to move or drop.
pub(super) static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p, stem, mode, id, now, kind = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local nidx = tonumber(ARGV[7])
local i = 8
local idx = {}
for k = 1, nidx do
  idx[k] = { ARGV[i], ARGV[i + 1] }
  i = i + 2
end
local nset = tonumber(ARGV[i])
i = i + 1
local sets = {}
for k = 1, 2 * nset do
  sets[k] = ARGV[i]
  i = i + 1
end
local dels = {}
for k = i, #ARGV do
  dels[#dels + 1] = ARGV[k]
end

if mode == 'upsert' then
  id = redis.call('GET', p .. idx[1][2])
  if id then mode = 'update' else mode = 'create' end
end
local rec
if mode == 'create' then
  for k = 1, nidx do
    if redis.call('EXISTS', p .. idx[k][2]) == 1 then return { -k } end
  end
  id = tostring(redis.call('INCR', KEYS[1]))
  rec = p .. stem .. id
  for k = 1, nidx do
    redis.call('SET', p .. idx[k][2], id)
    redis.call('HSET', rec, '_ix:' .. idx[k][1], idx[k][2])
  end
  redis.call('HSET', rec, 'id', id, 'created_at', now)
  redis.call('SADD', KEYS[2], id)
else
  rec = p .. stem .. id
  if redis.call('EXISTS', rec) == 0 then return { 0 } end
  local moves = {}
  for k = 1, nidx do
    local old = redis.call('HGET', rec, '_ix:' .. idx[k][1])
    if old ~= idx[k][2] then
      local owner = redis.call('GET', p .. idx[k][2])
      if owner and owner ~= id then return { -k } end
      moves[#moves + 1] = { idx[k][1], old, idx[k][2] }
    end
  end
  for _, m in ipairs(moves) do
    if m[2] then redis.call('DEL', p .. m[2]) end
    redis.call('SET', p .. m[3], id)
    redis.call('HSET', rec, '_ix:' .. m[1], m[3])
  end
end
if #sets > 0 then redis.call('HSET', rec, unpack(sets)) end
if #dels > 0 then redis.call('HDEL', rec, unpack(dels)) end
redis.call('HSET', rec, 'updated_at', now)
redis.call('PUBLISH', KEYS[3], kind .. ':' .. id)
return { 1, redis.call('HGETALL', rec) }
",
    )
});

/// Deletes one record hash, its index keys (those still pointing at it) and its id, then
/// announces it.
///
/// `KEYS`: id set, change channel. `ARGV`: prefix, record stem, id, change kind.
/// Returns 1 when deleted, 0 when there was no such record.
pub(super) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local p, stem, id, kind = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rec = p .. stem .. id
local fields = redis.call('HGETALL', rec)
if #fields == 0 then return 0 end
for k = 1, #fields, 2 do
  if string.sub(fields[k], 1, 4) == '_ix:' then
    local key = p .. fields[k + 1]
    if redis.call('GET', key) == id then redis.call('DEL', key) end
  end
end
redis.call('DEL', rec)
redis.call('SREM', KEYS[1], id)
redis.call('PUBLISH', KEYS[2], kind .. ':' .. id)
return 1
",
    )
});

/// Every record of one kind, as a consistent snapshot: an array of flat `HGETALL` arrays.
///
/// `KEYS`: id set. `ARGV`: prefix, record stem. O(records) inside Redis: admin paths only.
pub(super) static LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = redis.call('HGETALL', ARGV[1] .. ARGV[2] .. id)
  if #h > 0 then out[#out + 1] = h end
end
return out
",
    )
});

/// The record an index key points at, as a flat `HGETALL` array (empty when none).
///
/// `KEYS`: index key. `ARGV`: prefix, record stem.
pub(super) static FIND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local id = redis.call('GET', KEYS[1])
if not id then return {} end
return redis.call('HGETALL', ARGV[1] .. ARGV[2] .. id)
",
    )
});

/// Sets and clears settings in order, announces the change and returns every setting.
///
/// `KEYS`: settings hash, change channel. `ARGV`: pairs (name, JSON text); an empty text clears
/// the name (JSON text is never empty).
pub(super) static SETTINGS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for k = 1, #ARGV, 2 do
  if ARGV[k + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[k])
  else
    redis.call('HSET', KEYS[1], ARGV[k], ARGV[k + 1])
  end
end
redis.call('PUBLISH', KEYS[2], 'settings')
return redis.call('HGETALL', KEYS[1])
",
    )
});

/// Deletes a lock only if it still holds the caller's token.
///
/// `KEYS`: lock key. `ARGV`: token. Returns 1 when released.
pub(super) static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});

/// Counts one event in the current fixed window, by the Redis server's clock so every instance
/// agrees on where windows start, and returns the window's count. The window's key expires when
/// the window ends.
///
/// `ARGV`: key stem (`<prefix>window:`), window length in ms, the caller's key.
pub(super) static COUNT_IN_WINDOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = tonumber(ARGV[2])
local start = now - (now % w)
local key = ARGV[1] .. ARGV[2] .. ':' .. string.format('%d', start) .. ':' .. ARGV[3]
local n = redis.call('INCR', key)
if n == 1 then redis.call('PEXPIREAT', key, string.format('%d', start + w)) end
return n
",
    )
});
