//! Which node runs each live call, and actions carried to it (see [`crate::call::remote`]).
//! Redis keeps the owner of every live call (`{prefix}:calls`, call id → node) and, for each
//! node, the calls it runs (`{prefix}:calls:{node}`), so that the node which buries a dead
//! one can close its calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::wire::Body;
use super::Cluster;
use crate::call::remote::{RemoteAnswer, RemoteCmd};
use crate::call::CallError;
use crate::store::calls::Call;
use crate::store::StoreError;

/// Actions sent to other nodes' calls, waiting for their answers, by request number.
#[derive(Default)]
pub(super) struct Asked {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<RemoteAnswer>>>,
}

impl Asked {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<RemoteAnswer>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Cluster {
    fn calls_key(&self) -> String {
        self.key("calls")
    }

    fn node_calls_key(&self, node: &str) -> String {
        self.key(&format!("calls:{node}"))
    }

    /// Records that this node runs call `call_id`.
    pub async fn own_call(&self, call_id: i64) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .hset(self.calls_key(), call_id, &self.node)
            .ignore()
            .sadd(self.node_calls_key(&self.node), call_id)
            .ignore()
            .query_async(&mut conn)
            .await
    }

    /// Forgets call `call_id`, which this node ran: it is over.
    pub async fn call_over(&self, call_id: i64) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .hdel(self.calls_key(), call_id)
            .ignore()
            .srem(self.node_calls_key(&self.node), call_id)
            .ignore()
            .query_async(&mut conn)
            .await
    }

    /// The live node that runs call `call_id`, if another one does.
    pub async fn call_owner(&self, call_id: i64) -> redis::RedisResult<Option<String>> {
        let mut conn = self.conn.clone();
        let owner: Option<String> = redis::cmd("HGET")
            .arg(self.calls_key())
            .arg(call_id)
            .query_async(&mut conn)
            .await?;
        Ok(owner.filter(|n| *n != self.node && self.nodes().iter().any(|live| live == n)))
    }

    /// Takes the calls dead `node` ran out of the records; answers them (each to one caller
    /// only), to be closed.
    pub async fn bury_calls(&self, node: &str) -> redis::RedisResult<Vec<i64>> {
        let script = redis::Script::new(
            r"
            local calls = redis.call('SMEMBERS', KEYS[1])
            for _, call in ipairs(calls) do
              if redis.call('HGET', KEYS[2], call) == ARGV[1] then
                redis.call('HDEL', KEYS[2], call)
              end
            end
            redis.call('DEL', KEYS[1])
            return calls
            ",
        );
        let mut conn = self.conn.clone();
        script
            .key(self.node_calls_key(node))
            .key(self.calls_key())
            .arg(node)
            .invoke_async(&mut conn)
            .await
    }

    /// Runs `cmd` on call `call_id` on `node`, which runs it, and answers its answer (the
    /// database's "unavailable" when none comes within the forward timeout).
    pub async fn ask_call(
        &self,
        node: &str,
        call_id: i64,
        cmd: RemoteCmd,
    ) -> Result<Call, CallError> {
        let request = self.asked.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.asked.waiting().insert(request, tx);
        self.send_to(
            node,
            Body::CallCmd {
                call_id,
                request: Some(request),
                cmd,
            },
        );
        let answer = tokio::time::timeout(self.forward_timeout, rx).await;
        self.asked.waiting().remove(&request);
        match answer {
            Ok(Ok(answer)) => answer.map_err(CallError::from),
            _ => Err(CallError::Store(StoreError::Unavailable(format!(
                "node {node} did not answer for call {call_id}"
            )))),
        }
    }

    /// Tells `node`, which runs call `call_id`, about a socket (`Gone`, `Back`): no answer.
    pub fn tell_call(&self, node: &str, call_id: i64, cmd: RemoteCmd) {
        let body = Body::CallCmd {
            call_id,
            request: None,
            cmd,
        };
        self.send_to(node, body);
    }

    /// Hands another node's answer to whoever waits for it here.
    pub(super) fn answered(&self, request: u64, answer: RemoteAnswer) {
        if let Some(tx) = self.asked.waiting().remove(&request) {
            let _ = tx.send(answer);
        }
    }
}
