/*
 * NAME
 *	store_redis - the Redis engine of the store (hiredis 0.14, Sentinel)
 * SUMMARY
 *	store_redis_open() builds a struct store whose ops talk to one Redis
 *	master, given directly (redis.server/port or redis.socket) or found
 *	through Sentinel (redis.sentinel_servers + redis.sentinel_dataset).
 * DESCRIPTION
 *	Quota.  Each decision (reserve, commit, release, usage, reset) is one
 *	call of one Lua script, so it runs atomically on the server and any
 *	number of milter hosts share exact counts.  The script is sent with
 *	EVALSHA; its SHA1 comes from SCRIPT LOAD (at open, and whenever it is
 *	unknown), and a NOSCRIPT reply (SCRIPT FLUSH, restart, failover)
 *	loads it again and retries once.  A user's state is one hash,
 *	    "chapps:q:" + raw user bytes
 *	with fields "b<bucket>" -> count and "r<resid>" -> "<count> <expiry>",
 *	and one field "b" (no number) holding running aggregates over the
 *	items present: "S B O W R N E X" = sum and number of buckets, oldest
 *	and newest bucket, sum and number of reservations, a lower bound of
 *	their earliest expiry and an upper bound of their latest.  When these
 *	show that nothing can have died (O still lives, now < E) a call reads
 *	only "b", its reservation and the current bucket (one HMGET), so its
 *	cost does not grow with the live buckets; otherwise (something may have
 *	expired, a commit that may fold, the field absent or malformed: a key
 *	of the previous script version, whose reserve and commit delete "b" as
 *	a malformed bucket) it scans the hash, prunes, and rewrites "b".  Past
 *	32 items "b" is padded beyond Redis's hash-max-listpack-value (64 by
 *	default), which turns the hash into a real hash table: in a listpack
 *	every field lookup is a linear scan.
 *	The rule is the one of store.h and quota_record.c (same bucket life,
 *	same folding of the oldest buckets past interval/resolution + 2, same
 *	"too many open reservations" error past 1024), with the caller's
 *	clock (now), never Redis TIME.  Every write prunes dead buckets and
 *	expired reservations and sets the key's TTL to the remaining life of
 *	its longest-lived item (on the fast path a reservation deleted since
 *	the last scan may still count here, via X) plus REDIS_EXPIRE_SLACK
 *	seconds (clock skew between milter hosts), so an idle user vanishes.
 *	The cost of a call is bounded by the live state, whatever the number
 *	of messages ever sent, and is constant while nothing expires.
 *
 *	Cache.  "chapps:c:" + the caller's binary key holds an 8-byte
 *	big-endian expiry (caller's clock) followed by the value; the key
 *	also gets a real TTL of ttl + REDIS_EXPIRE_SLACK seconds.
 *
 *	Greylisting.  Every check is one call of the greylisting script
 *	(the same EVALSHA/NOSCRIPT machinery, its own SHA1), with the
 *	caller's clock.  A tuple is the hash "chapps:g:" + the caller's
 *	tuple key with fields f (first seen), p (last pass, -1 none) and e
 *	(the instant from which the rule would restart it anyway; the tuple
 *	is absent from then on); a client's pass tally is the hash
 *	"chapps:gt:" + the caller's client key with one field "h<hour>" per
 *	hour that saw passes (at most 25 live, as in store_lmdb.c).  A write
 *	sets the key's TTL to its remaining life plus REDIS_EXPIRE_SLACK, so
 *	a tuple vanishes max(retry_window, lifetime) after its last change
 *	and a tally a day after its last pass; an early retry writes nothing.
 *
 *	Pool.  Up to redis.pool_size (0: STORE_REDIS_POOL_DEFAULT) idle
 *	connections are kept in a mutex-protected stack.  A caller takes one
 *	or, when none is idle, opens a new one; it never waits for another
 *	thread.  Giving a connection back to a full pool closes it, so a
 *	burst beyond pool_size costs extra connects but no waiting.  A
 *	connection that failed (I/O error, timeout) is freed, and every
 *	pooled connection is retired with it (a generation counter), so the
 *	next call reconnects; an idle connection the server closed is noticed
 *	with a zero-timeout poll(2) when it is taken.  An ordinary error reply
 *	(WRONGTYPE...) leaves the connection in the pool.
 *
 *	Open.  store_redis_open() connects once (address, AUTH, SELECT,
 *	ROLE, SCRIPT LOAD), so a wrong setting or an unreachable server is
 *	reported at start-up rather than on the first message.
 *
 *	Sentinel.  A new connection asks each sentinel in turn (starting with
 *	the last one that answered) for SENTINEL get-master-addr-by-name,
 *	connects to that address, authenticates, selects the database and
 *	checks with ROLE that the server is a master; a sentinel whose answer
 *	fails moves on to the next.  A READONLY, LOADING or MASTERDOWN reply
 *	retires the pool and the call is retried once on a freshly discovered
 *	master (these replies mean the command was not executed).  An I/O
 *	error is never retried: the script may have run.
 *
 *	Time.  Every public call has one deadline of connect_timeout_ms +
 *	command_timeout_ms from its start; each connect waits at most
 *	min(connect_timeout_ms, time left) and each command at most
 *	min(command_timeout_ms, time left), Sentinel discovery and retries
 *	included.  (Host names are resolved by getaddrinfo without a timeout:
 *	use addresses.)  A write to a socket the server closed must not kill
 *	the process, so SIGPIPE is blocked in the calling thread around each
 *	command and a pending one is consumed.
 * DIAGNOSTICS
 *	Failures return STORE_ERROR (or -1 from store_redis_open) with
 *	*error_r pointing to a thread-local buffer that names the server and
 *	the failing step, valid until the next call from the same thread.
 *	Nothing is fatal except out-of-memory (xalloc).
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "base/config.h"
#include "store/greylist_record.h"
#include "store/store-private.h"
#include "base/xalloc.h"

#define STORE_REDIS_POOL_DEFAULT 8
#define STORE_REDIS_MAX_RESERVATIONS 1024	/* as QUOTA_RECORD_RESV_MAX */
#define STORE_REDIS_MAX_BUCKETS 4096		/* as QUOTA_RECORD_BUCKETS_MAX */
#define REDIS_TIMEOUT_DEFAULT_MS 1000
#define REDIS_EXPIRE_SLACK 60
#define REDIS_STR2(x) #x
#define REDIS_STR(x) REDIS_STR2(x)
#define REDIS_QUOTA_PREFIX "chapps:q:"
#define REDIS_CACHE_PREFIX "chapps:c:"
#define REDIS_GREY_TUPLE_PREFIX "chapps:g:"
#define REDIS_GREY_TALLY_PREFIX "chapps:gt:"
#define REDIS_ADDR_MAX 300
#define REDIS_ERROR_MAX 1024

/*
 * The quota script, the rule of store.h in one atomic step.  KEYS[1] =
 * user key; ARGV = op, now, interval, resolution, reservation_ttl, limit,
 * margin, reservation field, n, max reservations, current bucket number,
 * expire slack, max buckets.  Returns {status (0 ok, 1 refused, 2 too
 * many reservations), committed, reserved, own, last_send}; reset returns
 * the dropped count as committed.  A commit that would leave more than
 * max buckets (a clock jump) folds the oldest into the next newer one,
 * which lives longer: usage is never under-counted.  The field "b" keeps
 * the aggregates "S B O W R N E X" (see the DESCRIPTION) over the fields
 * present; a call that sees them valid and nothing possibly dead uses them
 * (fast path), any other call scans the hash as HGETALL and rewrites them
 * (usage never writes).  E only moves down and X only up between scans,
 * so they stay bounds; O is exact because only a scan or a fold removes
 * buckets, and a commit that could fold takes the scan.
 */
static const char quota_script[] =
	"local key, op, rf = KEYS[1], ARGV[1], ARGV[8]\n"
	"local function aread(v)\n"
	"  if not v then return nil end\n"
	"  local a = {}\n"
	"  for x in string.gmatch(v, '%S+') do a[#a + 1] = tonumber(x) end\n"
	"  if #a ~= 8 then return nil end\n"
	"  for i = 1, 8 do\n"
	"    if not a[i] or a[i] < 0 and i ~= 3 and i ~= 4 and i < 7 then return nil end\n"
	"  end\n"
	"  return a\n"
	"end\n"
	"local function awrite(a)\n"
	"  if a[2] > 0 or a[6] > 0 then\n"
	"    local v = string.format('%d %d %d %d %d %d %d %d',\n"
	"                            a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])\n"
	"    if a[2] + a[6] > 32 then v = v .. string.rep(' ', 256 - #v) end\n"
	"    redis.call('HSET', key, 'b', v)\n"
	"  else\n"
	"    redis.call('HDEL', key, 'b')\n"
	"  end\n"
	"end\n"
	"if op == 'release' then\n"
	"  local g = redis.call('HMGET', key, 'b', rf)\n"
	"  if g[2] then\n"
	"    redis.call('HDEL', key, rf)\n"
	"    local a, c = aread(g[1]), tonumber(string.match(g[2], '^(%d+) %-?%d+$'))\n"
	"    if a and c and a[6] >= 1 and a[5] >= c then\n"
	"      a[5], a[6] = a[5] - c, a[6] - 1\n"
	"      if a[6] == 0 then a[5], a[7], a[8] = 0, 0, 0 end\n"
	"      awrite(a)\n"
	"    elseif g[1] then\n"
	"      redis.call('HDEL', key, 'b')\n"
	"    end\n"
	"  end\n"
	"  return {0, 0, 0, 0, 0}\n"
	"end\n"
	"if op == 'reset' then\n"
	"  local a, dropped = aread(redis.call('HGET', key, 'b')), 0\n"
	"  if a then\n"
	"    dropped = a[1]\n"
	"  else\n"
	"    local h = redis.call('HGETALL', key)\n"
	"    for i = 1, #h, 2 do\n"
	"      if string.sub(h[i], 1, 1) == 'b' then\n"
	"        dropped = dropped + (tonumber(h[i + 1]) or 0)\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"  redis.call('DEL', key)\n"
	"  return {0, dropped, 0, 0, 0}\n"
	"end\n"
	"local now, interval, res = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
	"local ttl, limit, margin = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
	"local n, maxres = tonumber(ARGV[9]), tonumber(ARGV[10])\n"
	"local cur, slack = tonumber(ARGV[11]), tonumber(ARGV[12])\n"
	"local maxbuckets = tonumber(ARGV[13])\n"
	"local bf = 'b' .. ARGV[11]\n"
	"local g = redis.call('HMGET', key, 'b', rf, bf)\n"
	"local a = aread(g[1])\n"
	"local rc, re\n"
	"if g[2] then\n"
	"  rc, re = string.match(g[2], '^(%d+) (%-?%d+)$')\n"
	"  rc, re = tonumber(rc), tonumber(re)\n"
	"end\n"
	"if a then\n"
	"  if (a[2] > 0 and (a[3] + 1) * res + interval <= now) or (a[6] > 0 and a[7] <= now) or\n"
	"     (g[2] and (not rc or not re or re <= now or a[6] == 0)) or\n"
	"     (g[3] and (not tonumber(g[3]) or a[2] == 0)) or\n"
	"     (op == 'commit' and not g[3] and a[2] >= maxbuckets) then\n"
	"    a = nil\n"
	"  end\n"
	"end\n"
	"local status, committed, reserved, own, newest, life = 0, 0, 0, 0, -1, 0\n"
	"if a then\n"
	"  local rlive = g[2] and true or false\n"
	"  committed, reserved = a[1], a[5]\n"
	"  if rlive then own = rc end\n"
	"  if a[2] > 0 then\n"
	"    if a[4] > newest then newest = a[4] end\n"
	"    life = (a[4] + 1) * res + interval - now\n"
	"  end\n"
	"  if a[6] > 0 and a[8] - now > life then life = a[8] - now end\n"
	"  if op == 'usage' then\n"
	"    own = 0\n"
	"  else\n"
	"    if op == 'reserve' then\n"
	"      local others = committed + reserved - own\n"
	"      if others >= limit or others + own + n > limit + margin then\n"
	"        status = 1\n"
	"      elseif not rlive and a[6] >= maxres then\n"
	"        status = 2\n"
	"      else\n"
	"        own = math.min(own + n, 4294967295)\n"
	"        reserved = others - committed + own\n"
	"        local e = now + ttl\n"
	"        if not rlive then a[6] = a[6] + 1 end\n"
	"        if a[6] == 1 then\n"
	"          a[7], a[8] = e, e\n"
	"        else\n"
	"          a[7], a[8] = math.min(a[7], e), math.max(a[8], e)\n"
	"        end\n"
	"        a[5] = reserved\n"
	"        redis.call('HSET', key, rf, string.format('%d %d', own, e))\n"
	"        awrite(a)\n"
	"        if ttl > life then life = ttl end\n"
	"      end\n"
	"    elseif op == 'commit' then\n"
	"      if rlive then\n"
	"        redis.call('HDEL', key, rf)\n"
	"        reserved = reserved - own\n"
	"        a[5], a[6] = reserved, a[6] - 1\n"
	"        if a[6] == 0 then a[5], a[7], a[8] = 0, 0, 0 end\n"
	"        if own > 0 then\n"
	"          redis.call('HINCRBY', key, bf, own)\n"
	"          if not g[3] then\n"
	"            a[2] = a[2] + 1\n"
	"            if a[2] == 1 then\n"
	"              a[3], a[4] = cur, cur\n"
	"            else\n"
	"              a[3], a[4] = math.min(a[3], cur), math.max(a[4], cur)\n"
	"            end\n"
	"          end\n"
	"          committed = committed + own\n"
	"          a[1] = committed\n"
	"          if cur > newest then newest = cur end\n"
	"          local left = (cur + 1) * res + interval - now\n"
	"          if left > life then life = left end\n"
	"        end\n"
	"        awrite(a)\n"
	"      end\n"
	"      own = 0\n"
	"    end\n"
	"    if life > 0 and redis.call('EXISTS', key) == 1 then\n"
	"      redis.call('EXPIRE', key, life + slack)\n"
	"    end\n"
	"  end\n"
	"  local last = 0\n"
	"  if newest >= 0 then last = newest * res end\n"
	"  return {status, committed, reserved, own, last}\n"
	"end\n"
	"local h = redis.call('HGETALL', key)\n"
	"local nres, rexp, emin, emax = 0, nil, nil, nil\n"
	"local rlive = false\n"
	"local dead, live, bname = {}, {}, {}\n"
	"for i = 1, #h, 2 do\n"
	"  local f, v = h[i], h[i + 1]\n"
	"  local t = string.sub(f, 1, 1)\n"
	"  if t == 'b' then\n"
	"    local b, c = tonumber(string.sub(f, 2)), tonumber(v)\n"
	"    local left = b and c and ((b + 1) * res + interval - now)\n"
	"    if not left or left <= 0 then\n"
	"      dead[#dead + 1] = f\n"
	"    else\n"
	"      committed = committed + c\n"
	"      if b > newest then newest = b end\n"
	"      if left > life then life = left end\n"
	"      live[#live + 1] = b\n"
	"      bname[b] = f\n"
	"    end\n"
	"  elseif t == 'r' then\n"
	"    local c, e = string.match(v, '^(%d+) (%-?%d+)$')\n"
	"    c, e = tonumber(c), tonumber(e)\n"
	"    if not c or not e or e <= now then\n"
	"      dead[#dead + 1] = f\n"
	"    else\n"
	"      reserved = reserved + c\n"
	"      nres = nres + 1\n"
	"      if f == rf then\n"
	"        own = c; rlive = true; rexp = e\n"
	"      else\n"
	"        if not emin or e < emin then emin = e end\n"
	"        if not emax or e > emax then emax = e end\n"
	"      end\n"
	"      if e - now > life then life = e - now end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if op == 'usage' then\n"
	"  own = 0\n"
	"else\n"
	"  for i = 1, #dead, 256 do\n"
	"    redis.call('HDEL', key, unpack(dead, i, math.min(i + 255, #dead)))\n"
	"  end\n"
	"  local keep = 1\n"
	"  if op == 'reserve' then\n"
	"    local others = committed + reserved - own\n"
	"    if others >= limit or others + own + n > limit + margin then\n"
	"      status = 1\n"
	"    elseif not rlive and nres >= maxres then\n"
	"      status = 2\n"
	"    else\n"
	"      own = math.min(own + n, 4294967295)\n"
	"      reserved = others - committed + own\n"
	"      rexp = now + ttl\n"
	"      if not rlive then nres = nres + 1 end\n"
	"      redis.call('HSET', key, rf, string.format('%d %d', own, rexp))\n"
	"      if ttl > life then life = ttl end\n"
	"    end\n"
	"  elseif op == 'commit' then\n"
	"    if rlive then\n"
	"      redis.call('HDEL', key, rf)\n"
	"      reserved = reserved - own\n"
	"      nres = nres - 1\n"
	"      rexp = nil\n"
	"      if own > 0 then\n"
	"        if redis.call('HINCRBY', key, bf, own) == own then\n"
	"          live[#live + 1] = cur\n"
	"          bname[cur] = bf\n"
	"        end\n"
	"        committed = committed + own\n"
	"        if cur > newest then newest = cur end\n"
	"        local left = (cur + 1) * res + interval - now\n"
	"        if left > life then life = left end\n"
	"        if #live > maxbuckets then\n"
	"          table.sort(live)\n"
	"          for i = 1, #live - maxbuckets do\n"
	"            local c = tonumber(redis.call('HGET', key, bname[live[i]]))\n"
	"            redis.call('HDEL', key, bname[live[i]])\n"
	"            redis.call('HINCRBY', key, bname[live[i + 1]], c)\n"
	"          end\n"
	"          keep = #live - maxbuckets + 1\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"    own = 0\n"
	"  end\n"
	"  if rexp then\n"
	"    if not emin or rexp < emin then emin = rexp end\n"
	"    if not emax or rexp > emax then emax = rexp end\n"
	"  end\n"
	"  local lo, hi = nil, nil\n"
	"  for i = keep, #live do\n"
	"    if not lo or live[i] < lo then lo = live[i] end\n"
	"    if not hi or live[i] > hi then hi = live[i] end\n"
	"  end\n"
	"  if nres == 0 then reserved, emin, emax = 0, 0, 0 end\n"
	"  awrite({committed, #live - keep + 1, lo or 0, hi or 0, reserved, nres,\n"
	"          emin or 0, emax or 0})\n"
	"  if life > 0 and redis.call('EXISTS', key) == 1 then\n"
	"    redis.call('EXPIRE', key, life + slack)\n"
	"  end\n"
	"end\n"
	"local last = 0\n"
	"if newest >= 0 then last = newest * res end\n"
	"return {status, committed, reserved, own, last}\n";

/*
 * The greylisting script, the rule of greylist.h in one atomic step.
 * KEYS[1] = client tally key, KEYS[2] = tuple key (check only); ARGV = op
 * ('check', 'tally' or 'clear'), now, current hour (floor(now / 3600)),
 * min_delay, retry_window, lifetime, whitelist_threshold, expire slack,
 * hour length, tally window, max counters.  The tally is a hash of
 * "h<hour>" -> passes; a counter counts until its end + one day (at most
 * 25 live, the oldest folded into the next newer past that).  A tuple is
 * a hash f (first seen), p (last pass, -1 none), e (the first instant at
 * which the rule would restart it anyway: a tuple at or past e is
 * absent).  Returns {verdict, tally}: verdict 0 pass, 1 whitelisted, 2
 * new, 3 early (GREYLIST_* of greylist.h); an early retry writes nothing.
 */
static const char greylist_script[] =
	"local ck, op = KEYS[1], ARGV[1]\n"
	"if op == 'clear' then\n"
	"  redis.call('DEL', ck)\n"
	"  return {0, 0}\n"
	"end\n"
	"local now, hour = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
	"local hsec, day, tmax = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])\n"
	"local h = redis.call('HGETALL', ck)\n"
	"local sum, newest, live, dead, fname = 0, -1, {}, {}, {}\n"
	"for i = 1, #h, 2 do\n"
	"  local f = h[i]\n"
	"  local b, c = tonumber(string.sub(f, 2)), tonumber(h[i + 1])\n"
	"  if string.sub(f, 1, 1) ~= 'h' or not b or not c or (b + 1) * hsec + day <= now then\n"
	"    dead[#dead + 1] = f\n"
	"  else\n"
	"    sum = sum + c\n"
	"    live[#live + 1] = b\n"
	"    fname[b] = f\n"
	"    if b > newest then newest = b end\n"
	"  end\n"
	"end\n"
	"if op == 'tally' then\n"
	"  return {0, sum}\n"
	"end\n"
	"local tk = KEYS[2]\n"
	"local mind, win, life = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])\n"
	"local thr, slack = tonumber(ARGV[7]), tonumber(ARGV[8])\n"
	"local t = redis.call('HMGET', tk, 'f', 'p', 'e')\n"
	"local first, lastp, e = tonumber(t[1]), tonumber(t[2]), tonumber(t[3])\n"
	"local present = first ~= nil and lastp ~= nil and e ~= nil and now < e\n"
	"local v\n"
	"if thr > 0 and sum >= thr then\n"
	"  v = 1\n"
	"  if not present then first, lastp = now, -1 end\n"
	"elseif not present then\n"
	"  v = 2\n"
	"elseif lastp >= 0 and now - lastp <= life then\n"
	"  v = 0\n"
	"elseif now - first < mind then\n"
	"  return {3, sum}\n"
	"elseif now - first > win then\n"
	"  v = 2\n"
	"else\n"
	"  v = 0\n"
	"end\n"
	"if v == 2 then\n"
	"  first, lastp = now, -1\n"
	"elseif now > lastp then\n"
	"  lastp = now\n"
	"end\n"
	"e = first + math.max(win, mind)\n"
	"if lastp >= 0 and lastp + life > e then e = lastp + life end\n"
	"e = e + 1\n"
	"redis.call('HMSET', tk, 'f', string.format('%d', first),\n"
	"           'p', string.format('%d', lastp), 'e', string.format('%d', e))\n"
	"redis.call('EXPIRE', tk, e - now + slack)\n"
	"if v == 2 or ARGV[12] == '1' then\n"
	"  return {v, sum}\n"
	"end\n"
	"for i = 1, #dead, 256 do\n"
	"  redis.call('HDEL', ck, unpack(dead, i, math.min(i + 255, #dead)))\n"
	"end\n"
	"local f = 'h' .. ARGV[3]\n"
	"if redis.call('HINCRBY', ck, f, 1) == 1 then\n"
	"  live[#live + 1] = hour\n"
	"  fname[hour] = f\n"
	"end\n"
	"if hour > newest then newest = hour end\n"
	"sum = sum + 1\n"
	"if #live > tmax then\n"
	"  table.sort(live)\n"
	"  for i = 1, #live - tmax do\n"
	"    local c = tonumber(redis.call('HGET', ck, fname[live[i]]))\n"
	"    redis.call('HDEL', ck, fname[live[i]])\n"
	"    redis.call('HINCRBY', ck, fname[live[i + 1]], c)\n"
	"  end\n"
	"end\n"
	"redis.call('EXPIRE', ck, (newest + 1) * hsec + day - now + slack)\n"
	"return {v, sum}\n";

/* The server-side scripts, loaded at open and again after NOSCRIPT. */
enum redis_script { REDIS_SCRIPT_NONE = -1, REDIS_SCRIPT_QUOTA, REDIS_SCRIPT_GREYLIST };
#define REDIS_SCRIPTS 2

static const struct {
	const char *name;
	const char *text;
	size_t len;
} redis_scripts[REDIS_SCRIPTS] = {
	{ "quota", quota_script, sizeof(quota_script) - 1 },
	{ "greylist", greylist_script, sizeof(greylist_script) - 1 },
};

struct redis_conn {
	struct redis_conn *next;	/* idle stack */
	redisContext *ctx;
	uint64_t generation;		/* pool generation it was opened in */
	char addr[REDIS_ADDR_MAX];	/* "host:port" or "unix:path", for errors */
};

struct redis_endpoint {
	char *host;
	int port;
};

struct store_redis {
	struct store store;		/* first: store.c sees only this */

	pthread_mutex_t lock;		/* guards the fields up to sha */
	struct redis_conn *idle;
	int n_idle;
	uint64_t generation;
	int sentinel_next;		/* index of the last sentinel that answered */
	char sha[REDIS_SCRIPTS][41];	/* scripts' SHA1s, "" until loaded */

	/* settings, copied at open and read-only afterwards */
	int pool_size;
	char *host;
	int port;
	char *socket;			/* NULL: TCP */
	char *password;			/* NULL: no AUTH */
	int db;
	struct redis_endpoint sentinels[CONFIG_LIST_MAX];
	int n_sentinels;
	char *dataset;
	int connect_timeout_ms;
	int command_timeout_ms;
};

/* One public call: its deadline on the monotonic clock. */
struct redis_call {
	struct store_redis *rs;
	int64_t deadline_ms;
};

enum redis_reply_kind { REPLY_OK, REPLY_NOSCRIPT, REPLY_FAILOVER, REPLY_OTHER_ERROR };

static __thread char redis_errbuf[REDIS_ERROR_MAX];

/* redis_error - format an error into this thread's buffer and return it */
static const char *redis_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *redis_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(redis_errbuf, sizeof(redis_errbuf), fmt, ap);
	va_end(ap);
	return redis_errbuf;
}

/* mono_ms - the monotonic clock in milliseconds */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* call_init - start a call: its deadline covers one connect and one command budget */
static void call_init(struct redis_call *call, struct store_redis *rs)
{
	call->rs = rs;
	call->deadline_ms = mono_ms() + rs->connect_timeout_ms + rs->command_timeout_ms;
}

/* call_budget - min(step_ms, time left), or 0 when the deadline has passed */
static int call_budget(const struct redis_call *call, int step_ms)
{
	int64_t left = call->deadline_ms - mono_ms();

	if (left <= 0)
		return 0;
	return left < step_ms ? (int)left : step_ms;
}

/* ms_timeval - a timeval of ms milliseconds */
static struct timeval ms_timeval(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* floordiv - floor(a / b) for b > 0 */
static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* conn_free - close a connection and NULL the pointer */
static void conn_free(struct redis_conn **conn)
{
	if (*conn == NULL)
		return;
	if ((*conn)->ctx != NULL)
		redisFree((*conn)->ctx);
	free(*conn);
	*conn = NULL;
}

/* ctx_error - describe a context's I/O error, naming a timeout as such */
static const char *ctx_error(const redisContext *ctx, int saved_errno, int timeout_ms)
{
	static __thread char buf[160];

	if (ctx->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
		snprintf(buf, sizeof(buf), "timed out after %d ms", timeout_ms);
		return buf;
	}
	if (ctx->err == REDIS_ERR_EOF)
		return "connection closed by server";
	snprintf(buf, sizeof(buf), "%s", ctx->errstr[0] != '\0' ? ctx->errstr : "I/O error");
	return buf;
}

/* conn_command - run one command within the call's deadline; NULL on I/O error */
static redisReply *conn_command(struct redis_conn *conn, const struct redis_call *call, int argc,
				const char **argv, const size_t *lens, const char **error_r)
{
	sigset_t pipeset, oldset, pending;
	bool was_pending;
	redisReply *reply;
	int budget, saved_errno;

	budget = call_budget(call, call->rs->command_timeout_ms);
	if (budget == 0) {
		*error_r = redis_error("redis %s: %.*s: deadline exceeded before sending",
				       conn->addr, (int)lens[0], argv[0]);
		return NULL;
	}
	if (redisSetTimeout(conn->ctx, ms_timeval(budget)) != REDIS_OK) {
		*error_r = redis_error("redis %s: setting timeout: %s", conn->addr,
				       conn->ctx->errstr);
		return NULL;
	}

	/* A write to a closed socket must fail with EPIPE, not kill us. */
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipeset, &oldset);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);

	errno = 0;
	reply = redisCommandArgv(conn->ctx, argc, argv, lens);
	saved_errno = errno;

	if (!was_pending) {
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE)) {
			struct timespec zero = { 0, 0 };

			sigtimedwait(&pipeset, NULL, &zero);
		}
	}
	pthread_sigmask(SIG_SETMASK, &oldset, NULL);

	if (reply == NULL) {
		*error_r = redis_error("redis %s: %.*s: %s", conn->addr, (int)lens[0], argv[0],
				       ctx_error(conn->ctx, saved_errno, budget));
		return NULL;
	}
	return reply;
}

/* reply_kind - classify an error reply: retry-worthy or final */
static enum redis_reply_kind reply_kind(const redisReply *reply)
{
	if (reply->type != REDIS_REPLY_ERROR)
		return REPLY_OK;
	if (strncmp(reply->str, "NOSCRIPT", 8) == 0)
		return REPLY_NOSCRIPT;
	if (strncmp(reply->str, "READONLY", 8) == 0 || strncmp(reply->str, "LOADING", 7) == 0 ||
	    strncmp(reply->str, "MASTERDOWN", 10) == 0 || strstr(reply->str, "-READONLY") != NULL)
		return REPLY_FAILOVER;
	return REPLY_OTHER_ERROR;
}

/* conn_simple - run a command expecting a status or string reply; -1 with *error_r */
static int conn_simple(struct redis_conn *conn, const struct redis_call *call, int argc,
		       const char **argv, const size_t *lens, const char *what,
		       const char **error_r)
{
	redisReply *reply;

	reply = conn_command(conn, call, argc, argv, lens, error_r);
	if (reply == NULL)
		return -1;
	if (reply->type == REDIS_REPLY_ERROR) {
		*error_r = redis_error("redis %s: %s: %s", conn->addr, what, reply->str);
		freeReplyObject(reply);
		return -1;
	}
	freeReplyObject(reply);
	return 0;
}

/* conn_connect - connect to host:port or a unix socket within the deadline */
static struct redis_conn *conn_connect(struct store_redis *rs, const struct redis_call *call,
				       const char *kind, const char *host, int port,
				       const char *socket, const char **error_r)
{
	struct redis_conn *conn;
	int budget;

	conn = xcalloc(1, sizeof(*conn));
	if (socket != NULL)
		snprintf(conn->addr, sizeof(conn->addr), "unix:%s", socket);
	else if (strchr(host, ':') != NULL)
		snprintf(conn->addr, sizeof(conn->addr), "[%s]:%d", host, port);
	else
		snprintf(conn->addr, sizeof(conn->addr), "%s:%d", host, port);

	budget = call_budget(call, rs->connect_timeout_ms);
	if (budget == 0) {
		*error_r = redis_error("%s %s: deadline exceeded before connecting", kind,
				       conn->addr);
		conn_free(&conn);
		return NULL;
	}
	if (socket != NULL)
		conn->ctx = redisConnectUnixWithTimeout(socket, ms_timeval(budget));
	else
		conn->ctx = redisConnectWithTimeout(host, port, ms_timeval(budget));
	if (conn->ctx == NULL) {
		*error_r = redis_error("%s %s: connect: out of memory", kind, conn->addr);
		conn_free(&conn);
		return NULL;
	}
	if (conn->ctx->err != 0) {
		*error_r = redis_error("%s %s: connect: %s", kind, conn->addr, conn->ctx->errstr);
		conn_free(&conn);
		return NULL;
	}
	return conn;
}

/* conn_setup - AUTH, SELECT and, behind Sentinel, check ROLE is master */
static int conn_setup(struct store_redis *rs, struct redis_conn *conn,
		      const struct redis_call *call, const char **error_r)
{
	if (rs->password != NULL) {
		const char *argv[] = { "AUTH", rs->password };
		size_t lens[] = { 4, strlen(rs->password) };

		if (conn_simple(conn, call, 2, argv, lens, "AUTH", error_r) < 0)
			return -1;
	}
	if (rs->db != 0) {
		char db[16];
		const char *argv[] = { "SELECT", db };
		size_t lens[] = { 6, 0 };

		lens[1] = (size_t)snprintf(db, sizeof(db), "%d", rs->db);
		if (conn_simple(conn, call, 2, argv, lens, "SELECT", error_r) < 0)
			return -1;
	}
	if (rs->n_sentinels > 0) {
		const char *argv[] = { "ROLE" };
		size_t lens[] = { 4 };
		redisReply *reply;
		const redisReply *role;

		reply = conn_command(conn, call, 1, argv, lens, error_r);
		if (reply == NULL)
			return -1;
		if (reply->type == REDIS_REPLY_ERROR) {
			*error_r = redis_error("redis %s: ROLE: %s", conn->addr, reply->str);
			freeReplyObject(reply);
			return -1;
		}
		role = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 ? reply->element[0]
									       : NULL;
		if (role == NULL || role->type != REDIS_REPLY_STRING ||
		    strcmp(role->str, "master") != 0) {
			*error_r = redis_error("redis %s: ROLE is %s, not master", conn->addr,
					       role != NULL && role->type == REDIS_REPLY_STRING
						       ? role->str
						       : "unreadable");
			freeReplyObject(reply);
			return -1;
		}
		freeReplyObject(reply);
	}
	return 0;
}

/* sentinel_ask - ask one sentinel for the master's address; -1 with *error_r */
static int sentinel_ask(struct store_redis *rs, const struct redis_call *call,
			const struct redis_endpoint *sentinel, char *host, size_t host_size,
			int *port_r, const char **error_r)
{
	const char *argv[] = { "SENTINEL", "get-master-addr-by-name", rs->dataset };
	size_t lens[] = { 8, 23, strlen(rs->dataset) };
	struct redis_conn *conn;
	redisReply *reply;
	int ret = -1;

	conn = conn_connect(rs, call, "sentinel", sentinel->host, sentinel->port, NULL, error_r);
	if (conn == NULL)
		return -1;
	reply = conn_command(conn, call, 3, argv, lens, error_r);
	if (reply == NULL) {
		conn_free(&conn);
		return -1;
	}
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[0]->type == REDIS_REPLY_STRING &&
	    reply->element[1]->type == REDIS_REPLY_STRING && reply->element[0]->len < host_size) {
		char *end;
		long port;

		errno = 0;
		port = strtol(reply->element[1]->str, &end, 10);
		if (errno == 0 && *end == '\0' && port > 0 && port < 65536) {
			memcpy(host, reply->element[0]->str, reply->element[0]->len + 1);
			*port_r = (int)port;
			ret = 0;
		}
	}
	if (ret < 0) {
		if (reply->type == REDIS_REPLY_ERROR)
			*error_r = redis_error("sentinel %s: %s", conn->addr, reply->str);
		else if (reply->type == REDIS_REPLY_NIL)
			*error_r = redis_error("sentinel %s: unknown master name '%s'", conn->addr,
					       rs->dataset);
		else
			*error_r = redis_error("sentinel %s: unexpected reply to "
					       "get-master-addr-by-name", conn->addr);
	}
	freeReplyObject(reply);
	conn_free(&conn);
	return ret;
}

/* conn_open_sentinel - ask the sentinels in turn, connect to and verify the master */
static struct redis_conn *conn_open_sentinel(struct store_redis *rs, const struct redis_call *call,
					     const char **error_r)
{
	char host[256], errors[REDIS_ERROR_MAX];
	size_t used = 0;
	int first, i;

	pthread_mutex_lock(&rs->lock);
	first = rs->sentinel_next;
	pthread_mutex_unlock(&rs->lock);

	errors[0] = '\0';
	for (i = 0; i < rs->n_sentinels; i++) {
		int idx = (first + i) % rs->n_sentinels;
		struct redis_conn *conn;
		const char *error;
		int port;

		if (sentinel_ask(rs, call, &rs->sentinels[idx], host, sizeof(host), &port,
				 &error) == 0) {
			conn = conn_connect(rs, call, "redis", host, port, NULL, &error);
			if (conn != NULL && conn_setup(rs, conn, call, &error) == 0) {
				pthread_mutex_lock(&rs->lock);
				rs->sentinel_next = idx;
				pthread_mutex_unlock(&rs->lock);
				return conn;
			}
			conn_free(&conn);
		}
		/* Say what went wrong with each, in the order tried. */
		if (used < sizeof(errors)) {
			int w = snprintf(errors + used, sizeof(errors) - used, "%s%s",
					 used > 0 ? "; " : "", error);

			used += w > 0 ? (size_t)w : 0;
		}
		if (call_budget(call, 1) == 0)
			break;
	}
	*error_r = redis_error("no master for '%s' from %d sentinel(s): %s", rs->dataset,
			       rs->n_sentinels, errors);
	return NULL;
}

/* conn_open - open and prepare a new connection to the master */
static struct redis_conn *conn_open(struct store_redis *rs, const struct redis_call *call,
				    uint64_t generation, const char **error_r)
{
	struct redis_conn *conn;

	if (rs->n_sentinels > 0) {
		conn = conn_open_sentinel(rs, call, error_r);
	} else {
		conn = conn_connect(rs, call, "redis", rs->host, rs->port, rs->socket, error_r);
		if (conn != NULL && conn_setup(rs, conn, call, error_r) < 0)
			conn_free(&conn);
	}
	if (conn != NULL)
		conn->generation = generation;
	return conn;
}

/* conn_is_idle_ok - false when the server closed or wrote to an idle connection */
static bool conn_is_idle_ok(const struct redis_conn *conn)
{
	struct pollfd pfd;

	pfd.fd = conn->ctx->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 0;
}

/* pool_take - an idle connection of the current generation, or a new one */
static struct redis_conn *pool_take(struct store_redis *rs, const struct redis_call *call,
				    const char **error_r)
{
	struct redis_conn *conn;
	uint64_t generation;

	for (;;) {
		pthread_mutex_lock(&rs->lock);
		conn = rs->idle;
		if (conn != NULL) {
			rs->idle = conn->next;
			rs->n_idle--;
			conn->next = NULL;
		}
		generation = rs->generation;
		pthread_mutex_unlock(&rs->lock);
		if (conn == NULL)
			break;
		if (conn->generation == generation && conn_is_idle_ok(conn))
			return conn;
		conn_free(&conn);
	}
	return conn_open(rs, call, generation, error_r);
}

/* pool_give - return a connection to the pool, or close it when stale or the pool is full */
static void pool_give(struct store_redis *rs, struct redis_conn **conn)
{
	pthread_mutex_lock(&rs->lock);
	if ((*conn)->generation == rs->generation && rs->n_idle < rs->pool_size) {
		(*conn)->next = rs->idle;
		rs->idle = *conn;
		rs->n_idle++;
		*conn = NULL;
	}
	pthread_mutex_unlock(&rs->lock);
	conn_free(conn);
}

/* pool_retire - close every idle connection and mark the busy ones stale */
static void pool_retire(struct store_redis *rs)
{
	struct redis_conn *list, *next;

	pthread_mutex_lock(&rs->lock);
	list = rs->idle;
	rs->idle = NULL;
	rs->n_idle = 0;
	rs->generation++;
	pthread_mutex_unlock(&rs->lock);
	for (; list != NULL; list = next) {
		next = list->next;
		conn_free(&list);
	}
}

/* script_load - SCRIPT LOAD script `which` on conn and remember its SHA1 */
static int script_load(struct store_redis *rs, struct redis_conn *conn,
		       const struct redis_call *call, enum redis_script which, char sha[41],
		       const char **error_r)
{
	const char *argv[] = { "SCRIPT", "LOAD", redis_scripts[which].text };
	size_t lens[] = { 6, 4, redis_scripts[which].len };
	redisReply *reply;

	reply = conn_command(conn, call, 3, argv, lens, error_r);
	if (reply == NULL)
		return -1;
	if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
		/* An error reply leaves the connection usable; -2 says so. */
		int ret = reply->type == REDIS_REPLY_ERROR ? -2 : -1;

		*error_r = redis_error("redis %s: SCRIPT LOAD %s: %s", conn->addr,
				       redis_scripts[which].name,
				       reply->type == REDIS_REPLY_ERROR ? reply->str
									 : "unexpected reply");
		freeReplyObject(reply);
		return ret;
	}
	memcpy(sha, reply->str, 41);
	freeReplyObject(reply);
	pthread_mutex_lock(&rs->lock);
	memcpy(rs->sha[which], sha, 41);
	pthread_mutex_unlock(&rs->lock);
	return 0;
}

/*
 * redis_exec - run argv on a pooled connection with reconnect, NOSCRIPT
 * and failover handling.  With a script (not REDIS_SCRIPT_NONE), argv[1]
 * is replaced by that script's SHA1.  Returns a reply that is not an
 * error, or NULL with *error_r.
 */
static redisReply *redis_exec(struct store_redis *rs, enum redis_script script, int argc,
			      const char **argv, size_t *lens, const char **error_r)
{
	struct redis_call call;
	struct redis_conn *conn;
	redisReply *reply;
	bool noscript_retried = false, failover_retried = false;
	char sha[41];

	call_init(&call, rs);
	for (;;) {
		conn = pool_take(rs, &call, error_r);
		if (conn == NULL) {
			/* Nothing pooled is worth keeping if a new connection fails. */
			pool_retire(rs);
			return NULL;
		}
		if (script != REDIS_SCRIPT_NONE) {
			pthread_mutex_lock(&rs->lock);
			memcpy(sha, rs->sha[script], sizeof(sha));
			pthread_mutex_unlock(&rs->lock);
			if (sha[0] == '\0') {
				int r = script_load(rs, conn, &call, script, sha, error_r);

				if (r == -1) {
					conn_free(&conn);
					pool_retire(rs);
					return NULL;
				}
				if (r == -2) {
					pool_give(rs, &conn);
					return NULL;
				}
			}
			argv[1] = sha;
			lens[1] = 40;
		}
		reply = conn_command(conn, &call, argc, argv, lens, error_r);
		if (reply == NULL) {
			/* Unknown whether it ran: no retry; reconnect next time. */
			conn_free(&conn);
			pool_retire(rs);
			return NULL;
		}
		switch (reply_kind(reply)) {
		case REPLY_OK:
			pool_give(rs, &conn);
			return reply;
		case REPLY_NOSCRIPT:
			if (script != REDIS_SCRIPT_NONE && !noscript_retried) {
				noscript_retried = true;
				freeReplyObject(reply);
				pthread_mutex_lock(&rs->lock);
				rs->sha[script][0] = '\0';
				pthread_mutex_unlock(&rs->lock);
				pool_give(rs, &conn);
				continue;
			}
			break;
		case REPLY_FAILOVER:
			if (rs->n_sentinels > 0 && !failover_retried &&
			    call_budget(&call, 1) > 0) {
				failover_retried = true;
				freeReplyObject(reply);
				conn_free(&conn);
				pool_retire(rs);
				continue;
			}
			*error_r = redis_error("redis %s: %.*s: %s", conn->addr, (int)lens[0],
					       argv[0], reply->str);
			freeReplyObject(reply);
			conn_free(&conn);
			pool_retire(rs);
			return NULL;
		case REPLY_OTHER_ERROR:
			break;
		}
		*error_r = redis_error("redis %s: %.*s: %s", conn->addr, (int)lens[0], argv[0],
				       reply->str);
		freeReplyObject(reply);
		pool_give(rs, &conn);
		return NULL;
	}
}

/* user_key - "chapps:q:" + user into a new buffer of *len_r bytes */
static char *user_key(const char *user, size_t user_len, size_t *len_r)
{
	size_t plen = sizeof(REDIS_QUOTA_PREFIX) - 1;
	char *key = xmalloc(plen + user_len);

	memcpy(key, REDIS_QUOTA_PREFIX, plen);
	memcpy(key + plen, user, user_len);
	*len_r = plen + user_len;
	return key;
}

/* resid_field - "r" + resid into field (size 1 + STORE_RESID_MAX + 1); returns its length */
static size_t resid_field(char *field, const char *resid)
{
	size_t len = resid != NULL ? strnlen(resid, STORE_RESID_MAX) : 0;

	field[0] = 'r';
	if (len > 0)
		memcpy(field + 1, resid, len);
	field[len + 1] = '\0';
	return len + 1;
}

/* sat32 - v clamped to 0..UINT32_MAX */
static uint32_t sat32(long long v)
{
	return v < 0 ? 0 : v > (long long)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

#define QUOTA_ARGC 17

enum quota_op { OP_RESERVE, OP_COMMIT, OP_RELEASE, OP_USAGE, OP_RESET };

static const char *const quota_op_names[] = { "reserve", "commit", "release", "usage", "reset" };

#define QUOTA_TOO_MANY 2	/* script status: a new reservation over the cap */

/* quota_parse - the script's reply into a status, *state and *dropped_r */
static int quota_parse(const redisReply *reply, struct store_quota_state *state,
		       uint32_t *dropped_r)
{
	long long v[5];
	size_t i;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5)
		return STORE_ERROR;
	for (i = 0; i < 5; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER ||
		    reply->element[i]->integer < 0)
			return STORE_ERROR;
		v[i] = reply->element[i]->integer;
	}
	if (v[0] > QUOTA_TOO_MANY)
		return STORE_ERROR;
	if (state != NULL) {
		state->committed = sat32(v[1]);
		state->reserved = sat32(v[2]);
		state->own = sat32(v[3]);
		state->last_send = v[4];
	}
	if (dropped_r != NULL)
		*dropped_r = sat32(v[1]);
	return v[0] == 0 ? STORE_OK : v[0] == 1 ? STORE_REFUSED : QUOTA_TOO_MANY;
}

/*
 * quota_run - run the quota script for op and parse its reply into
 * *status_r (STORE_OK or STORE_REFUSED) and state (may be NULL).
 */
static int quota_run(struct store *store, enum quota_op op, const char *user, size_t user_len,
		     const char *resid, uint32_t n, const struct store_quota_params *params,
		     int64_t now, struct store_quota_state *state, uint32_t *dropped_r,
		     const char **error_r)
{
	static const struct store_quota_params no_params = { 0, 0, 0, 1, 0 };
	struct store_redis *rs = (struct store_redis *)store;
	char num[10][24], field[STORE_RESID_MAX + 2];
	const char *argv[QUOTA_ARGC];
	size_t lens[QUOTA_ARGC];
	redisReply *reply;
	uint32_t maxbuckets;
	char *key;
	int i, ret;

	if (params == NULL)
		params = &no_params;
	if (params->resolution == 0) {
		*error_r = "quota resolution must be at least 1 second";
		return STORE_ERROR;
	}
	maxbuckets = params->interval / params->resolution + 2;
	if (maxbuckets > STORE_REDIS_MAX_BUCKETS)
		maxbuckets = STORE_REDIS_MAX_BUCKETS;
	snprintf(num[0], sizeof(num[0]), "%lld", (long long)now);
	snprintf(num[1], sizeof(num[1]), "%u", params->interval);
	snprintf(num[2], sizeof(num[2]), "%u", params->resolution);
	snprintf(num[3], sizeof(num[3]), "%u", params->reservation_ttl);
	snprintf(num[4], sizeof(num[4]), "%u", params->limit);
	snprintf(num[5], sizeof(num[5]), "%u", params->margin);
	snprintf(num[6], sizeof(num[6]), "%u", n);
	snprintf(num[7], sizeof(num[7]), "%d", STORE_REDIS_MAX_RESERVATIONS);
	snprintf(num[8], sizeof(num[8]), "%lld", (long long)floordiv(now, params->resolution));
	snprintf(num[9], sizeof(num[9]), "%u", maxbuckets);

	key = user_key(user, user_len, &lens[3]);
	argv[0] = "EVALSHA";
	argv[1] = "";	/* the SHA1, filled in by redis_exec */
	argv[2] = "1";
	argv[3] = key;
	argv[4] = quota_op_names[op];
	for (i = 0; i < 6; i++)	/* now .. margin */
		argv[5 + i] = num[i];
	argv[11] = field;
	argv[12] = num[6];
	argv[13] = num[7];
	argv[14] = num[8];
	argv[15] = REDIS_STR(REDIS_EXPIRE_SLACK);
	argv[16] = num[9];
	for (i = 0; i < QUOTA_ARGC; i++) {
		if (i != 3 && i != 11)
			lens[i] = strlen(argv[i]);
	}
	lens[11] = resid_field(field, resid);

	reply = redis_exec(rs, REDIS_SCRIPT_QUOTA, QUOTA_ARGC, argv, lens, error_r);
	XFREE(key);
	if (reply == NULL)
		return STORE_ERROR;
	ret = quota_parse(reply, state, dropped_r);
	if (ret == STORE_ERROR)
		*error_r = redis_error("redis: quota %s: malformed script reply",
				       quota_op_names[op]);
	else if (ret == QUOTA_TOO_MANY)
		*error_r = "too many open reservations";
	if (ret == QUOTA_TOO_MANY)
		ret = STORE_ERROR;
	freeReplyObject(reply);
	return ret;
}

/* redis_quota_reserve - store_quota_reserve */
static int redis_quota_reserve(struct store *store, const char *user, size_t user_len,
			       const char *resid, uint32_t n,
			       const struct store_quota_params *params, int64_t now,
			       struct store_quota_state *state, const char **error_r)
{
	return quota_run(store, OP_RESERVE, user, user_len, resid, n, params, now, state, NULL,
			 error_r);
}

/* redis_quota_commit - store_quota_commit */
static int redis_quota_commit(struct store *store, const char *user, size_t user_len,
			      const char *resid, const struct store_quota_params *params,
			      int64_t now, const char **error_r)
{
	int ret = quota_run(store, OP_COMMIT, user, user_len, resid, 0, params, now, NULL, NULL,
			    error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* redis_quota_release - store_quota_release */
static int redis_quota_release(struct store *store, const char *user, size_t user_len,
			       const char *resid, int64_t now, const char **error_r)
{
	int ret = quota_run(store, OP_RELEASE, user, user_len, resid, 0, NULL, now, NULL, NULL,
			    error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* redis_quota_usage - store_quota_usage */
static int redis_quota_usage(struct store *store, const char *user, size_t user_len,
			     const struct store_quota_params *params, int64_t now,
			     struct store_quota_state *state, const char **error_r)
{
	int ret = quota_run(store, OP_USAGE, user, user_len, NULL, 0, params, now, state, NULL,
			    error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* redis_quota_reset - store_quota_reset */
static int redis_quota_reset(struct store *store, const char *user, size_t user_len,
			     uint32_t *dropped_r, const char **error_r)
{
	int ret = quota_run(store, OP_RESET, user, user_len, NULL, 0, NULL, 0, NULL, dropped_r,
			    error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* cache_key - "chapps:c:" + key into a new buffer of *len_r bytes */
static char *cache_key(const void *key, size_t key_len, size_t *len_r)
{
	size_t plen = sizeof(REDIS_CACHE_PREFIX) - 1;
	char *k = xmalloc(plen + key_len);

	memcpy(k, REDIS_CACHE_PREFIX, plen);
	memcpy(k + plen, key, key_len);
	*len_r = plen + key_len;
	return k;
}

/* redis_cache_get - store_cache_get */
static int redis_cache_get(struct store *store, const void *key, size_t key_len, void *val,
			   size_t *val_len, int64_t now, const char **error_r)
{
	struct store_redis *rs = (struct store_redis *)store;
	const char *argv[2] = { "GET" };
	size_t lens[2] = { 3 };
	redisReply *reply;
	char *k;
	int ret;

	k = cache_key(key, key_len, &lens[1]);
	argv[1] = k;
	reply = redis_exec(rs, REDIS_SCRIPT_NONE, 2, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type == REDIS_REPLY_NIL) {
		ret = STORE_MISS;
	} else if (reply->type != REDIS_REPLY_STRING || reply->len < 8) {
		*error_r = redis_error("redis: cache GET: %s", reply->type == REDIS_REPLY_STRING
									? "malformed entry"
									: "unexpected reply");
		ret = STORE_ERROR;
	} else {
		const unsigned char *p = (const unsigned char *)reply->str;
		uint64_t expiry = 0;
		size_t len = reply->len - 8;
		int i;

		for (i = 0; i < 8; i++)
			expiry = expiry << 8 | p[i];
		if ((int64_t)expiry <= now) {
			ret = STORE_MISS;
		} else if (len > *val_len) {
			*error_r = redis_error("redis: cache value of %zu bytes does not fit "
					       "in %zu", len, *val_len);
			ret = STORE_ERROR;
		} else {
			memcpy(val, p + 8, len);
			*val_len = len;
			ret = STORE_OK;
		}
	}
	freeReplyObject(reply);
	return ret;
}

/* redis_cache_set - store_cache_set */
static int redis_cache_set(struct store *store, const void *key, size_t key_len, const void *val,
			   size_t val_len, uint32_t ttl, int64_t now, const char **error_r)
{
	struct store_redis *rs = (struct store_redis *)store;
	unsigned char buf[8 + STORE_CACHE_VALUE_MAX];
	char ex[24];
	const char *argv[5] = { "SET", NULL, (const char *)buf, "EX", ex };
	size_t lens[5] = { 3, 0, 0, 2, 0 };
	uint64_t expiry = (uint64_t)(now + (int64_t)ttl);
	redisReply *reply;
	char *k;
	int i;

	if (val_len > STORE_CACHE_VALUE_MAX) {
		*error_r = redis_error("cache value of %zu bytes is over %d", val_len,
				       STORE_CACHE_VALUE_MAX);
		return STORE_ERROR;
	}
	for (i = 7; i >= 0; i--) {
		buf[i] = (unsigned char)(expiry & 0xff);
		expiry >>= 8;
	}
	if (val_len > 0)
		memcpy(buf + 8, val, val_len);
	lens[2] = 8 + val_len;
	lens[4] = (size_t)snprintf(ex, sizeof(ex), "%llu",
				   (unsigned long long)ttl + REDIS_EXPIRE_SLACK);
	k = cache_key(key, key_len, &lens[1]);
	argv[1] = k;
	reply = redis_exec(rs, REDIS_SCRIPT_NONE, 5, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	freeReplyObject(reply);
	return STORE_OK;
}

/* redis_cache_del - store_cache_del */
static int redis_cache_del(struct store *store, const void *key, size_t key_len,
			   const char **error_r)
{
	struct store_redis *rs = (struct store_redis *)store;
	const char *argv[2] = { "DEL" };
	size_t lens[2] = { 3 };
	redisReply *reply;
	char *k;

	k = cache_key(key, key_len, &lens[1]);
	argv[1] = k;
	reply = redis_exec(rs, REDIS_SCRIPT_NONE, 2, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	freeReplyObject(reply);
	return STORE_OK;
}

/* ---- greylisting -------------------------------------------------------- */

#define GREY_HOUR 3600			/* tally counter width (as store_lmdb.c) */
#define GREY_DAY 86400			/* the tally's window */
#define GREY_TALLY_MAX 25		/* live counters kept */
#define GREY_ARGC 17

enum grey_op { GREY_CHECK, GREY_TALLY, GREY_CLEAR };

static const char *const grey_op_names[] = { "check", "tally", "clear" };

/* prefixed_key - prefix + key into a new buffer of *len_r bytes */
static char *prefixed_key(const char *prefix, const void *key, size_t key_len, size_t *len_r)
{
	size_t plen = strlen(prefix);
	char *k = xmalloc(plen + key_len);

	memcpy(k, prefix, plen);
	memcpy(k + plen, key, key_len);
	*len_r = plen + key_len;
	return k;
}

/*
 * grey_run - run the greylisting script for op; *verdict_r and *count_r
 * (may be NULL) get its answer
 */
static int grey_run(struct store *store, enum grey_op op, const void *tuple, size_t tuple_len,
		    const void *client, size_t client_len, const struct greylist_params *params,
		    int64_t now, int *verdict_r, uint32_t *count_r, const char **error_r)
{
	static const struct greylist_params no_params = { 0, 0, 0, 0, false };
	static const int verdicts[] = { GREYLIST_PASS, GREYLIST_PASS_WHITELISTED,
					GREYLIST_DEFER_NEW, GREYLIST_DEFER_EARLY };
	struct store_redis *rs = (struct store_redis *)store;
	const char *argv[GREY_ARGC];
	size_t lens[GREY_ARGC];
	char num[10][24], *ck, *tk = NULL;
	int i, argc, nkeys = op == GREY_CHECK ? 2 : 1, ret = STORE_OK;
	redisReply *reply;

	if (params == NULL)
		params = &no_params;
	snprintf(num[0], sizeof(num[0]), "%lld", (long long)now);
	snprintf(num[1], sizeof(num[1]), "%lld", (long long)(now / GREY_HOUR));
	snprintf(num[2], sizeof(num[2]), "%u", params->min_delay);
	snprintf(num[3], sizeof(num[3]), "%u", params->retry_window);
	snprintf(num[4], sizeof(num[4]), "%u", params->lifetime);
	snprintf(num[5], sizeof(num[5]), "%u", params->whitelist_threshold);
	snprintf(num[6], sizeof(num[6]), "%d", REDIS_EXPIRE_SLACK);
	snprintf(num[7], sizeof(num[7]), "%d", GREY_HOUR);
	snprintf(num[8], sizeof(num[8]), "%d", GREY_DAY);
	snprintf(num[9], sizeof(num[9]), "%d", GREY_TALLY_MAX);

	argc = 0;
	argv[argc] = "EVALSHA";
	lens[argc++] = 7;
	argv[argc] = "";	/* the SHA1, filled in by redis_exec */
	lens[argc++] = 0;
	argv[argc] = nkeys == 2 ? "2" : "1";
	lens[argc++] = 1;
	ck = prefixed_key(REDIS_GREY_TALLY_PREFIX, client, client_len, &lens[argc]);
	argv[argc++] = ck;
	if (nkeys == 2) {
		tk = prefixed_key(REDIS_GREY_TUPLE_PREFIX, tuple, tuple_len, &lens[argc]);
		argv[argc++] = tk;
	}
	argv[argc] = grey_op_names[op];
	lens[argc] = strlen(argv[argc]);
	argc++;
	for (i = 0; i < 10; i++) {
		argv[argc] = num[i];
		lens[argc++] = strlen(num[i]);
	}
	argv[argc] = params->uncounted ? "1" : "0";	/* ARGV[12] */
	lens[argc++] = 1;

	reply = redis_exec(rs, REDIS_SCRIPT_GREYLIST, argc, argv, lens, error_r);
	XFREE(ck);
	XFREE(tk);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[0]->integer < 0 ||
	    reply->element[0]->integer > 3 || reply->element[1]->integer < 0) {
		*error_r = redis_error("redis: greylist %s: malformed script reply",
				       grey_op_names[op]);
		ret = STORE_ERROR;
	} else {
		if (verdict_r != NULL)
			*verdict_r = verdicts[reply->element[0]->integer];
		if (count_r != NULL)
			*count_r = sat32(reply->element[1]->integer);
	}
	freeReplyObject(reply);
	return ret;
}

/* redis_greylist_check - store_greylist_check */
static int redis_greylist_check(struct store *store, const void *tuple, size_t tuple_len,
				const void *client, size_t client_len,
				const struct greylist_params *params, int64_t now, int *verdict_r,
				const char **error_r)
{
	return grey_run(store, GREY_CHECK, tuple, tuple_len, client, client_len, params, now,
			verdict_r, NULL, error_r);
}

/* redis_greylist_tally - store_greylist_tally */
static int redis_greylist_tally(struct store *store, const void *client, size_t client_len,
				int64_t now, uint32_t *count_r, const char **error_r)
{
	*count_r = 0;
	return grey_run(store, GREY_TALLY, NULL, 0, client, client_len, NULL, now, NULL, count_r,
			error_r);
}

/* redis_greylist_tally_clear - store_greylist_tally_clear */
static int redis_greylist_tally_clear(struct store *store, const void *client,
				      size_t client_len, const char **error_r)
{
	return grey_run(store, GREY_CLEAR, NULL, 0, client, client_len, NULL, 0, NULL, NULL,
			error_r);
}

/* redis_close - free the pool and the settings */
static void redis_close(struct store *store)
{
	struct store_redis *rs = (struct store_redis *)store;
	int i;

	if (rs == NULL)
		return;
	pool_retire(rs);
	pthread_mutex_destroy(&rs->lock);
	XFREE(rs->host);
	XFREE(rs->socket);
	if (rs->password != NULL) {
		/* Do not leave the secret in freed memory. */
		memset(rs->password, 0, strlen(rs->password));
		XFREE(rs->password);
	}
	for (i = 0; i < rs->n_sentinels; i++)
		XFREE(rs->sentinels[i].host);
	XFREE(rs->dataset);
	free(rs);
}

static const struct store_ops redis_ops = {
	.name = "redis",
	.quota_reserve = redis_quota_reserve,
	.quota_commit = redis_quota_commit,
	.quota_release = redis_quota_release,
	.quota_usage = redis_quota_usage,
	.quota_reset = redis_quota_reset,
	.cache_get = redis_cache_get,
	.cache_set = redis_cache_set,
	.cache_del = redis_cache_del,
	.greylist_check = redis_greylist_check,
	.greylist_tally = redis_greylist_tally,
	.greylist_tally_clear = redis_greylist_tally_clear,
	.close = redis_close,
};

/* parse_endpoint - "host:port" or "[v6]:port" into ep; -1 when malformed */
static int parse_endpoint(const char *s, struct redis_endpoint *ep)
{
	const char *colon, *hstart = s, *hend;
	char *end;
	long port;

	if (s[0] == '[') {
		hstart = s + 1;
		hend = strchr(hstart, ']');
		if (hend == NULL || hend[1] != ':')
			return -1;
		colon = hend + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || strchr(s, ':') != colon)
			return -1;
		hend = colon;
	}
	if (hend == hstart)
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port <= 0 || port > 65535)
		return -1;
	ep->host = xstrndup(hstart, (size_t)(hend - hstart));
	ep->port = (int)port;
	return 0;
}

/* nonempty_dup - a copy of s, or NULL when s is NULL or "" */
static char *nonempty_dup(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

int store_redis_open(const struct config *config, struct store **store_r, const char **error_r)
{
	struct store_redis *rs;
	struct redis_call call;
	struct redis_conn *conn;
	char sha[41];
	int i, r;

	rs = xcalloc(1, sizeof(*rs));
	rs->store.ops = &redis_ops;
	pthread_mutex_init(&rs->lock, NULL);
	rs->pool_size = config->redis_pool_size > 0 ? config->redis_pool_size
						    : STORE_REDIS_POOL_DEFAULT;
	rs->host = xstrdup(config->redis_server != NULL && config->redis_server[0] != '\0'
				   ? config->redis_server
				   : "127.0.0.1");
	rs->port = config->redis_port > 0 ? config->redis_port : 6379;
	rs->socket = nonempty_dup(config->redis_socket);
	rs->password = nonempty_dup(config->redis_password);
	rs->db = config->redis_db;
	rs->connect_timeout_ms = config->redis_connect_timeout_ms > 0
					 ? config->redis_connect_timeout_ms
					 : REDIS_TIMEOUT_DEFAULT_MS;
	rs->command_timeout_ms = config->redis_command_timeout_ms > 0
					 ? config->redis_command_timeout_ms
					 : REDIS_TIMEOUT_DEFAULT_MS;
	for (i = 0; i < config->n_redis_sentinel_servers && i < CONFIG_LIST_MAX; i++) {
		if (parse_endpoint(config->redis_sentinel_servers[i],
				   &rs->sentinels[rs->n_sentinels]) < 0) {
			*error_r = redis_error("redis: sentinel server '%s' is not host:port",
					       config->redis_sentinel_servers[i]);
			redis_close(&rs->store);
			return -1;
		}
		rs->n_sentinels++;
	}
	rs->dataset = nonempty_dup(config->redis_sentinel_dataset);
	if (rs->n_sentinels > 0 && rs->dataset == NULL) {
		*error_r = "redis: sentinel_servers is set but sentinel_dataset is empty";
		redis_close(&rs->store);
		return -1;
	}
	if (rs->db < 0) {
		*error_r = redis_error("redis: db %d is negative", rs->db);
		redis_close(&rs->store);
		return -1;
	}

	/* Connect once now, so that a wrong address, password or db shows at start-up. */
	call_init(&call, rs);
	conn = conn_open(rs, &call, 0, error_r);
	if (conn == NULL) {
		redis_close(&rs->store);
		return -1;
	}
	for (r = 0, i = 0; i < REDIS_SCRIPTS && r == 0; i++)
		r = script_load(rs, conn, &call, (enum redis_script)i, sha, error_r);
	if (r < 0) {
		conn_free(&conn);
		redis_close(&rs->store);
		return -1;
	}
	pool_give(rs, &conn);
	*store_r = &rs->store;
	return 0;
}
