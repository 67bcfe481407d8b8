//! What is at rest in Redis: every key under a prefix with its value (strings, hashes,
//! streams, sorted sets) and its absolute expiry, read from every node given.

/// One key as stored.
#[derive(Debug)]
pub struct Stored {
    /// Key name.
    pub key: String,
    /// The value's bytes (hash fields, stream entries, sorted-set members and scores joined
    /// with NUL).
    pub value: Vec<u8>,
    /// Absolute expiry in Unix ms (`PEXPIRETIME`); negative when none.
    pub expires_at: i64,
}

/// Every key of `prefix` on every node of `urls`.
pub fn scan_all(urls: &[String], prefix: &str) -> Vec<Stored> {
    let mut out = Vec::new();
    for url in urls {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut con = client.get_connection().unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query(&mut con)
            .unwrap();
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con).unwrap();
            let mut value = Vec::new();
            let mut join = |parts: Vec<Vec<u8>>| {
                for p in parts {
                    value.extend(p);
                    value.push(0);
                }
            };
            match kind.as_str() {
                "string" => join(vec![redis::cmd("GET").arg(&key).query(&mut con).unwrap()]),
                "hash" => join(redis::cmd("HGETALL").arg(&key).query(&mut con).unwrap()),
                "stream" => {
                    let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
                        .arg(&key)
                        .arg("-")
                        .arg("+")
                        .query(&mut con)
                        .unwrap();
                    for (_, fields) in entries {
                        join(fields);
                    }
                }
                "zset" => join(
                    redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query(&mut con)
                        .unwrap(),
                ),
                "none" => continue,
                other => panic!("unexpected key type {other} for {key}"),
            }
            let expires_at: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(&mut con).unwrap();
            out.push(Stored {
                key,
                value,
                expires_at,
            });
        }
    }
    out
}
