//! The Lua scripts that make every mutation of the Redis store atomic.
//!
//! Each script checks its guard (the status register `P_s_<gid>`, the existence of a key,
//! a KV version) and either changes everything it must or nothing, answering `NOT_FOUND`
//! or `UNIQUE_CONFLICT` as DTM's scripts do. Documents that change in place are decoded
//! and re-encoded with `cjson`. Branch results travel as six arguments each: branch_id,
//! op, status, update_time, finish_time, rollback_time (empty: none).

use redis::Script;

/// Helpers shared by the scripts.
const PRELUDE: &str = r#"
local function terminal(status)
  return status == 'succeed' or status == 'failed'
end

-- Applies `count` branch results starting at ARGV[first] to the branch list `b`.
local function write_branches(b, first, count)
  if count < 1 then return end
  local list = redis.call('LRANGE', b, 0, -1)
  local docs = {}
  for i = 0, count - 1 do
    local a = first + i * 6
    for j = 1, #list do
      local d = docs[j]
      if d == nil then
        d = cjson.decode(list[j])
        docs[j] = d
      end
      if d.branch_id == ARGV[a] and d.op == ARGV[a + 1] then
        d.status = ARGV[a + 2]
        d.update_time = ARGV[a + 3]
        if ARGV[a + 4] == '' then d.finish_time = nil else d.finish_time = ARGV[a + 4] end
        if ARGV[a + 5] == '' then d.rollback_time = nil else d.rollback_time = ARGV[a + 5] end
        redis.call('LSET', b, j - 1, cjson.encode(d))
        break
      end
    end
  end
end

-- Looks at the next two members of the listing index `l` after the cursor `lc` and drops
-- those whose transaction expired, so that the index does not outgrow the data.
local function sweep(l, lc, prefix)
  local from = redis.call('GET', lc) or '0'
  local seen = redis.call('ZRANGEBYSCORE', l, '(' .. from, '+inf', 'WITHSCORES', 'LIMIT', 0, 2)
  local last = '0'
  for i = 1, #seen, 2 do
    if redis.call('EXISTS', prefix .. '_g_' .. seen[i]) == 0 then
      redis.call('ZREM', l, seen[i])
    end
    last = seen[i + 1]
  end
  if #seen < 4 then last = '0' end
  redis.call('SET', lc, last)
end

-- Sets fields of the transaction document `g`, keeping its TTL; false if it is gone.
local function edit_trans(g, fields)
  local raw = redis.call('GET', g)
  if not raw then return false end
  local t = cjson.decode(raw)
  for k, v in pairs(fields) do t[k] = v end
  raw = cjson.encode(t)
  redis.call('SET', g, raw, 'KEEPTTL')
  return raw
end
"#;

/// KEYS g b s u id l lc; ARGV prefix ttl tail gid status score(''=not due) branch-docs...
/// Returns the new id.
const SAVE_NEW: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 'UNIQUE_CONFLICT' end
local id = redis.call('INCR', KEYS[5])
redis.call('SET', KEYS[1], '{"id":' .. id .. ARGV[3], 'EX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[2])
redis.call('DEL', KEYS[2])
for i = 7, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
if #ARGV >= 7 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[4]) end
redis.call('ZADD', KEYS[6], id, ARGV[4])
sweep(KEYS[6], KEYS[7], ARGV[1])
return id
"#;

/// KEYS b s; ARGV ttl status (branch_id op doc)...
const APPEND: &str = r#"
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 'NOT_FOUND' end
local taken = {}
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local d = cjson.decode(raw)
  taken[tostring(d.branch_id) .. '\n' .. tostring(d.op)] = true
end
for i = 3, #ARGV, 3 do
  local k = ARGV[i] .. '\n' .. ARGV[i + 1]
  if taken[k] then return 'UNIQUE_CONFLICT' end
  taken[k] = true
end
for i = 3, #ARGV, 3 do redis.call('RPUSH', KEYS[1], ARGV[i + 2]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 'OK'
"#;

/// KEYS b s; ARGV global-status branch-results...
const UPDATE_BRANCHES: &str = r#"
if redis.call('GET', KEYS[2]) == ARGV[1] then write_branches(KEYS[1], 2, (#ARGV - 1) / 6) end
return 'OK'
"#;

/// KEYS g b s u; ARGV ttl finished-ttl old new gid now reason result custom branch-results...
const CHANGE_STATUS: &str = r#"
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return 'NOT_FOUND' end
local raw = redis.call('GET', KEYS[1])
if not raw then return 'NOT_FOUND' end
write_branches(KEYS[2], 10, (#ARGV - 9) / 6)
local t = cjson.decode(raw)
t.status = ARGV[4]
t.update_time = ARGV[6]
if ARGV[4] == 'succeed' then t.finish_time = ARGV[6] end
if ARGV[4] == 'failed' then t.rollback_time = ARGV[6] end
if ARGV[7] ~= '' then t.rollback_reason = ARGV[7] end
if ARGV[8] ~= '' then t.result = ARGV[8] end
if ARGV[9] ~= '' then t.custom_data = ARGV[9] end
local ttl = ARGV[1]
if terminal(ARGV[4]) then
  ttl = ARGV[2]
  redis.call('ZREM', KEYS[4], ARGV[5])
end
redis.call('SET', KEYS[1], cjson.encode(t), 'EX', ttl)
redis.call('SET', KEYS[3], ARGV[4], 'EX', ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return 'OK'
"#;

/// KEYS g b s u; ARGV status interval next-time next-score now gid branch-results...
const TOUCH: &str = r#"
if redis.call('GET', KEYS[3]) ~= ARGV[1] or redis.call('EXISTS', KEYS[1]) == 0 then
  return 'NOT_FOUND'
end
write_branches(KEYS[2], 7, (#ARGV - 6) / 6)
edit_trans(KEYS[1], {next_cron_interval = tonumber(ARGV[2]), next_cron_time = ARGV[3],
  update_time = ARGV[5]})
if not terminal(ARGV[1]) then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[6]) end
return 'OK'
"#;

/// KEYS g s u; ARGV now-time now-score gid. Unlike DTM, also moves the gid in `P_u`.
const RESET_NEXT: &str = r#"
if not edit_trans(KEYS[1], {next_cron_time = ARGV[1], update_time = ARGV[1]}) then
  return 'NOT_FOUND'
end
if not terminal(redis.call('GET', KEYS[2])) then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3]) end
return 'OK'
"#;

/// KEYS u; ARGV prefix due-score lease-score lease-time now-time owner limit.
/// Returns {trans-doc, {branch-docs...}}... in due order. Members whose transaction
/// expired or finished are dropped from `P_u` (DTM leaves them there forever).
const LOCK_DUE: &str = r#"
local p = ARGV[1]
local limit = tonumber(ARGV[7])
local out = {}
local seen = {}
for round = 1, 64 do
  if #out >= limit then break end
  local gids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, limit - #out)
  local fresh = false
  for _, gid in ipairs(gids) do
    if not seen[gid] then
      seen[gid] = true
      fresh = true
      local raw = false
      if not terminal(redis.call('GET', p .. '_s_' .. gid)) then
        raw = edit_trans(p .. '_g_' .. gid, {next_cron_time = ARGV[4], update_time = ARGV[5],
          owner = ARGV[6]})
      end
      if raw then
        redis.call('ZADD', KEYS[1], ARGV[3], gid)
        out[#out + 1] = {raw, redis.call('LRANGE', p .. '_b_' .. gid, 0, -1)}
      else
        redis.call('ZREM', KEYS[1], gid)
      end
    end
  end
  if not fresh then break end
end
return out
"#;

/// KEYS u; ARGV prefix after-score now-score now-time limit. Returns {done, more}.
const RESET_CRON: &str = r#"
local limit = tonumber(ARGV[5])
local gids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'LIMIT', 0, limit + 1)
local done = 0
for i = 1, math.min(limit, #gids) do
  if edit_trans(ARGV[1] .. '_g_' .. gids[i], {next_cron_time = ARGV[4], update_time = ARGV[4]}) then
    redis.call('ZADD', KEYS[1], ARGV[3], gids[i])
    done = done + 1
  else
    redis.call('ZREM', KEYS[1], gids[i])
  end
end
local more = 0
if #gids > limit then more = 1 end
return {done, more}
"#;

/// KEYS kv index id; ARGV key tail. Returns the new id.
const KV_CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 'UNIQUE_CONFLICT' end
local id = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[1], '{"id":' .. id .. ARGV[2])
redis.call('ZADD', KEYS[2], id, ARGV[1])
return id
"#;

/// KEYS kv; ARGV version value now-time.
const KV_UPDATE: &str = r#"
local raw = redis.call('GET', KEYS[1])
if not raw then return 'NOT_FOUND' end
local d = cjson.decode(raw)
if tostring(d.version) ~= ARGV[1] then return 'NOT_FOUND' end
d.v = ARGV[2]
d.version = d.version + 1
d.update_time = ARGV[3]
redis.call('SET', KEYS[1], cjson.encode(d))
return 'OK'
"#;

/// KEYS kv index; ARGV key.
const KV_DELETE: &str = r#"
if redis.call('DEL', KEYS[1]) == 0 then return 'NOT_FOUND' end
redis.call('ZREM', KEYS[2], ARGV[1])
return 'OK'
"#;

/// KEYS g b s l; ARGV gid. Retention: deletes a final transaction (or the listing entry of
/// one already expired); 1 if something was deleted, 0 if it is not final.
const DELETE_FINAL: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then
  if not terminal(redis.call('GET', KEYS[3])) then return 0 end
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 1
end
redis.call('ZREM', KEYS[4], ARGV[1])
return 0
"#;

/// KEYS index id; ARGV key. Gives a KV row written by DTM (which keeps no index) an id.
const KV_ADOPT: &str = r#"
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1])
return 1
"#;

/// The compiled scripts of the store.
pub struct Scripts {
    pub save_new: Script,
    pub append: Script,
    pub update_branches: Script,
    pub change_status: Script,
    pub touch: Script,
    pub reset_next: Script,
    pub lock_due: Script,
    pub reset_cron: Script,
    pub kv_create: Script,
    pub kv_update: Script,
    pub kv_delete: Script,
    pub kv_adopt: Script,
    pub delete_final: Script,
}

impl Scripts {
    /// Prepares every script (each with the shared helpers).
    pub fn new() -> Scripts {
        let s = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            save_new: s(SAVE_NEW),
            append: s(APPEND),
            update_branches: s(UPDATE_BRANCHES),
            change_status: s(CHANGE_STATUS),
            touch: s(TOUCH),
            reset_next: s(RESET_NEXT),
            lock_due: s(LOCK_DUE),
            reset_cron: s(RESET_CRON),
            kv_create: s(KV_CREATE),
            kv_update: s(KV_UPDATE),
            kv_delete: s(KV_DELETE),
            kv_adopt: s(KV_ADOPT),
            delete_final: s(DELETE_FINAL),
        }
    }

    /// Every script, for loading them after Redis lost its script cache.
    pub fn all(&self) -> [&Script; 13] {
        [
            &self.save_new,
            &self.append,
            &self.update_branches,
            &self.change_status,
            &self.touch,
            &self.reset_next,
            &self.lock_due,
            &self.reset_cron,
            &self.kv_create,
            &self.kv_update,
            &self.kv_delete,
            &self.kv_adopt,
            &self.delete_final,
        ]
    }
}
