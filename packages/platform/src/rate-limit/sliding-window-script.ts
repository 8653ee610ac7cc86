/**
 * One rate limit decision, atomically (a Lua script runs alone on the Redis server).
 *
 * KEYS[1]  sorted set of admitted requests: member `<ms>:<unique>`, score = Redis server time in ms
 * ARGV[1]  limit, ARGV[2] window in ms, ARGV[3] a member suffix unique across callers
 * returns  { allowed 0|1, requests counted in the window (including this one when admitted),
 *            ms until the oldest counted request leaves the window (0 when none) }
 *
 * The clock is Redis's own (TIME), so app replicas with skewed clocks share one timeline. Calling TIME
 * before writing is allowed since Redis 5 replicates a script's effects, not the script (the only mode
 * from Redis 7 on). An entry scored `s` counts while `now < s + window`. A refused request is not
 * recorded: a client that keeps hammering while limited is admitted again as soon as its oldest admitted
 * request ages out, instead of being locked out for as long as it keeps retrying. PEXPIRE after each
 * admission lets an idle key vanish one window after its newest entry.
 */
export const SLIDING_WINDOW_LUA = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, string.format('%d', now) .. ':' .. ARGV[3])
  redis.call('PEXPIRE', key, window)
  count = count + 1
  allowed = 1
end
local reset = 0
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if oldest[2] then
  reset = tonumber(oldest[2]) + window - now
end
return { allowed, count, reset }
`;
