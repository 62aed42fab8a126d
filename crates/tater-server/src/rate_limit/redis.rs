//! GCRA buckets in Redis, shared by every replica. The script runs atomically in Redis and
//! reads Redis's own clock, so replicas with skewed clocks still agree.

use redis::Script;
use redis::aio::ConnectionManager;

use super::gcra::{Outcome, WINDOW_US};

/// The same math as `gcra::decide`. Returns {allowed, remaining, reset_us, retry_after_us}.
const GCRA_LUA: &str = r#"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = math.floor(window / limit)
local tau = t * (limit - 1)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tau then
  return {0, 0, tat - now, tat - tau - now}
end
local new_tat = tat + t
local backlog = new_tat - now
redis.call('SET', KEYS[1], new_tat, 'PX', math.floor(backlog / 1000) + 1000)
local remaining = math.floor((limit * t - backlog) / t)
if remaining < 0 then remaining = 0 end
return {1, remaining, backlog, 0}
"#;

pub struct RedisBuckets {
    conn: ConnectionManager,
    script: Script,
    prefix: String,
}

impl RedisBuckets {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("invalid TATER_REDIS_URL: {e}"))?;
        let mut conn = ConnectionManager::new(client)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach Redis for rate limits: {e}"))?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(Self {
            conn,
            script: Script::new(GCRA_LUA),
            prefix: prefix.to_owned(),
        })
    }

    pub async fn decide(&self, key: &str, limit: u32) -> redis::RedisResult<Outcome> {
        let mut conn = self.conn.clone();
        let (allowed, remaining, reset_us, retry_after_us): (i64, i64, i64, i64) = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(limit)
            .arg(WINDOW_US)
            .invoke_async(&mut conn)
            .await?;
        Ok(Outcome {
            allowed: allowed == 1,
            remaining: remaining.clamp(0, i64::from(u32::MAX)) as u32,
            reset_us,
            retry_after_us,
            tat: 0,
        })
    }
}
