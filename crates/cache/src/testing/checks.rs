//! The checks of the conformance suite, one function each.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Outcome, Semantics, Suite, update_checks};
use crate::api::Cache;
use crate::error::Error;
use crate::keyops::KeyOps;

/// Names of every check, in the order they run.
pub const CHECKS: &[&str] = &[
    "get_missing_is_not_found",
    "set_then_get",
    "overwrite_replaces_value",
    "delete_removes",
    "delete_missing_is_ok",
    "exists_reports_presence",
    "ttl_expires",
    "ttl_reports_remaining",
    "set_clears_ttl",
    "zero_ttl_never_expires",
    "binary_safe_keys_and_values",
    "large_values",
    "concurrent_use",
    "get_multi_returns_found_only",
    "set_multi_stores_all",
    "set_multi_with_ttl_expires",
    "dropped_future_leaves_cache_consistent",
    "deadline_passes_cleanly",
    "close_is_idempotent_and_final",
    "stats_count_hits_and_misses",
    "ping_when_open",
    "expire_and_persist",
    "scan_lists_prefix",
    "invalidate_prefix_removes_only_prefix",
    "get_or_load_runs_one_loader_for_concurrent_misses",
    "get_or_load_hands_over_when_the_leader_is_cancelled",
    "try_get_or_load_caches_no_error",
    "read_modify_writes_answer_as_redis",
    "concurrent_read_modify_writes_lose_no_update",
    "concurrent_renames_neither_copy_nor_lose",
    "concurrent_msetnx_has_one_winner",
    "concurrent_getex_loses_no_update",
    "concurrent_copies_have_one_winner",
    "concurrent_renamenx_has_one_winner",
    "concurrent_expire_nx_has_one_winner",
];

pub(crate) struct Ctx<'a> {
    pub(super) suite: &'a Suite,
    pub(super) ns: Vec<u8>,
}

impl Ctx<'_> {
    pub(super) fn key(&self, name: impl AsRef<[u8]>) -> Vec<u8> {
        let mut k = self.ns.clone();
        k.extend_from_slice(name.as_ref());
        k
    }

    pub(super) fn stores(&self) -> bool {
        self.suite.semantics == Semantics::Stores
    }
}

pub(super) enum Fail {
    Failed(String),
    NotApplicable(&'static str),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Failed(format!("unexpected error: {e}"))
    }
}

pub(super) type Check = Result<(), Fail>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(Fail::Failed(format!($($fmt)+)));
        }
    };
}

pub(super) async fn run<C: KeyOps + 'static>(name: &str, cache: &Arc<C>, x: &Ctx<'_>) -> Outcome {
    let c = cache.as_ref();
    let result = match name {
        "get_missing_is_not_found" => get_missing_is_not_found(c, x).await,
        "set_then_get" => set_then_get(c, x).await,
        "overwrite_replaces_value" => overwrite_replaces_value(c, x).await,
        "delete_removes" => delete_removes(c, x).await,
        "delete_missing_is_ok" => delete_missing_is_ok(c, x).await,
        "exists_reports_presence" => exists_reports_presence(c, x).await,
        "ttl_expires" => ttl_expires(c, x).await,
        "ttl_reports_remaining" => ttl_reports_remaining(c, x).await,
        "set_clears_ttl" => set_clears_ttl(c, x).await,
        "zero_ttl_never_expires" => zero_ttl_never_expires(c, x).await,
        "binary_safe_keys_and_values" => binary_safe_keys_and_values(c, x).await,
        "large_values" => large_values(c, x).await,
        "concurrent_use" => concurrent_use(cache, x).await,
        "get_multi_returns_found_only" => get_multi_returns_found_only(c, x).await,
        "set_multi_stores_all" => set_multi_stores_all(c, x).await,
        "set_multi_with_ttl_expires" => set_multi_with_ttl_expires(c, x).await,
        "dropped_future_leaves_cache_consistent" => dropped_future(c, x).await,
        "deadline_passes_cleanly" => deadline_passes_cleanly(c, x).await,
        "close_is_idempotent_and_final" => close_is_idempotent_and_final(c, x).await,
        "stats_count_hits_and_misses" => stats_count_hits_and_misses(c, x).await,
        "ping_when_open" => ping_when_open(c, x).await,
        "expire_and_persist" => expire_and_persist(c, x).await,
        "scan_lists_prefix" => scan_lists_prefix(c, x).await,
        "invalidate_prefix_removes_only_prefix" => invalidate_prefix(c, x).await,
        "get_or_load_runs_one_loader_for_concurrent_misses" => get_or_load_once(cache, x).await,
        "get_or_load_hands_over_when_the_leader_is_cancelled" => {
            get_or_load_hand_over(cache, x).await
        }
        "try_get_or_load_caches_no_error" => try_get_or_load_no_error(c, x).await,
        "read_modify_writes_answer_as_redis" => update_checks::semantics(c, x).await,
        "concurrent_read_modify_writes_lose_no_update" => {
            update_checks::concurrent_updates(cache, x).await
        }
        "concurrent_renames_neither_copy_nor_lose" => {
            update_checks::concurrent_renames(cache, x).await
        }
        "concurrent_msetnx_has_one_winner" => update_checks::concurrent_msetnx(cache, x).await,
        "concurrent_getex_loses_no_update" => update_checks::concurrent_getex(cache, x).await,
        "concurrent_copies_have_one_winner" => {
            update_checks::one_key_many_sources(cache, x, update_checks::IntoOneKey::Copy).await
        }
        "concurrent_expire_nx_has_one_winner" => {
            update_checks::concurrent_expire_nx(cache, x).await
        }
        "concurrent_renamenx_has_one_winner" => {
            let op = update_checks::IntoOneKey::RenameIfAbsent;
            update_checks::one_key_many_sources(cache, x, op).await
        }
        other => Err(Fail::Failed(format!("unknown check {other}"))),
    };
    match result {
        Ok(()) => Outcome::Passed,
        Err(Fail::Failed(msg)) => Outcome::Failed(msg),
        Err(Fail::NotApplicable(why)) => Outcome::NotApplicable(why),
    }
}

/// Reads `key` and checks it against what the semantics say it must hold.
async fn expect_value<C: Cache>(c: &C, x: &Ctx<'_>, key: &[u8], want: &[u8]) -> Check {
    match (c.get(key).await, x.stores()) {
        (Ok(got), true) => {
            ensure!(
                got.as_ref() == want,
                "get({}) returned {} bytes {}, want {} bytes {}",
                show(key),
                got.len(),
                show(&got),
                want.len(),
                show(want)
            );
            Ok(())
        }
        (Err(Error::NotFound), false) => Ok(()),
        (Err(Error::NotFound), true) => Err(Fail::Failed(format!(
            "get({}) missed right after it was set",
            show(key)
        ))),
        (Ok(got), false) => Err(Fail::Failed(format!(
            "a discarding backend returned {} for {}",
            show(&got),
            show(key)
        ))),
        (Err(e), _) => Err(e.into()),
    }
}

async fn expect_missing<C: Cache>(c: &C, key: &[u8], when: &str) -> Check {
    match c.get(key).await {
        Err(Error::NotFound) => Ok(()),
        Ok(v) => Err(Fail::Failed(format!(
            "get({}) returned {} {when}; want NotFound",
            show(key),
            show(&v)
        ))),
        Err(e) => Err(Fail::Failed(format!(
            "get({}) returned {e} {when}; want NotFound",
            show(key)
        ))),
    }
}

fn show(bytes: &[u8]) -> String {
    if bytes.len() > 48 {
        format!(
            "{:?}...({} bytes)",
            Bytes::copy_from_slice(&bytes[..48]),
            bytes.len()
        )
    } else {
        format!("{:?}", Bytes::copy_from_slice(bytes))
    }
}

async fn get_missing_is_not_found<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    expect_missing(c, &x.key("never-set"), "for a key never set").await?;
    ensure!(
        !c.exists(&x.key("never-set")).await?,
        "exists() is true for a key never set"
    );
    match c.ttl(&x.key("never-set")).await {
        Err(Error::NotFound) => Ok(()),
        other => Err(Fail::Failed(format!(
            "ttl() of a key never set returned {other:?}; want NotFound"
        ))),
    }
}

async fn set_then_get<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let key = x.key("k");
    c.set(&key, b"value-1").await?;
    expect_value(c, x, &key, b"value-1").await
}

async fn overwrite_replaces_value<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let key = x.key("k");
    c.set(&key, b"first").await?;
    c.set(&key, b"second, and longer than the first").await?;
    expect_value(c, x, &key, b"second, and longer than the first").await?;
    c.set(&key, b"3").await?;
    expect_value(c, x, &key, b"3").await
}

async fn delete_removes<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let key = x.key("k");
    let other = x.key("other");
    c.set(&key, b"v").await?;
    c.set(&other, b"w").await?;
    c.delete(&key).await?;
    expect_missing(c, &key, "after delete").await?;
    ensure!(!c.exists(&key).await?, "exists() is true after delete");
    expect_value(c, x, &other, b"w").await
}

async fn delete_missing_is_ok<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    c.delete(&x.key("never-set")).await?;
    c.delete(&x.key("never-set")).await?;
    Ok(())
}

async fn exists_reports_presence<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let key = x.key("k");
    ensure!(!c.exists(&key).await?, "exists() true before set");
    c.set(&key, b"").await?;
    let present = c.exists(&key).await?;
    ensure!(
        present == x.stores(),
        "exists() is {present} after setting an empty value"
    );
    Ok(())
}

/// Waits until `deadline` has passed on the wall clock.
async fn sleep_past(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        tokio::time::sleep(deadline - now).await;
    }
}

async fn ttl_expires<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let ttl = x.suite.ttl;
    let key = x.key("short");
    let keep = x.key("long");
    c.set_with_ttl(&keep, b"stays", ttl * 100).await?;
    let start = Instant::now();
    c.set_with_ttl(&key, b"goes", ttl).await?;
    if start.elapsed() < ttl / 2 {
        expect_value(c, x, &key, b"goes").await?;
    }
    sleep_past(start + ttl + ttl / 2).await;
    expect_missing(c, &key, "after its TTL passed").await?;
    ensure!(
        !c.exists(&key).await?,
        "exists() is true after the TTL passed"
    );
    expect_value(c, x, &keep, b"stays").await
}

async fn ttl_reports_remaining<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let key = x.key("k");
    let ttl = Duration::from_secs(100);
    c.set_with_ttl(&key, b"v", ttl).await?;
    match (c.ttl(&key).await, x.stores()) {
        (Ok(Some(left)), true) => {
            ensure!(
                left <= ttl && left > ttl - Duration::from_secs(10),
                "ttl() returned {left:?} for a key set with {ttl:?}"
            );
        }
        (Err(Error::NotFound), false) => {}
        (other, _) => {
            return Err(Fail::Failed(format!(
                "ttl() of a key set with {ttl:?} returned {other:?}"
            )));
        }
    }
    let plain = x.key("plain");
    c.set(&plain, b"v").await?;
    match (c.ttl(&plain).await, x.stores()) {
        (Ok(None), true) | (Err(Error::NotFound), false) => Ok(()),
        (other, _) => Err(Fail::Failed(format!(
            "ttl() of a key set without TTL returned {other:?}; want None"
        ))),
    }
}

async fn set_clears_ttl<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let ttl = x.suite.ttl;
    let key = x.key("k");
    let start = Instant::now();
    c.set_with_ttl(&key, b"old", ttl).await?;
    c.set(&key, b"new").await?;
    sleep_past(start + ttl + ttl / 2).await;
    expect_value(c, x, &key, b"new").await
}

async fn zero_ttl_never_expires<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let ttl = x.suite.ttl;
    let key = x.key("k");
    let start = Instant::now();
    c.set_with_ttl(&key, b"v", Duration::ZERO).await?;
    sleep_past(start + ttl).await;
    expect_value(c, x, &key, b"v").await?;
    if x.stores() {
        let left = c.ttl(&key).await?;
        ensure!(
            left.is_none(),
            "ttl() of a key set with TTL 0 is {left:?}; want None"
        );
    }
    Ok(())
}

async fn binary_safe_keys_and_values<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let cases: [(Vec<u8>, Vec<u8>); 5] = [
        (Vec::new(), b"value of the empty key".to_vec()),
        (x.key(b"nul\0in\0key"), b"nul\0in\0value".to_vec()),
        (x.key([0xff, 0xfe, 0x80]), vec![0xc3, 0x28, 0xa0, 0xa1]),
        (x.key("empty-value"), Vec::new()),
        (x.key("\r\n$5\r\n*1\r\n"), b"\r\n-ERR\r\n".to_vec()),
    ];
    for (key, value) in &cases {
        c.set(key, value).await?;
    }
    for (key, value) in &cases {
        expect_value(c, x, key, value).await?;
    }
    c.delete(&[]).await?;
    expect_missing(c, &[], "after deleting the empty key").await
}

async fn large_values<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    for size in [64 << 10, x.suite.large_value] {
        let key = x.key(format!("big-{size}"));
        let value: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        c.set(&key, &value).await?;
        expect_value(c, x, &key, &value).await?;
        c.delete(&key).await?;
    }
    Ok(())
}

async fn concurrent_use<C: Cache + 'static>(c: &Arc<C>, x: &Ctx<'_>) -> Check {
    const ITEMS: u32 = 20;
    let tasks = x.suite.tasks;
    let shared = x.key("shared");
    let stores = x.stores();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let c = Arc::clone(c);
            let shared = shared.clone();
            let keys: Vec<Vec<u8>> = (0..ITEMS).map(|i| x.key(format!("t{t}-{i}"))).collect();
            tokio::spawn(async move {
                for (i, key) in keys.iter().enumerate() {
                    let value = format!("task {t} item {i}");
                    c.set(key, value.as_bytes()).await?;
                    match c.get(key).await {
                        Ok(v) if stores && v.as_ref() != value.as_bytes() => {
                            return Err(Fail::Failed(format!(
                                "task {t} read {} for its own key, want {value}",
                                show(&v)
                            )));
                        }
                        Ok(_) | Err(Error::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                    c.set(&shared, format!("{t}").as_bytes()).await?;
                    if i % 3 == 0 {
                        c.delete(key).await?;
                    }
                    tokio::task::yield_now().await;
                }
                Ok::<(), Fail>(())
            })
        })
        .collect();
    for h in handles {
        match h.await {
            Ok(r) => r?,
            Err(e) => return Err(Fail::Failed(format!("a task panicked: {e}"))),
        }
    }
    if stores {
        let last = c.get(&shared).await?;
        let valid = std::str::from_utf8(&last)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .is_some_and(|t| t < tasks);
        ensure!(
            valid,
            "shared key holds {} which no task wrote",
            show(&last)
        );
    }
    for t in 0..tasks {
        for i in 0..ITEMS {
            let key = x.key(format!("t{t}-{i}"));
            if i % 3 == 0 {
                expect_missing(c.as_ref(), &key, "after the task deleted it").await?;
            } else {
                expect_value(c.as_ref(), x, &key, format!("task {t} item {i}").as_bytes()).await?;
            }
        }
    }
    Ok(())
}

async fn get_multi_returns_found_only<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let (a, b, missing) = (x.key("a"), x.key("b"), x.key("missing"));
    c.set(&a, b"1").await?;
    c.set(&b, b"2").await?;
    let found = c.get_multi(&[&a, &b, &missing, &a]).await?;
    let mut want = HashMap::new();
    if x.stores() {
        want.insert(Bytes::from(a.clone()), Bytes::from_static(b"1"));
        want.insert(Bytes::from(b.clone()), Bytes::from_static(b"2"));
    }
    ensure!(found == want, "get_multi returned {found:?}, want {want:?}");
    let none = c.get_multi(&[]).await?;
    ensure!(none.is_empty(), "get_multi of no keys returned {none:?}");
    Ok(())
}

async fn set_multi_stores_all<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let keys: Vec<Vec<u8>> = (0..10).map(|i| x.key(format!("m{i}"))).collect();
    let values: Vec<Vec<u8>> = (0..10).map(|i| format!("value {i}").into_bytes()).collect();
    let items: Vec<(&[u8], &[u8])> = keys
        .iter()
        .zip(&values)
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    c.set_multi(&items).await?;
    for (k, v) in &items {
        expect_value(c, x, k, v).await?;
        if x.stores() {
            let left = c.ttl(k).await?;
            ensure!(left.is_none(), "set_multi gave {} a TTL {left:?}", show(k));
        }
    }
    c.set_multi(&[]).await?;
    Ok(())
}

async fn set_multi_with_ttl_expires<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let ttl = x.suite.ttl;
    let (a, b) = (x.key("a"), x.key("b"));
    let start = Instant::now();
    c.set_multi_with_ttl(&[(&a, b"1"), (&b, b"2")], ttl).await?;
    if start.elapsed() < ttl / 2 {
        expect_value(c, x, &a, b"1").await?;
        expect_value(c, x, &b, b"2").await?;
    }
    sleep_past(start + ttl + ttl / 2).await;
    expect_missing(c, &a, "after the set_multi_with_ttl TTL passed").await?;
    expect_missing(c, &b, "after the set_multi_with_ttl TTL passed").await
}

/// Polls `fut` once and drops it: what a caller's cancellation does at the worst moment.
fn poll_once_and_drop<F: Future>(fut: F) -> bool {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    matches!(fut.as_mut().poll(&mut cx), Poll::Ready(_))
}

async fn dropped_future<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let key = x.key("k");
    let value = vec![7u8; 256 << 10];
    c.set(&key, b"before").await?;
    for _ in 0..20 {
        poll_once_and_drop(c.set(&key, &value));
        poll_once_and_drop(c.get(&key));
        poll_once_and_drop(c.delete(&x.key("other")));
        tokio::task::yield_now().await;
    }
    // The cancelled writes either happened whole or not at all.
    match c.get(&key).await {
        Ok(v) if x.stores() => ensure!(
            v.as_ref() == b"before" || v.as_ref() == value.as_slice(),
            "after cancelled writes the key holds {} bytes that were never written",
            v.len()
        ),
        Ok(v) => {
            return Err(Fail::Failed(format!(
                "discarding backend returned {}",
                show(&v)
            )));
        }
        Err(Error::NotFound) if !x.stores() => {}
        Err(e) => return Err(e.into()),
    }
    // And the cache still serves.
    let fresh = x.key("fresh");
    c.set(&fresh, b"after").await?;
    expect_value(c, x, &fresh, b"after").await
}

/// Runs `fut` under a deadline that passes as soon as it would have to wait: it is polled once and dropped
/// if not ready. Returns `None` when the deadline passed.
async fn with_expired_deadline<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

async fn deadline_passes_cleanly<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let key = x.key("k");
    let other = x.key("other");
    c.set(&key, b"v").await?;
    for _ in 0..10 {
        with_expired_deadline(c.set(&other, b"x")).await;
        with_expired_deadline(c.get(&key)).await;
        with_expired_deadline(c.exists(&key)).await;
        with_expired_deadline(c.get_multi(&[&key, &other])).await;
        with_expired_deadline(c.set_multi(&[(&other, b"y")])).await;
        // Timer-based deadlines too; whether they fire first depends on the backend's speed.
        let _ = tokio::time::timeout(Duration::from_micros(1), c.set(&other, b"z")).await;
    }
    match tokio::time::timeout(Duration::from_secs(10), c.set(&key, b"w")).await {
        Ok(r) => r?,
        Err(_) => return Err(Fail::Failed("a set with a 10 s deadline timed out".into())),
    }
    expect_value(c, x, &key, b"w").await
}

async fn close_is_idempotent_and_final<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    let key = x.key("k");
    c.set(&key, b"v").await?;
    c.close().await?;
    c.close().await?;
    let closed = |what: &str, r: Result<(), Error>| match r {
        Err(Error::Closed) => Ok(()),
        other => Err(Fail::Failed(format!(
            "{what} after close returned {other:?}; want Closed"
        ))),
    };
    closed("get", c.get(&key).await.map(drop))?;
    closed("set", c.set(&key, b"v").await)?;
    closed(
        "set_with_ttl",
        c.set_with_ttl(&key, b"v", Duration::from_secs(1)).await,
    )?;
    closed("delete", c.delete(&key).await)?;
    closed("exists", c.exists(&key).await.map(drop))?;
    closed("ttl", c.ttl(&key).await.map(drop))?;
    closed("ping", c.ping().await)?;
    closed("get_multi", c.get_multi(&[&key]).await.map(drop))?;
    closed("set_multi", c.set_multi(&[(&key, b"v")]).await)?;
    Ok(())
}

async fn stats_count_hits_and_misses<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    if !c.capabilities().stats {
        return match c.stats().await {
            Err(Error::Unsupported { .. }) => Err(Fail::NotApplicable("backend has no stats")),
            other => Err(Fail::Failed(format!(
                "capabilities say no stats but stats() returned {other:?}"
            ))),
        };
    }
    let before = c.stats().await?;
    let key = x.key("k");
    c.set(&key, b"v").await?;
    let _ = c.get(&key).await;
    let _ = c.get(&key).await;
    let _ = c.get(&x.key("missing")).await;
    let after = c.stats().await?;
    if x.stores() {
        ensure!(
            after.hits >= before.hits + 2,
            "hits went from {} to {} after two hits",
            before.hits,
            after.hits
        );
        ensure!(
            after.misses > before.misses,
            "misses went from {} to {} after a miss",
            before.misses,
            after.misses
        );
        let mut after = after;
        if c.capabilities().cluster_info {
            // A cluster node counts the keys it holds, a share of the cluster's: write keys until one
            // lands here (a node owning any partition gets one of 64 keys but with odds below 1e-11).
            for i in 0..64 {
                if after.key_count >= 1 {
                    break;
                }
                c.set(&x.key(format!("spread:{i}")), b"v").await?;
                after = c.stats().await?;
            }
        }
        ensure!(after.key_count >= 1, "key_count is 0 with a key present");
        ensure!(
            after.bytes_used >= 2,
            "bytes_used is {} with a key present",
            after.bytes_used
        );
    } else {
        ensure!(
            after == crate::api::Stats::default(),
            "a discarding backend reported non-zero stats {after:?}"
        );
    }
    Ok(())
}

async fn ping_when_open<C: Cache>(c: &C, _x: &Ctx<'_>) -> Check {
    c.ping().await?;
    Ok(())
}

async fn expire_and_persist<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    if !c.capabilities().expire {
        return Err(Fail::NotApplicable("backend has no expire"));
    }
    let ttl = x.suite.ttl;
    let (a, b) = (x.key("a"), x.key("b"));
    ensure!(
        !c.expire(&x.key("missing"), Some(ttl)).await?,
        "expire() of a missing key returned true"
    );
    c.set(&a, b"1").await?;
    c.set(&b, b"2").await?;
    let start = Instant::now();
    let set_a = c.expire(&a, Some(ttl)).await?;
    let set_b = c.expire(&b, Some(ttl)).await?;
    ensure!(
        set_a == x.stores() && set_b == x.stores(),
        "expire() of a present key returned false"
    );
    let persisted = c.expire(&b, None).await?;
    ensure!(
        persisted == x.stores(),
        "persisting a key with a TTL returned false"
    );
    sleep_past(start + ttl + ttl / 2).await;
    expect_missing(c, &a, "after expire()'s TTL passed").await?;
    expect_value(c, x, &b, b"2").await
}

async fn scan_lists_prefix<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    if !c.capabilities().scan {
        return Err(Fail::NotApplicable("backend has no scan"));
    }
    let prefix = x.key("p:");
    let mut want: Vec<Vec<u8>> = (0..25).map(|i| x.key(format!("p:{i}"))).collect();
    for k in &want {
        c.set(k, b"v").await?;
    }
    c.set(&x.key("q:0"), b"v").await?;
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = 0;
    for _ in 0..10_000 {
        let page = c.scan(cursor, &prefix, 7).await?;
        for k in page.keys {
            ensure!(
                k.starts_with(&prefix),
                "scan returned {} outside the prefix",
                show(&k)
            );
            seen.insert(k.to_vec());
        }
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    ensure!(cursor == 0, "scan did not finish in 10000 pages");
    if !x.stores() {
        want.clear();
    }
    let want: std::collections::BTreeSet<Vec<u8>> = want.into_iter().collect();
    ensure!(
        seen == want,
        "scan found {} keys, want {}",
        seen.len(),
        want.len()
    );
    Ok(())
}

async fn invalidate_prefix<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    if !c.capabilities().invalidate_prefix {
        return Err(Fail::NotApplicable("backend has no invalidate_prefix"));
    }
    let keys: Vec<Vec<u8>> = (0..10).map(|i| x.key(format!("gone:{i}"))).collect();
    for k in &keys {
        c.set(k, b"v").await?;
    }
    let keep = x.key("kept:0");
    c.set(&keep, b"v").await?;
    let removed = c.invalidate_prefix(&x.key("gone:")).await?;
    let want = if x.stores() { 10 } else { 0 };
    ensure!(
        removed == want,
        "invalidate_prefix removed {removed}, want {want}"
    );
    for k in &keys {
        expect_missing(c, k, "after invalidate_prefix").await?;
    }
    expect_value(c, x, &keep, b"v").await
}

/// Waits, bounded by 10 s, until `ready` holds; `what` describes the state when it does not.
async fn wait_until(mut ready: impl FnMut() -> bool, what: impl Fn() -> String) -> Check {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        ensure!(Instant::now() < deadline, "after 10 s: {}", what());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn get_or_load_once<C: Cache + 'static>(c: &Arc<C>, x: &Ctx<'_>) -> Check {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    const CALLERS: usize = 8;
    let key = x.key("loaded");
    let runs = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (c, key, runs) = (Arc::clone(c), key.clone(), Arc::clone(&runs));
            let mut released = released.clone();
            tokio::spawn(async move {
                let load = || async move {
                    runs.fetch_add(1, SeqCst);
                    let _ = released.wait_for(|r| *r).await;
                    Bytes::from_static(b"loaded once")
                };
                c.get_or_load(&key, Duration::ZERO, load).await
            })
        })
        .collect();
    // The loader holds its flight open until every other caller waits on it. The leader reads the
    // key once more after it joined, so the waiters may all be there before its loader starts.
    wait_until(
        || {
            let ran = runs.load(SeqCst);
            ran > 1 || (ran == 1 && c.flights().waiters(&key) == CALLERS - 1)
        },
        || {
            format!(
                "{} loader runs and {} waiters, want 1 and {}",
                runs.load(SeqCst),
                c.flights().waiters(&key),
                CALLERS - 1
            )
        },
    )
    .await?;
    ensure!(
        runs.load(SeqCst) == 1,
        "{} loaders ran for concurrent misses of one key",
        runs.load(SeqCst)
    );
    release.send_replace(true);
    for caller in callers {
        match caller.await {
            Ok(Ok(v)) => ensure!(v == "loaded once", "a caller got {}", show(&v)),
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => return Err(Fail::Failed(format!("a caller panicked: {e}"))),
        }
    }
    ensure!(runs.load(SeqCst) == 1, "{} loader runs", runs.load(SeqCst));
    ensure!(c.flights().in_flight() == 0, "a flight was left behind");
    expect_value(c.as_ref(), x, &key, b"loaded once").await
}

async fn get_or_load_hand_over<C: Cache + 'static>(c: &Arc<C>, x: &Ctx<'_>) -> Check {
    let key = x.key("handed-over");
    let (started, mut leading) = tokio::sync::mpsc::channel::<()>(1);
    let leader = {
        let (c, key) = (Arc::clone(c), key.clone());
        tokio::spawn(async move {
            let load = || async move {
                let _ = started.send(()).await;
                std::future::pending::<Bytes>().await
            };
            c.get_or_load(&key, Duration::ZERO, load).await
        })
    };
    let started = tokio::time::timeout(Duration::from_secs(10), leading.recv()).await;
    ensure!(
        matches!(started, Ok(Some(()))),
        "the leader's loader did not start"
    );
    let waiter = {
        let (c, key) = (Arc::clone(c), key.clone());
        tokio::spawn(async move {
            let load = || async { Bytes::from_static(b"second") };
            c.get_or_load(&key, Duration::ZERO, load).await
        })
    };
    wait_until(
        || waiter.is_finished() || c.flights().waiters(&key) == 1,
        || format!("{} waiters, want 1", c.flights().waiters(&key)),
    )
    .await?;
    ensure!(
        !waiter.is_finished(),
        "a second caller did not wait for the load in flight"
    );
    leader.abort();
    match tokio::time::timeout(Duration::from_secs(10), waiter).await {
        Ok(Ok(Ok(v))) => ensure!(v == "second", "the waiter got {}", show(&v)),
        Ok(Ok(Err(e))) => return Err(e.into()),
        Ok(Err(e)) => return Err(Fail::Failed(format!("the waiter panicked: {e}"))),
        Err(_) => {
            return Err(Fail::Failed(
                "the waiter was stranded when the leader was cancelled".to_owned(),
            ));
        }
    }
    ensure!(c.flights().in_flight() == 0, "a flight was left behind");
    expect_value(c.as_ref(), x, &key, b"second").await
}

async fn try_get_or_load_no_error<C: Cache>(c: &C, x: &Ctx<'_>) -> Check {
    use crate::load::LoadError;
    let key = x.key("fallible");
    let failed = c
        .try_get_or_load(&key, Duration::ZERO, || async {
            Err::<Bytes, _>("db down")
        })
        .await;
    ensure!(
        matches!(failed, Err(LoadError::Load("db down"))),
        "a failing loader gave {failed:?}"
    );
    expect_missing(c, &key, "after a failed load").await?;
    let ttl = x.suite.ttl * 100;
    let loaded = c
        .try_get_or_load(&key, ttl, || async {
            Ok::<_, &str>(Bytes::from_static(b"up"))
        })
        .await;
    ensure!(
        matches!(&loaded, Ok(v) if v == "up"),
        "the next load gave {loaded:?}"
    );
    expect_value(c, x, &key, b"up").await?;
    if x.stores() {
        let left = c.ttl(&key).await?;
        ensure!(
            left.is_some_and(|t| t <= ttl),
            "the loaded value's TTL is {left:?}, want at most {ttl:?}"
        );
    }
    c.close().await?;
    let closed = c
        .try_get_or_load(&key, ttl, || async {
            Err::<Bytes, _>("loader ran after close")
        })
        .await;
    ensure!(
        matches!(closed, Err(LoadError::Cache(Error::Closed))),
        "after close: {closed:?}"
    );
    Ok(())
}
