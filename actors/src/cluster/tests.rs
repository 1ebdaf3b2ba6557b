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

#[tokio::test]
async fn a_shared_window_counts_both_nodes_and_reopens_with_time() {
    let prefix = format!("test-{:016x}", rand::random::<u64>());
    let (Some(a), Some(b)) = (node(&prefix, "a").await, node(&prefix, "b").await) else {
        return;
    };
    let minute = chrono::TimeDelta::minutes(1);
    let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0)
        .unwrap()
        .naive_utc();
    let at = |secs: i64| t0 + chrono::TimeDelta::seconds(secs);
    assert_eq!(
        a.take_window("k", 2, 3, minute, at(0)).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        b.take_window("k", 1, 3, minute, at(10)).await.unwrap(),
        Ok(())
    );
    // Full on both nodes: one more waits for the first two to expire, two more too.
    assert_eq!(
        b.take_window("k", 1, 3, minute, at(20)).await.unwrap(),
        Err(40)
    );
    assert_eq!(
        a.take_window("k", 2, 3, minute, at(20)).await.unwrap(),
        Err(40)
    );
    assert_eq!(
        a.take_window("k", 3, 3, minute, at(20)).await.unwrap(),
        Err(50)
    );
    assert_eq!(
        a.take_window("k", 4, 3, minute, at(20)).await.unwrap(),
        Err(60),
        "never fits"
    );
    assert_eq!(
        a.take_window("other", 1, 3, minute, at(20)).await.unwrap(),
        Ok(())
    );
    // Given back on one node, taken on the other.
    b.give_back("k", 1).await.unwrap();
    assert_eq!(
        a.take_window("k", 1, 3, minute, at(21)).await.unwrap(),
        Ok(())
    );
    // The first two stop counting a minute on.
    assert_eq!(
        b.take_window("k", 2, 3, minute, at(60)).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        b.take_window("k", 1, 3, minute, at(61)).await.unwrap(),
        Err(20)
    );
}

#[tokio::test]
async fn a_users_sockets_count_on_every_live_node_and_a_dead_nodes_stop_counting() {
    let prefix = format!("test-{:016x}", rand::random::<u64>());
    let (Some(a), Some(b)) = (node(&prefix, "a").await, node(&prefix, "b").await) else {
        return;
    };
    // At most 3 for user 7: two on `a`, one on `b`, then no more on either.
    assert!(a.take_socket(7, 1, 3).await.unwrap());
    assert!(a.take_socket(7, 2, 3).await.unwrap());
    assert!(b.take_socket(7, 1, 3).await.unwrap());
    assert!(!b.take_socket(7, 2, 3).await.unwrap());
    assert!(!a.take_socket(7, 3, 3).await.unwrap());
    assert!(b.take_socket(8, 1, 3).await.unwrap(), "another user");
    // One closes on `a`: `b` takes its place.
    a.record_sockets(&[(7, 1)], false).await.unwrap();
    assert!(b.take_socket(7, 2, 3).await.unwrap());
    assert!(!a.take_socket(7, 2, 3).await.unwrap());
    // `a` records all its counts again (as after an outage): what it no longer holds goes.
    a.record_sockets(&[(9, 1)], true).await.unwrap();
    assert!(b.take_socket(7, 3, 3).await.unwrap());
    a.record_sockets(&[(7, 2)], true).await.unwrap();
    assert!(!b.take_socket(7, 2, 3).await.unwrap());

    // `a` stops renewing its lease (as if it died): once it has run out, its sockets stop
    // counting, before anyone buries it.
    let mut conn = a.conn.clone();
    let _: () = redis::cmd("ZADD")
        .arg(a.key("nodes"))
        .arg(0)
        .arg("a")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(b.take_socket(7, 3, 3).await.unwrap());
    // The node that finds it dead buries it, and its counts with it.
    assert_eq!(b.renew_lease().await.unwrap(), vec!["a".to_string()]);
    b.forget_sockets("a").await.unwrap();
    let left: i64 = redis::cmd("EXISTS")
        .arg(a.socket_counts_key("a"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
    // `a` comes back and records its counts again: they count once more.
    a.renew_lease().await.unwrap();
    a.record_sockets(&[(7, 1)], true).await.unwrap();
    assert!(!b.take_socket(7, 3, 3).await.unwrap());
    assert!(b.take_socket(7, 2, 3).await.unwrap());
}

#[tokio::test]
async fn a_channel_member_is_added_and_removed_once_whatever_the_nodes() {
    let prefix = format!("test-{:016x}", rand::random::<u64>());
    let (Some(a), Some(b)) = (node(&prefix, "a").await, node(&prefix, "b").await) else {
        return;
    };
    let ch = "presence-chat.1";
    // User 7 first on `a`: new everywhere; then on `b` too: not new.
    assert!(a.member_joined(ch, 7, r#"{"name":"Ana"}"#).await.unwrap());
    assert!(!b.member_joined(ch, 7, r#"{"name":"Ana"}"#).await.unwrap());
    // Writing again what a node holds is harmless, and announces nothing.
    assert!(!a.member_joined(ch, 7, r#"{"name":"Ana"}"#).await.unwrap());
    assert!(b.member_joined(ch, 9, r#"{"name":"Bo"}"#).await.unwrap());
    let mut seen = a.members_elsewhere(ch).await.unwrap();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (7, r#"{"name":"Ana"}"#.into()),
            (9, r#"{"name":"Bo"}"#.into())
        ]
    );
    // 7 leaves `a`: still on `b`; then leaves `b`: gone everywhere, once.
    assert!(!a.member_left(ch, 7).await.unwrap());
    assert!(b.member_left(ch, 7).await.unwrap());
    assert!(!b.member_left(ch, 7).await.unwrap());

    // Recorded again (Redis lost them, say), `a`'s members replace what it held.
    a.record_members_again(&[(ch.into(), vec![(5, "{}".into()), (9, "{}".into())])])
        .await
        .unwrap();
    assert_eq!(b.members_elsewhere(ch).await.unwrap().len(), 2);
    // `a` dies: burying it removes 5 (nowhere else) and not 9 (still on `b`).
    let mut conn = a.conn.clone();
    let _: () = redis::cmd("ZREM")
        .arg(a.key("nodes"))
        .arg("a")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(b.members_elsewhere(ch).await.unwrap(), vec![]);
    assert_eq!(
        b.bury_members("a").await.unwrap(),
        vec![(ch.to_string(), 5)]
    );
    assert_eq!(b.bury_members("a").await.unwrap(), vec![]);
}
