//! Clients that drive the nodes over RESP (the `redis` crate, async) and record every operation.
//!
//! A [`Client`] talks to one node with a per-operation timeout; every `SET` writes a value unique in
//! the run. A [`Workload`] runs several clients in loops (bounded by a stop signal and a deadline)
//! that mix `SET`s and `GET`s over their key sets. Everything ends up in the [`Recorder`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use tokio::task::JoinHandle;

use crate::history::{ErrorClass, History, Kind, Op, Outcome};

/// The operations of a run, with the run's time origin.
#[derive(Clone)]
pub struct Recorder {
    t0: Instant,
    ops: Arc<Mutex<Vec<Op>>>,
    next_client: Arc<AtomicU64>,
}

impl Recorder {
    /// An empty record starting now.
    #[must_use]
    pub fn new() -> Recorder {
        Recorder {
            t0: Instant::now(),
            ops: Arc::new(Mutex::new(Vec::new())),
            next_client: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Time since the run started.
    #[must_use]
    pub fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    /// The run's time origin.
    #[must_use]
    pub fn origin(&self) -> Instant {
        self.t0
    }

    fn push(&self, op: Op) {
        if let Ok(mut ops) = self.ops.lock() {
            ops.push(op);
        }
    }

    /// A copy of everything recorded so far, indexed.
    #[must_use]
    pub fn history(&self) -> History {
        let ops = self.ops.lock().map(|o| o.clone()).unwrap_or_default();
        History::new(ops)
    }

    fn client_id(&self) -> u32 {
        u32::try_from(self.next_client.fetch_add(1, Ordering::Relaxed)).unwrap_or(u32::MAX)
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

/// One client connection to one node.
pub struct Client {
    /// Its id in the history.
    pub id: u32,
    /// The node it talks to.
    pub node: usize,
    addr: SocketAddr,
    timeout: Duration,
    conn: Option<MultiplexedConnection>,
    seq: u64,
    recorder: Recorder,
}

impl Client {
    /// A client of node `node` at `addr`; connects on first use.
    #[must_use]
    pub fn new(recorder: &Recorder, node: usize, addr: SocketAddr, timeout: Duration) -> Client {
        Client {
            id: recorder.client_id(),
            node,
            addr,
            timeout,
            conn: None,
            seq: 0,
            recorder: recorder.clone(),
        }
    }

    /// Connects now (so that a later operation does not pay for it).
    pub async fn connect(&mut self) -> bool {
        if self.conn.is_some() {
            return true;
        }
        let Ok(client) = redis::Client::open(format!("redis://{}/", self.addr)) else {
            return false;
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(None);
        match tokio::time::timeout(
            self.timeout,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await
        {
            Ok(Ok(conn)) => {
                self.conn = Some(conn);
                true
            }
            _ => false,
        }
    }

    /// The class and text of a failed call: the server's error reply, or an I/O failure (after which
    /// the connection is dropped, so the next call connects again).
    fn failed(&mut self, e: &redis::RedisError) -> (ErrorClass, String) {
        match e.code() {
            Some(code) => {
                let text = format!("{code} {}", e.detail().unwrap_or_default());
                (ErrorClass::of_resp(&text), text)
            }
            None => {
                self.conn = None;
                (ErrorClass::ClientIo, e.to_string())
            }
        }
    }

    /// The open connection, connecting first when there is none.
    async fn connection(&mut self) -> Result<&mut MultiplexedConnection, (ErrorClass, String)> {
        if !self.connect().await {
            return Err((
                ErrorClass::ClientConnect,
                format!("cannot connect to {}", self.addr),
            ));
        }
        self.conn
            .as_mut()
            .ok_or_else(|| (ErrorClass::ClientConnect, "no connection".to_owned()))
    }

    async fn call(&mut self, cmd: redis::Cmd) -> Result<Value, (ErrorClass, String)> {
        let timeout = self.timeout;
        let attempt = async {
            let conn = self.connection().await?;
            match cmd.query_async::<Value>(conn).await {
                Ok(Value::ServerError(e)) => {
                    let text = format!("{} {}", e.code(), e.details().unwrap_or_default());
                    Err((ErrorClass::of_resp(&text), text))
                }
                Ok(v) => Ok(v),
                Err(e) => Err(self.failed(&e)),
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) => {
                // A late answer must not be taken for the next command's: start afresh.
                self.conn = None;
                Err((
                    ErrorClass::ClientTimeout,
                    format!("no answer within {timeout:?}"),
                ))
            }
        }
    }

    /// The next value this client writes: unique in the run.
    pub fn next_value(&mut self) -> String {
        self.seq += 1;
        format!("v{}.{}", self.id, self.seq)
    }

    /// `SET key <unique value>`, recorded; returns the value and the outcome.
    pub async fn set(&mut self, key: &str) -> (String, Outcome) {
        let value = self.next_value();
        let outcome = self.set_value(key, &value).await;
        (value, outcome)
    }

    /// `SET key value`, recorded (`value` must be unique in the run: see [`Client::next_value`]).
    pub async fn set_value(&mut self, key: &str, value: &str) -> Outcome {
        let start = self.recorder.now();
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        let outcome = match self.call(cmd).await {
            Ok(Value::Okay) => Outcome::Ok,
            Ok(Value::SimpleString(s)) if s == "OK" => Outcome::Ok,
            Ok(other) => Outcome::Failed(ErrorClass::Unexpected, format!("{other:?}")),
            Err((class, text)) => Outcome::Failed(class, text),
        };
        self.record(
            Kind::Set,
            key,
            Some(value.to_owned()),
            start,
            outcome.clone(),
        );
        outcome
    }

    /// `GET key`, recorded.
    pub async fn get(&mut self, key: &str) -> Outcome {
        let start = self.recorder.now();
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        let outcome = match self.call(cmd).await {
            Ok(Value::Nil) => Outcome::Miss,
            Ok(Value::BulkString(b)) => Outcome::Value(String::from_utf8_lossy(&b).into_owned()),
            Ok(other) => Outcome::Failed(ErrorClass::Unexpected, format!("{other:?}")),
            Err((class, text)) => Outcome::Failed(class, text),
        };
        self.record(Kind::Get, key, None, start, outcome.clone());
        outcome
    }

    /// One `GET` per key, sent together as a pipeline (one write), each recorded with the pipeline's
    /// start and end.
    pub async fn pipelined_gets(&mut self, keys: &[String]) -> Vec<Outcome> {
        let start = self.recorder.now();
        let mut pipe = redis::pipe();
        for k in keys {
            pipe.cmd("GET").arg(k);
        }
        let timeout = self.timeout;
        let attempt = async {
            let conn = self.connection().await?;
            match pipe.query_async::<Vec<Value>>(conn).await {
                Ok(values) => Ok(values),
                Err(e) => Err(self.failed(&e)),
            }
        };
        let answers = match tokio::time::timeout(timeout, attempt).await {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err((
                    ErrorClass::ClientTimeout,
                    format!("no answer within {timeout:?}"),
                ))
            }
        };
        let outcomes: Vec<Outcome> = match answers {
            Ok(values) if values.len() == keys.len() => {
                values.into_iter().map(value_outcome).collect()
            }
            Ok(values) => keys
                .iter()
                .map(|_| {
                    Outcome::Failed(ErrorClass::Unexpected, format!("{} answers", values.len()))
                })
                .collect(),
            Err((class, text)) => keys
                .iter()
                .map(|_| Outcome::Failed(class, text.clone()))
                .collect(),
        };
        for (k, o) in keys.iter().zip(&outcomes) {
            self.record(Kind::Get, k, None, start, o.clone());
        }
        outcomes
    }

    /// `MGET keys...` (in one call), recorded as one `GET` per key with the call's start and end.
    pub async fn mget(&mut self, keys: &[String]) -> Vec<Outcome> {
        let start = self.recorder.now();
        let mut cmd = redis::cmd("MGET");
        for k in keys {
            cmd.arg(k);
        }
        let outcomes: Vec<Outcome> = match self.call(cmd).await {
            Ok(Value::Array(items)) if items.len() == keys.len() => items
                .into_iter()
                .map(|v| match v {
                    Value::Nil => Outcome::Miss,
                    Value::BulkString(b) => {
                        Outcome::Value(String::from_utf8_lossy(&b).into_owned())
                    }
                    other => Outcome::Failed(ErrorClass::Unexpected, format!("{other:?}")),
                })
                .collect(),
            Ok(other) => keys
                .iter()
                .map(|_| Outcome::Failed(ErrorClass::Unexpected, format!("{other:?}")))
                .collect(),
            Err((class, text)) => keys
                .iter()
                .map(|_| Outcome::Failed(class, text.clone()))
                .collect(),
        };
        for (k, o) in keys.iter().zip(&outcomes) {
            self.record(Kind::Get, k, None, start, o.clone());
        }
        outcomes
    }

    fn record(
        &self,
        kind: Kind,
        key: &str,
        value: Option<String>,
        start: Duration,
        outcome: Outcome,
    ) {
        self.recorder.push(Op {
            client: self.id,
            node: self.node,
            kind,
            key: key.to_owned(),
            value,
            start,
            end: self.recorder.now(),
            outcome,
        });
    }
}

/// The outcome of one `GET` answer inside an array or pipeline.
fn value_outcome(v: Value) -> Outcome {
    match v {
        Value::Nil => Outcome::Miss,
        Value::BulkString(b) => Outcome::Value(String::from_utf8_lossy(&b).into_owned()),
        Value::ServerError(e) => {
            let text = format!("{} {}", e.code(), e.details().unwrap_or_default());
            Outcome::Failed(ErrorClass::of_resp(&text), text)
        }
        other => Outcome::Failed(ErrorClass::Unexpected, format!("{other:?}")),
    }
}

/// What one looping client does.
#[derive(Clone)]
pub struct Spec {
    /// Node index.
    pub node: usize,
    /// Its RESP address.
    pub addr: SocketAddr,
    /// The keys it picks from (uniformly).
    pub keys: Arc<Vec<String>>,
    /// Share of `SET`s (the rest are `GET`s).
    pub write_ratio: f64,
    /// Pause after each operation.
    pub pace: Duration,
    /// Per-operation timeout.
    pub timeout: Duration,
}

/// Looping clients; [`Workload::stop`] ends them.
pub struct Workload {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl Workload {
    /// Starts one looping client per spec; each stops at [`Workload::stop`] or after `limit`.
    #[must_use]
    pub fn start(recorder: &Recorder, specs: Vec<Spec>, limit: Duration, seed: u64) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let stop = Arc::clone(&stop);
                let mut client = Client::new(recorder, spec.node, spec.addr, spec.timeout);
                let mut rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
                tokio::spawn(async move {
                    let deadline = Instant::now() + limit;
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        if spec.keys.is_empty() {
                            break;
                        }
                        let key = &spec.keys[rng.random_range(0..spec.keys.len())];
                        let outcome = if rng.random_bool(spec.write_ratio.clamp(0.0, 1.0)) {
                            client.set(key).await.1
                        } else {
                            client.get(key).await
                        };
                        let pause = match outcome {
                            Outcome::Failed(..) => spec.pace.max(Duration::from_millis(20)),
                            _ => spec.pace,
                        };
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        Workload { stop, handles }
    }

    /// Stops every client and waits for them (each ends within its timeout).
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.handles {
            let _ = h.await;
        }
    }
}

/// Keys `prefix0 .. prefix{n-1}`.
#[must_use]
pub fn keys(prefix: &str, n: usize) -> Arc<Vec<String>> {
    Arc::new((0..n).map(|i| format!("{prefix}{i}")).collect())
}
