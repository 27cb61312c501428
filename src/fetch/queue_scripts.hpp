// The shared crawl's atomic server-side steps (Lua, run by EVALSHA through
// redis::Script). Key schema: include/corun/fetch/queue.hpp. ARGV[1] is always
// the key prefix "{NAME}:", after the crawl's id and a '|' when the caller
// knows it ("ID|{NAME}:", script_prefix); every key a script touches carries
// the prefix, so each
// step stays in one cluster slot. Times come from the server's TIME, so the
// per-host limits and lease expiries hold whatever the workers' clocks say.
//
// A stream entry's fields: u url, l label, i input index, a attempts made, h
// host key (scheme://host:port), b dedup bucket, f fingerprint (decimal,
// >= 1); a retried entry also has e (seconds spent so far) and p (its file).
// The done mark of a URL is -f in its bucket set (SREM f, SADD -f), so
// dedup and "recorded" cost one 8-byte intset member per URL.
#pragma once

#include "corun/redis/script.hpp"

namespace corun::fetch::queue_lua {

inline constexpr const char* kGroup = "workers";

// Shared by every script: the server clock, an entry's fields as a table, and
// "finish" (the record, the done mark and the ack as one step).
inline constexpr const char* kPrelude = R"lua(
local P = ARGV[1]
-- "ID|{NAME}:": the crawl this step's caller joined, by the id its creator
-- gave it (meta's crawl_id); a bare prefix checks no id.
local CID
do
  local c, p = string.match(P, '^(%x+)|(.+)$')
  if c then CID, P = c, p end
end
local W = P .. 'work'
local D = P .. 'delay'
-- The crawl is gone (its keys deleted, or Redis restarted without its data):
-- no step may write into it, or it would leave a crawl half made again. Nor
-- into a crawl of the same name made anew since (a producer run again after
-- the restart): its caller's work belongs to the one that is gone.
if redis.call('EXISTS', P .. 'meta') == 0 then
  return redis.error_reply('NOCRAWL the crawl is gone from the server')
end
if CID and redis.call('HGET', P .. 'meta', 'crawl_id') ~= CID then
  return redis.error_reply('NOCRAWL the crawl is gone from the server (made anew since)')
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fields(arr)
  local t = {}
  for j = 1, #arr, 2 do t[arr[j]] = arr[j + 1] end
  return t
end
local function payload(e)
  return cjson.encode({u = e.u, l = e.l, i = e.i, a = e.a, h = e.h, b = e.b, f = e.f,
    e = e.e or '0', p = e.p or ''})
end
local function ack(id)
  if id ~= '' then
    redis.call('XACK', W, 'workers', id)
    redis.call('XDEL', W, id)
  end
end
-- Returns 1 when this call wrote the URL's record, 0 when it had one already.
-- The host slot goes with the lease: it is freed here unless another worker
-- than me holds the entry now (a stalled worker's late outcome must not free
-- the slot its new owner is fetching under).
local function finish(id, h, b, f, rec, ok, me)
  local set = P .. 'seen:' .. b
  local wrote = 0
  if redis.call('SISMEMBER', set, '-' .. f) == 0 then
    redis.call('SREM', set, f)
    redis.call('SADD', set, '-' .. f)
    redis.call('XADD', P .. 'results', '*', 'r', rec)
    if ok then
      redis.call('HINCRBY', P .. 'stats', 'done', 1)
    else
      redis.call('HINCRBY', P .. 'stats', 'failed', 1)
    end
    if redis.call('HINCRBY', P .. 'hostq', h, -1) <= 0 then redis.call('HDEL', P .. 'hostq', h) end
    wrote = 1
  else
    redis.call('HINCRBY', P .. 'stats', 'refetched', 1)
  end
  local other = false
  if id ~= '' then
    local p = redis.call('XPENDING', W, 'workers', id, id, 1)
    other = #p == 1 and p[1][2] ~= me
  end
  ack(id)
  if not other then redis.call('ZREM', P .. 'slots:' .. h, id) end
  return wrote
end
)lua";

// add(P, input_name, lines, producer, ttl_ms, [u l h b f]...): a producer's
// batch. A URL whose fingerprint (known or done) is in its bucket is a
// duplicate; others are added to the stream. Each URL of the batch takes the
// next input index from the crawl's counter (duplicates too, as in a plain
// run), so producers running at once never give two URLs one {index}. The
// input's position (lines read) is stored under its name in the same step, so
// a producer killed at any point resumes without adding a URL twice; the
// producer's registration is renewed (see producer_join). Returns {added,
// duplicates}.
inline constexpr const char* kAdd = R"lua(
local M = P .. 'meta'
local base = tonumber(redis.call('HGET', M, 'input_urls') or '0')
local added, dup, k = 0, 0, 0
for j = 6, #ARGV, 5 do
  local u, l, h, b, f = ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3], ARGV[j + 4]
  local i = tostring(base + k)
  k = k + 1
  local set = P .. 'seen:' .. b
  if redis.call('SISMEMBER', set, '-' .. f) == 1 or redis.call('SADD', set, f) == 0 then
    dup = dup + 1
  else
    redis.call('XADD', W, '*', 'u', u, 'l', l, 'i', i, 'a', '0', 'h', h, 'b', b, 'f', f)
    redis.call('HINCRBY', P .. 'hostq', h, 1)
    added = added + 1
  end
end
local lines = tonumber(ARGV[3])
local before = tonumber(redis.call('HGET', P .. 'inputs', ARGV[2]) or '0')
if lines > before then
  redis.call('HSET', P .. 'inputs', ARGV[2], lines)
  redis.call('HINCRBY', M, 'input_lines', lines - before)
end
redis.call('HSET', M, 'input_urls', base + k)
redis.call('HINCRBY', M, 'total', added)
redis.call('HINCRBY', P .. 'stats', 'dup', dup)
redis.call('ZADD', P .. 'producers', now_ms() + tonumber(ARGV[5]), ARGV[4])
return {added, dup}
)lua";

// producer_join(P, producer, ttl_ms): a producer starts (or renews, while it
// reads: its registration lapses ttl_ms after the last renewal, so a producer
// killed mid-input stops counting once that passes). The input is not done
// while any producer is registered.
inline constexpr const char* kProducerJoin = R"lua(
redis.call('ZADD', P .. 'producers', now_ms() + tonumber(ARGV[3]), ARGV[2])
redis.call('HSET', P .. 'meta', 'input_done', '0')
return 1
)lua";

// collector_claim(P, collector, ttl_ms): one collector per crawl. Takes (or
// renews) the claim when it is free, lapsed or this collector's own; returns
// 1, or the holder's name when another collector has it.
inline constexpr const char* kCollectorClaim = R"lua(
local K = P .. 'collector'
local holder = redis.call('GET', K)
if holder and holder ~= ARGV[2] then return holder end
redis.call('SET', K, ARGV[2], 'PX', tonumber(ARGV[3]))
return 1
)lua";

// collector_store(P, collector, ttl_ms, cursor, bytes, id...): the records
// up to cursor are in the report (bytes long): the cursor stored and those
// entries deleted, in one step, only while this collector holds the claim
// (renewed here; taken when it lapsed unclaimed). Returns 1, or 0 when another
// collector took it over (its report has these records: this one must not).
inline constexpr const char* kCollectorStore = R"lua(
local K = P .. 'collector'
local holder = redis.call('GET', K)
if holder and holder ~= ARGV[2] then return 0 end
redis.call('SET', K, ARGV[2], 'PX', tonumber(ARGV[3]))
redis.call('HSET', P .. 'meta', 'collect_id', ARGV[4], 'collect_bytes', ARGV[5])
for j = 6, #ARGV do redis.call('XDEL', P .. 'results', ARGV[j]) end
return 1
)lua";

// collector_release(P, collector): the claim freed, if still this collector's.
inline constexpr const char* kCollectorRelease = R"lua(
if redis.call('GET', P .. 'collector') == ARGV[2] then redis.call('DEL', P .. 'collector') end
return 1
)lua";

// producer_done(P, producer): a producer has read all its input. The crawl's
// input is done once no other producer is still reading (registrations that
// lapsed, their producers killed, do not count). Returns the producers still
// reading.
inline constexpr const char* kProducerDone = R"lua(
local Z = P .. 'producers'
redis.call('ZREM', Z, ARGV[2])
redis.call('ZREMRANGEBYSCORE', Z, '-inf', now_ms())
local others = redis.call('ZCARD', Z)
if others == 0 then redis.call('HSET', P .. 'meta', 'input_done', '1') end
return others
)lua";

// claim(P, worker, n, lease_ms): a worker's request for at most n URLs.
//  1. due entries of the delay set go back to the stream;
//  2. leases idle longer than lease_ms (their worker died or stalled) are
//     taken over (XCLAIM without JUSTID raises the delivery count); one
//     delivered more than max_deliveries times is recorded as failed;
//  3. new entries are read (XREADGROUP COUNT, never blocking in a script);
//  4. an entry already recorded (a duplicate fetch finished elsewhere) is
//     acked and dropped; each other one takes a slot of its host (per_host,
//     expiring at now + lease) and its turn (rate: one request per 1/rate
//     seconds per host), or goes to the delay set until it may start.
// Returns {finished, next_due_ms, {{id, u, l, i, a, h, b, f, e, p}...}, {record...}};
// finished is 1 when the input is done and nothing waits, is in flight or
// delayed; the records are those of URLs this call gave up (step 2).
inline constexpr const char* kClaim = R"lua(
local me, n, lease = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local meta = redis.call('HMGET', P .. 'meta', 'per_host', 'rate', 'max_deliveries', 'input_done')
local per_host = tonumber(meta[1]) or 0
local rate = tonumber(meta[2]) or 0
local maxdel = tonumber(meta[3]) or 5
redis.call('HSET', P .. 'workers', me, now)
local due = redis.call('ZRANGEBYSCORE', D, '-inf', now, 'LIMIT', 0, 256)
for _, m in ipairs(due) do
  local e = cjson.decode(m)
  redis.call('XADD', W, '*', 'u', e.u, 'l', e.l, 'i', e.i, 'a', e.a, 'h', e.h, 'b', e.b, 'f', e.f,
    'e', e.e or '0', 'p', e.p or '')
  redis.call('ZREM', D, m)
end
local cands = {}
local given_up = {}
if n > 0 then
  local pend = redis.call('XPENDING', W, 'workers', 'IDLE', lease, '-', '+', n)
  for _, p in ipairs(pend) do
    local got = redis.call('XCLAIM', W, 'workers', me, lease, p[1])
    local entry = got[1]
    if entry and entry[2] then
      local e = fields(entry[2])
      local deliveries = tonumber(p[4]) + 1
      if deliveries > maxdel then
        local rec = cjson.encode({url = e.u, final_url = '', status = 0, bytes = 0, encoding = '',
          encoding_source = '', path = '', attempts = tonumber(e.a), elapsed = 0,
          error = 'delivered ' .. deliveries .. ' times without an outcome (every worker that took it died or lost its lease): given up'})
        if finish(entry[1], e.h, e.b, e.f, rec, false, me) == 1 then table.insert(given_up, rec) end
        redis.call('HINCRBY', P .. 'stats', 'delivered_too_often', 1)
      else
        table.insert(cands, {entry[1], e})
      end
    else
      redis.call('XACK', W, 'workers', p[1])
    end
  end
end
local room = n - #cands
if room > 0 then
  local r = redis.call('XREADGROUP', 'GROUP', 'workers', me, 'COUNT', room, 'STREAMS', W, '>')
  if r then
    for _, entry in ipairs(r[1][2]) do table.insert(cands, {entry[1], fields(entry[2])}) end
  end
end
local out = {}
for _, c in ipairs(cands) do
  local id, e = c[1], c[2]
  if redis.call('SISMEMBER', P .. 'seen:' .. e.b, '-' .. e.f) == 1 then
    ack(id)
  else
    local wait = 0
    local sk = P .. 'slots:' .. e.h
    if per_host > 0 then
      redis.call('ZREMRANGEBYSCORE', sk, '-inf', now)
      if redis.call('ZCARD', sk) >= per_host then wait = 200 end
    end
    if wait == 0 and rate > 0 then
      local nx = tonumber(redis.call('HGET', P .. 'next', e.h) or '0')
      if nx > now then wait = nx - now end
    end
    if wait > 0 then
      redis.call('ZADD', D, now + wait, payload(e))
      ack(id)
      redis.call('HINCRBY', P .. 'stats', 'bounced', 1)
    else
      if per_host > 0 then
        redis.call('ZADD', sk, now + lease, id)
        redis.call('PEXPIRE', sk, lease * 2)
      end
      if rate > 0 then redis.call('HSET', P .. 'next', e.h, now + math.ceil(1000 / rate)) end
      table.insert(out, {id, e.u, e.l, e.i, e.a, e.h, e.b, e.f, e.e or '0', e.p or ''})
    end
  end
end
local finished = 0
if #out == 0 and meta[4] == '1' and redis.call('XLEN', W) == 0 and redis.call('ZCARD', D) == 0 then
  finished = 1
end
local next_due = -1
local first = redis.call('ZRANGE', D, 0, 0, 'WITHSCORES')
if first[2] then next_due = math.max(0, tonumber(first[2]) - now) end
return {finished, next_due, out, given_up}
)lua";

// renew(P, worker, lease_ms, [id host]...): the owner's lease renewal. For each
// entry still pending under this worker: idle time reset (XCLAIM 0 JUSTID:
// the delivery count is unchanged) and its host slot extended if it has not
// expired. Returns the
// ids this worker no longer holds (recorded, or taken over after a stall).
inline constexpr const char* kRenew = R"lua(
local me, lease = ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local lost = {}
for k = 4, #ARGV, 2 do
  local id, h = ARGV[k], ARGV[k + 1]
  local p = redis.call('XPENDING', W, 'workers', id, id, 1)
  if #p == 1 and p[1][2] == me then
    redis.call('XCLAIM', W, 'workers', me, 0, id, 'JUSTID')
    local sk = P .. 'slots:' .. h
    -- A slot that expired (this worker stalled) is not brought back: it may
    -- count for another worker's claim already; confirm takes one again.
    redis.call('ZREMRANGEBYSCORE', sk, '-inf', now)
    if redis.call('ZSCORE', sk, id) then
      redis.call('ZADD', sk, now + lease, id)
      redis.call('PEXPIRE', sk, lease * 2)
    end
  else
    table.insert(lost, id)
  end
end
redis.call('HSET', P .. 'workers', me, now)
return lost
)lua";

// complete(P, id, h, b, f, record, ok, worker): the URL's one record, its
// done mark, the ack and the host slot's release (unless another worker holds
// the entry now), as one step. Needs no ownership: the first outcome wins,
// later ones (a duplicate fetch) only ack. Returns 1 when this call wrote the
// record.
inline constexpr const char* kComplete = R"lua(
return finish(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7] == '1', ARGV[8])
)lua";

// confirm(P, worker, lease_ms, id, host): asked before the request of a URL
// whose lease may have lapsed (this worker stalled past it) starts. 1: this
// worker still holds the entry and its host's slot and turn: the lease and
// slot are renewed from now (a slot that expired meanwhile is taken again if
// the host has one free; a rate turn is taken again, the one from the claim
// being long past). 0: another worker took the entry over, or it was
// recorded: the caller drops it. 2: still this worker's but its host has no
// free slot or turn now: the entry goes to the delay set (as a host-limited
// claim does) and the caller drops it.
inline constexpr const char* kConfirm = R"lua(
local me, lease, id, h = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local now = now_ms()
local p = redis.call('XPENDING', W, 'workers', id, id, 1)
if #p ~= 1 or p[1][2] ~= me then return 0 end
local meta = redis.call('HMGET', P .. 'meta', 'per_host', 'rate')
local per_host = tonumber(meta[1]) or 0
local rate = tonumber(meta[2]) or 0
local sk = P .. 'slots:' .. h
local wait = 0
if per_host > 0 then
  redis.call('ZREMRANGEBYSCORE', sk, '-inf', now)
  if not redis.call('ZSCORE', sk, id) and redis.call('ZCARD', sk) >= per_host then wait = 200 end
end
if wait == 0 and rate > 0 then
  local nx = tonumber(redis.call('HGET', P .. 'next', h) or '0')
  if nx > now then wait = nx - now end
end
if wait > 0 then
  local got = redis.call('XRANGE', W, id, id)
  if got[1] then redis.call('ZADD', D, now + wait, payload(fields(got[1][2]))) end
  ack(id)
  redis.call('ZREM', sk, id)
  redis.call('HINCRBY', P .. 'stats', 'bounced', 1)
  return 2
end
redis.call('XCLAIM', W, 'workers', me, 0, id, 'JUSTID')
if per_host > 0 then
  redis.call('ZADD', sk, now + lease, id)
  redis.call('PEXPIRE', sk, lease * 2)
end
if rate > 0 then redis.call('HSET', P .. 'next', h, now + math.ceil(1000 / rate)) end
return 1
)lua";

// defer(P, worker, id, delay_ms, counts_as_retry, u, l, i, a, h, b, f, e, p): the
// URL goes to the delay set until now + delay_ms (a retry with backoff or
// Retry-After, or a release with delay 0), if this worker still holds its
// lease; otherwise nothing (the worker that took it over decides). Returns 1
// when moved.
inline constexpr const char* kDefer = R"lua(
local me, id, delay = ARGV[2], ARGV[3], tonumber(ARGV[4])
local p = redis.call('XPENDING', W, 'workers', id, id, 1)
if #p ~= 1 or p[1][2] ~= me then
  -- Recorded and acked meanwhile: nobody holds the entry, so nobody its slot.
  if #p == 0 then redis.call('ZREM', P .. 'slots:' .. ARGV[10], id) end
  return 0
end
-- The wait counts in the URL's elapsed time, as in a plain run's report.
local spent = (tonumber(ARGV[13]) or 0) + delay / 1000
local e = {u = ARGV[6], l = ARGV[7], i = ARGV[8], a = ARGV[9], h = ARGV[10], b = ARGV[11], f = ARGV[12],
  e = tostring(spent), p = ARGV[14]}
redis.call('ZADD', D, now_ms() + delay, payload(e))
ack(id)
redis.call('ZREM', P .. 'slots:' .. e.h, id)
if ARGV[5] == '1' then redis.call('HINCRBY', P .. 'stats', 'retried', 1) end
return 1
)lua";

// leave(P, worker): a worker's goodbye: its consumer is deleted only when it
// holds no lease (DELCONSUMER would drop its pending entries), its heartbeat
// removed. Returns the number of entries it still held.
inline constexpr const char* kLeave = R"lua(
local me = ARGV[2]
local held = 0
local info = redis.call('XINFO', 'CONSUMERS', W, 'workers')
for _, c in ipairs(info) do
  local t = fields(c)
  if t.name == me then held = t.pending end
end
if held == 0 then redis.call('XGROUP', 'DELCONSUMER', W, 'workers', me) end
redis.call('HDEL', P .. 'workers', me)
return held
)lua";

// The scripts, each with the prelude (their SHA-1 covers both).
const redis::Script& add_script();
const redis::Script& producer_join_script();
const redis::Script& producer_done_script();
const redis::Script& collector_claim_script();
const redis::Script& collector_release_script();
const redis::Script& collector_store_script();
const redis::Script& claim_script();
const redis::Script& renew_script();
const redis::Script& complete_script();
const redis::Script& defer_script();
const redis::Script& confirm_script();
const redis::Script& leave_script();

}  // namespace corun::fetch::queue_lua
