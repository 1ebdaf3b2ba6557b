//! Leases against a real Redis (`COURIER_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`),
//! under a key prefix of the test's own. Without a Redis the tests say they did not run.

use std::time::Duration;

use super::{Cluster, ClusterConfig};

async fn node(prefix: &str, id: &str) -> Option<std::sync::Arc<Cluster>> {
    let url =
        std::env::var("COURIER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let joined = Cluster::join(ClusterConfig {
        redis_url: url,
        node_id: id.into(),
        key_prefix: prefix.into(),
        node_ttl: Duration::from_secs(3),
        forward_timeout: Duration::from_secs(1),
    })
    .await;
    match joined {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("no Redis ({e}); not run");
            None
        }
    }
}

#[tokio::test]
async fn a_periodic_job_runs_on_one_node_and_moves_when_its_lease_runs_out() {
    let prefix = format!("test-{:016x}", rand::random::<u64>());
    let (Some(a), Some(b)) = (node(&prefix, "a").await, node(&prefix, "b").await) else {
        return;
    };
    let period = Duration::from_millis(300);
    assert!(a.holds_job("purge", period).await);
    assert!(!b.holds_job("purge", period).await);
    // The holder renews it; the other still does not get it.
    assert!(a.holds_job("purge", period).await);
    assert!(!b.holds_job("purge", period).await);
    // Another job is a lease of its own.
    assert!(b.holds_job("sweep", period).await);
    // `a` stops renewing (as if it died): `b` takes the job within a period.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !b.holds_job("purge", period).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lease never moved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!a.holds_job("purge", period).await);
    // Both leases are in the live view.
    a.renew_lease().await.unwrap();
    assert_eq!(&*a.nodes(), &["a".to_string(), "b".to_string()]);
    a.leave().await;
    b.renew_lease().await.unwrap();
    assert_eq!(&*b.nodes(), &["b".to_string()]);
}
