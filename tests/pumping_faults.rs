//! The pumping guard's state unreachable while the verifications are not: on Redis
//! Cluster the guard's keys (hash tag `{pg:<tenant>}`) sit on one node and a number's
//! record on another, so the node of the guard's slot can die alone. A start then goes
//! ahead uncounted (`fail_open = true`) or answers 503 with `Retry-After`
//! (`fail_open = false`), each counted in `otpgw_pumping_unavailable_total`; never a hang.

mod support;

use otpgw::config::Secret;
use std::time::Duration;
use support::app::{base_config, number, spawn_with, Resp, TestApp};
use support::redis::RedisCluster;
use support::Backend;

/// The hash slot of a hash tag.
fn slot(cluster: &RedisCluster, tag: &str) -> u16 {
    let s = cluster.nodes[0].cli(&["CLUSTER", "KEYSLOT", &format!("{{{tag}}}")]);
    s.trim().parse().expect("a slot number")
}

/// The node (index in `cluster.nodes`) that serves `slot`.
fn owner(cluster: &RedisCluster, slot: u16) -> usize {
    cluster
        .nodes
        .iter()
        .position(|n| {
            let nodes = n.cli(&["CLUSTER", "NODES"]);
            let me = nodes.lines().find(|l| l.contains("myself")).unwrap_or("");
            me.split_whitespace().skip(8).any(|range| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if (lo..=hi).contains(&slot))
            })
        })
        .expect("every slot is served")
}

/// A gateway on the cluster whose demo tenant is called `tenant`, the guard enforcing,
/// every number's record in shard 0, short deadlines.
async fn gateway(cluster: &RedisCluster, tenant: &str, fail_open: bool) -> TestApp {
    otpgw::providers::webhook::install_tls_provider();
    let (mut cfg, prefix) = base_config(Backend::Memory);
    cfg.store.kind = otpgw::config::StoreKind::Redis;
    cfg.store.redis.cluster_nodes = cluster.urls().into_iter().map(Secret).collect();
    cfg.store.redis.shards = 1;
    cfg.store.redis.command_timeout_ms = 300;
    cfg.store.redis.connect_timeout_ms = 300;
    let mut t = cfg.tenants.remove("demo").expect("the demo tenant");
    t.pumping.mode = otpgw::config::PumpingMode::Enforce;
    t.pumping.fail_open = fail_open;
    cfg.tenants.insert(tenant.to_string(), t);
    spawn_with(cfg, prefix, Backend::Cluster).await
}

async fn start(app: &TestApp) -> Resp {
    tokio::time::timeout(Duration::from_secs(10), app.start(&number()))
        .await
        .expect("a start answers within 10 s")
}

async fn unavailable(app: &TestApp, tenant: &str, outcome: &str) -> Option<f64> {
    let text = app.send(app.http.get(app.url("/metrics"))).await.text;
    let series =
        format!("otpgw_pumping_unavailable_total{{outcome=\"{outcome}\",tenant=\"{tenant}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guards_node_down_fails_open_or_closed_as_configured() {
    let cluster = RedisCluster::start();
    // The survivors keep serving their own slots once the dead node is marked failed.
    for n in &cluster.nodes {
        n.cli(&["CONFIG", "SET", "cluster-require-full-coverage", "no"]);
    }
    let records = owner(&cluster, slot(&cluster, "s0000"));
    let tenant = (0..)
        .map(|i| format!("guarded{i}"))
        .find(|t| owner(&cluster, slot(&cluster, &format!("pg:{t}"))) != records)
        .unwrap();
    let guard_node = owner(&cluster, slot(&cluster, &format!("pg:{tenant}")));

    let open = gateway(&cluster, &tenant, true).await;
    let closed = gateway(&cluster, &tenant, false).await;
    for app in [&open, &closed] {
        let r = start(app).await;
        assert_eq!(r.status, 201, "all nodes up: {}", r.text);
    }
    let guard_keys = cluster.nodes[guard_node].cli(&["KEYS", &format!("*{{pg:{tenant}}}*")]);
    assert!(!guard_keys.is_empty(), "the guard counted on its node");

    cluster.nodes[guard_node].kill();

    for i in 0..3 {
        let r = start(&open).await;
        assert_eq!(r.status, 201, "fail open, start {i}: {}", r.text);
    }
    assert_eq!(unavailable(&open, &tenant, "fail_open").await, Some(3.0));
    assert_eq!(unavailable(&open, &tenant, "fail_closed").await, None);

    for i in 0..3 {
        let r = start(&closed).await;
        assert_eq!(
            (r.status, r.code()),
            (503, "store_unavailable"),
            "fail closed, start {i}: {}",
            r.text
        );
        assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    }
    assert_eq!(
        unavailable(&closed, &tenant, "fail_closed").await,
        Some(3.0)
    );
    assert_eq!(unavailable(&closed, &tenant, "fail_open").await, None);
}
