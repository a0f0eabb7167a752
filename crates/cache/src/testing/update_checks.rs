//! The conformance checks of [`KeyOps`]: Redis's answers for each operation, and several tasks
//! hammering the same keys with read-modify-writes, `GETEX`, renames, `RENAMENX`, `COPY` and
//! `MSETNX`, asserting that no update is lost and that a conditional operation has one winner.

use std::sync::Arc;
use std::time::Duration;

use super::checks::{Check, Ctx, Fail};
use crate::error::Error;
use crate::keyops::{ExpireCondition, ExpiryUpdate, KeyOps, SetCondition, SetOptions};

/// Tasks and operations per task of the hammering checks.
const TASKS: usize = 4;
const ROUNDS: usize = 25;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(Fail::Failed(format!($($fmt)+)));
        }
    };
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Each operation's answer and effect on a storing backend (or, on a discarding one, the answers
/// about a key that is never there).
pub(super) async fn semantics<C: KeyOps>(c: &C, x: &Ctx<'_>) -> Check {
    let k = x.key("k");
    if !x.stores() {
        ensure!(c.append(&k, b"ab").await? == 2, "append on nothing");
        ensure!(c.increment(&k, 5).await? == 5, "increment on nothing");
        ensure!(matches!(c.take(&k).await, Err(Error::NotFound)), "take");
        return Ok(());
    }
    // APPEND, SETRANGE, SETBIT, INCRBYFLOAT and INCRBY keep the value's expiry.
    c.set_with_ttl(&k, b"ab", Duration::from_secs(100)).await?;
    ensure!(
        c.append(&k, b"cd").await? == 4,
        "append returns the new length"
    );
    ensure!(
        c.set_range(&k, 6, b"x").await? == 7,
        "setrange returns the new length"
    );
    ensure!(c.get(&k).await? == b"abcd\0\0x"[..], "setrange zero-pads");
    ensure!(
        c.set_range(&k, 1, b"").await? == 7,
        "an empty setrange changes nothing"
    );
    // 'a' is 0x61 = 0110_0001: bit 7 is set, bit 6 is not.
    ensure!(
        c.set_bit(&k, 7, true).await?,
        "setbit returns the previous bit (1)"
    );
    ensure!(
        !c.set_bit(&k, 6, true).await?,
        "setbit returns the previous bit (0)"
    );
    ensure!(c.get(&k).await?[0] == 0x63, "setbit sets the bit (0x63)");
    ensure!(c.ttl(&k).await?.is_some(), "the expiry is kept");
    let n = x.key("n");
    c.set_with_ttl(&n, b"10.50", Duration::from_secs(100))
        .await?;
    let f = c.increment_float(&n, b"0.1").await?;
    ensure!(f == b"10.6"[..], "incrbyfloat 10.50 + 0.1 = {}", text(&f));
    ensure!(
        c.get(&n).await? == b"10.6"[..],
        "incrbyfloat stores its result"
    );
    ensure!(c.ttl(&n).await?.is_some(), "incrbyfloat keeps the expiry");
    ensure!(
        matches!(c.increment(&n, 1).await, Err(Error::InvalidArgument(_))),
        "incrby refuses a float"
    );
    let bad = c.increment_float(&k, b"1").await;
    ensure!(
        matches!(&bad, Err(Error::InvalidArgument(m)) if m == "value is not a valid float"),
        "incrbyfloat on text: {bad:?}"
    );
    // GETEX
    let g = x.key("g");
    c.set(&g, b"v").await?;
    ensure!(
        c.get_and_expire(&g, ExpiryUpdate::After(Duration::from_secs(50)))
            .await?
            == b"v"[..],
        "getex"
    );
    ensure!(c.ttl(&g).await?.is_some(), "getex EX sets an expiry");
    c.get_and_expire(&g, ExpiryUpdate::Persist).await?;
    ensure!(c.ttl(&g).await?.is_none(), "getex PERSIST removes it");
    ensure!(
        c.get_and_expire(&g, ExpiryUpdate::After(Duration::ZERO))
            .await?
            == b"v"[..],
        "getex in the past"
    );
    ensure!(
        !c.exists(&g).await?,
        "getex with a deadline passed deletes the key"
    );
    ensure!(
        matches!(
            c.get_and_expire(&g, ExpiryUpdate::Keep).await,
            Err(Error::NotFound)
        ),
        "getex on nothing"
    );
    // RENAME, RENAMENX, COPY
    // Keys of one multi-key operation share a `{tag}`, as a Redis Cluster needs.
    let (a, b) = (x.key("{t}a"), x.key("{t}b"));
    ensure!(
        matches!(c.rename(&a, &b, false).await, Err(Error::NotFound)),
        "rename of nothing"
    );
    c.set_with_ttl(&a, b"1", Duration::from_secs(100)).await?;
    ensure!(c.rename(&a, &b, false).await?, "rename");
    ensure!(
        !c.exists(&a).await? && c.get(&b).await? == b"1"[..],
        "rename moves the value"
    );
    ensure!(c.ttl(&b).await?.is_some(), "rename moves the expiry");
    c.set(&a, b"2").await?;
    ensure!(
        !c.rename(&a, &b, true).await?,
        "renamenx onto a present key"
    );
    ensure!(
        c.get(&a).await? == b"2"[..],
        "renamenx declined moves nothing"
    );
    ensure!(
        !c.copy(&a, &b, false).await?,
        "copy onto a present key without replace"
    );
    ensure!(c.copy(&a, &b, true).await?, "copy with replace");
    ensure!(
        c.get(&b).await? == b"2"[..] && c.get(&a).await? == b"2"[..],
        "copy keeps the source"
    );
    ensure!(
        c.ttl(&b).await?.is_none(),
        "copy takes the source's (absent) expiry"
    );
    // MSETNX, SET NX, GETDEL
    let (m1, m2) = (x.key("{t}m1"), x.key("{t}m2"));
    ensure!(
        c.set_multi_if_absent(&[(&m1, b"x"), (&m2, b"y")]).await?,
        "msetnx on new keys"
    );
    ensure!(
        !c.set_multi_if_absent(&[(&m2, b"z"), (&x.key("{t}m3"), b"z")])
            .await?,
        "msetnx with one present"
    );
    ensure!(
        !c.exists(&x.key("{t}m3")).await?,
        "a declined msetnx writes nothing"
    );
    let nx = SetOptions::new()
        .condition(SetCondition::IfAbsent)
        .return_previous(true);
    let out = c.set_with_options(&m1, b"w", nx).await?;
    ensure!(
        !out.written && out.previous.as_deref() == Some(&b"x"[..]),
        "set nx get: {out:?}"
    );
    ensure!(
        c.take(&m1).await? == b"x"[..] && !c.exists(&m1).await?,
        "take"
    );
    expire_conditions(c, x).await
}

/// `expire_if` under each condition, as `EXPIRE` with `NX` / `XX` / `GT` / `LT` answers in Redis.
async fn expire_conditions<C: KeyOps>(c: &C, x: &Ctx<'_>) -> Check {
    use ExpireCondition::{Always, Greater, HasExpiry, Less, LessIfExpiring, NoExpiry};
    let e = x.key("expire");
    let (short, long) = (Duration::from_secs(100), Duration::from_secs(200));
    ensure!(
        !c.expire_if(&e, short, Always).await?,
        "expire of a missing key"
    );
    c.set(&e, b"v").await?;
    ensure!(
        !c.expire_if(&e, short, HasExpiry).await?,
        "XX without a TTL"
    );
    ensure!(
        !c.expire_if(&e, short, LessIfExpiring).await?,
        "XX LT without a TTL"
    );
    ensure!(
        !c.expire_if(&e, short, Greater).await?,
        "GT without a TTL (no TTL is infinite)"
    );
    ensure!(c.expire_if(&e, long, NoExpiry).await?, "NX without a TTL");
    ensure!(!c.expire_if(&e, short, NoExpiry).await?, "NX with a TTL");
    ensure!(
        !c.expire_if(&e, short, Greater).await?,
        "GT with a shorter TTL"
    );
    ensure!(c.expire_if(&e, short, Less).await?, "LT with a shorter TTL");
    let left = c.ttl(&e).await?;
    ensure!(
        left.is_some_and(|t| t <= short && t > short - Duration::from_secs(10)),
        "LT set the shorter TTL: {left:?}"
    );
    ensure!(
        !c.expire_if(&e, long, LessIfExpiring).await?,
        "XX LT with a longer TTL"
    );
    ensure!(c.expire_if(&e, long, HasExpiry).await?, "XX with a TTL");
    ensure!(
        c.get(&e).await? == b"v"[..],
        "an expiry change keeps the value"
    );
    ensure!(
        !c.expire_if(&e, Duration::ZERO, NoExpiry).await? && c.exists(&e).await?,
        "a zero TTL whose condition fails removes nothing"
    );
    ensure!(
        c.expire_if(&e, Duration::ZERO, Less).await? && !c.exists(&e).await?,
        "a zero TTL whose condition holds removes the key"
    );
    Ok(())
}

/// Read-modify-writes of the same keys from several tasks at once lose no update.
pub(super) async fn concurrent_updates<C: KeyOps + 'static>(cache: &Arc<C>, x: &Ctx<'_>) -> Check {
    if !x.stores() {
        return Err(Fail::NotApplicable("the backend stores nothing"));
    }
    let keys: Arc<[Vec<u8>; 5]> =
        Arc::new(["incr", "append", "bits", "float", "range"].map(|n| x.key(n)));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let c = Arc::clone(cache);
            let keys = Arc::clone(&keys);
            tokio::spawn(async move {
                for i in 0..ROUNDS {
                    c.increment(&keys[0], 1).await?;
                    c.append(&keys[1], &[b'a' + t as u8]).await?;
                    c.set_bit(&keys[2], (t * ROUNDS + i) as u64, true).await?;
                    c.increment_float(&keys[3], b"0.5").await?;
                    c.set_range(&keys[4], t * ROUNDS + i, b"x").await?;
                    tokio::task::yield_now().await;
                }
                Ok::<(), Error>(())
            })
        })
        .collect();
    for t in tasks {
        t.await
            .map_err(|e| Fail::Failed(format!("a task panicked: {e}")))??;
    }
    let total = TASKS * ROUNDS;
    let n = c_get(cache, &keys[0]).await?;
    ensure!(
        n == total.to_string().into_bytes(),
        "{total} increments gave {}",
        text(&n)
    );
    let appended = c_get(cache, &keys[1]).await?;
    for t in 0..TASKS {
        let mine = appended.iter().filter(|b| **b == b'a' + t as u8).count();
        ensure!(
            mine == ROUNDS,
            "task {t} appended {ROUNDS} bytes, {mine} are there"
        );
    }
    let bits = c_get(cache, &keys[2]).await?;
    let set: u32 = bits.iter().map(|b| b.count_ones()).sum();
    ensure!(set as usize == total, "{total} bits set, {set} are");
    let f = c_get(cache, &keys[3]).await?;
    let want = format!("{}", total as f64 * 0.5);
    ensure!(
        f == want.as_bytes(),
        "{total} increments of 0.5 gave {}",
        text(&f)
    );
    let range = c_get(cache, &keys[4]).await?;
    ensure!(
        range == vec![b'x'; total],
        "setrange of every offset: {}",
        text(&range)
    );
    Ok(())
}

/// The indexes of the tasks that answered true; a task that panicked or failed fails the check.
async fn winners(
    tasks: Vec<tokio::task::JoinHandle<Result<bool, Error>>>,
) -> Result<Vec<usize>, Fail> {
    let mut winners = Vec::new();
    for (t, task) in tasks.into_iter().enumerate() {
        if task
            .await
            .map_err(|e| Fail::Failed(format!("a task panicked: {e}")))??
        {
            winners.push(t);
        }
    }
    Ok(winners)
}

async fn c_get<C: KeyOps>(c: &Arc<C>, key: &[u8]) -> Result<Vec<u8>, Fail> {
    Ok(c.get(key).await?.to_vec())
}

/// Several tasks rename the same key at once, each to a key of its own: exactly one of them moves the
/// value, which is then in exactly one key (never copied, never lost).
pub(super) async fn concurrent_renames<C: KeyOps + 'static>(cache: &Arc<C>, x: &Ctx<'_>) -> Check {
    if !x.stores() {
        return Err(Fail::NotApplicable("the backend stores nothing"));
    }
    for round in 0..ROUNDS {
        // One `{tag}` per round: a Redis Cluster needs the keys of one RENAME in one slot.
        let from = x.key(format!("{{rename:{round}}}:from"));
        let targets: Arc<Vec<Vec<u8>>> = Arc::new(
            (0..TASKS)
                .map(|t| x.key(format!("{{rename:{round}}}:to:{t}")))
                .collect(),
        );
        cache.set(&from, b"token").await?;
        let from = Arc::new(from);
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let c = Arc::clone(cache);
                let (from, targets) = (Arc::clone(&from), Arc::clone(&targets));
                tokio::spawn(async move {
                    match c.rename(&from, &targets[t], false).await {
                        Ok(_) => Ok(true),
                        Err(Error::NotFound) => Ok(false),
                        Err(e) => Err(e),
                    }
                })
            })
            .collect();
        let winners = winners(tasks).await?;
        ensure!(
            winners.len() == 1,
            "round {round}: {winners:?} renamed the key, not one task"
        );
        let mut holders = Vec::new();
        for (t, k) in targets.iter().enumerate() {
            match cache.get(k).await {
                Ok(v) => {
                    ensure!(
                        v == b"token"[..],
                        "round {round}: to:{t} holds {}",
                        text(&v)
                    );
                    holders.push(t);
                }
                Err(Error::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        ensure!(
            holders == winners,
            "round {round}: the value is in {holders:?}, moved by {winners:?}"
        );
        ensure!(
            !cache.exists(&from).await?,
            "round {round}: the source is still there"
        );
    }
    Ok(())
}

/// Several tasks `MSETNX` the same keys at once: exactly one wins, and every key holds its value.
pub(super) async fn concurrent_msetnx<C: KeyOps + 'static>(cache: &Arc<C>, x: &Ctx<'_>) -> Check {
    if !x.stores() {
        return Err(Fail::NotApplicable("the backend stores nothing"));
    }
    for round in 0..ROUNDS {
        let keys: Arc<Vec<Vec<u8>>> = Arc::new(
            (0..3)
                .map(|i| x.key(format!("{{msetnx:{round}}}:{i}")))
                .collect(),
        );
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let c = Arc::clone(cache);
                let keys = Arc::clone(&keys);
                tokio::spawn(async move {
                    let id = [b'0' + t as u8];
                    let items: Vec<(&[u8], &[u8])> =
                        keys.iter().map(|k| (&k[..], &id[..])).collect();
                    c.set_multi_if_absent(&items).await
                })
            })
            .collect();
        let winners = winners(tasks).await?;
        ensure!(
            winners.len() == 1,
            "round {round}: {winners:?} won, not one task"
        );
        for k in keys.iter() {
            let v = cache.get(k).await?;
            ensure!(
                v == [b'0' + winners[0] as u8][..],
                "round {round}: a key holds {} after task {} won",
                text(&v),
                winners[0]
            );
        }
    }
    Ok(())
}

/// Tasks that `GETEX` a counter (alternately setting a TTL and persisting it) while others increment
/// it: an expiry change never writes back a value it read before, so no increment is lost, and each
/// `GETEX` answers a value the counter held.
pub(super) async fn concurrent_getex<C: KeyOps + 'static>(cache: &Arc<C>, x: &Ctx<'_>) -> Check {
    if !x.stores() {
        return Err(Fail::NotApplicable("the backend stores nothing"));
    }
    let key = Arc::new(x.key("getex"));
    cache.set(&key, b"0").await?;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let c = Arc::clone(cache);
            let key = Arc::clone(&key);
            tokio::spawn(async move {
                for i in 0..ROUNDS {
                    if t % 2 == 0 {
                        c.increment(&key, 1).await?;
                    } else {
                        let expiry = if i % 2 == 0 {
                            ExpiryUpdate::After(Duration::from_secs(60))
                        } else {
                            ExpiryUpdate::Persist
                        };
                        let seen = c.get_and_expire(&key, expiry).await?;
                        if std::str::from_utf8(&seen)
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                            .is_none()
                        {
                            return Ok(Some(text(&seen)));
                        }
                    }
                    tokio::task::yield_now().await;
                }
                Ok::<_, Error>(None)
            })
        })
        .collect();
    for t in tasks {
        let odd = t
            .await
            .map_err(|e| Fail::Failed(format!("a task panicked: {e}")))??;
        ensure!(odd.is_none(), "GETEX answered {odd:?}, not a count");
    }
    let incrementers = TASKS.div_ceil(2);
    let total = incrementers * ROUNDS;
    let n = c_get(cache, &key).await?;
    ensure!(
        n == total.to_string().into_bytes(),
        "{total} increments beside concurrent GETEX gave {}",
        text(&n)
    );
    Ok(())
}

/// Which conditional two-key operation [`one_key_many_sources`] races.
#[derive(Clone, Copy)]
pub(super) enum IntoOneKey {
    /// `COPY source target` (no `REPLACE`): the sources stay.
    Copy,
    /// `RENAMENX source target`: the winner's source goes.
    RenameIfAbsent,
}

/// Several tasks, each with a source key of its own, `COPY` (or `RENAMENX`) it to one common target
/// at once: exactly one succeeds, the target holds its value, and every other source is untouched.
pub(super) async fn one_key_many_sources<C: KeyOps + 'static>(
    cache: &Arc<C>,
    x: &Ctx<'_>,
    op: IntoOneKey,
) -> Check {
    if !x.stores() {
        return Err(Fail::NotApplicable("the backend stores nothing"));
    }
    let name = match op {
        IntoOneKey::Copy => "copy",
        IntoOneKey::RenameIfAbsent => "renamenx",
    };
    for round in 0..ROUNDS {
        // One `{tag}` per round: a Redis Cluster needs both keys of the operation in one slot.
        let sources: Arc<Vec<Vec<u8>>> = Arc::new(
            (0..TASKS)
                .map(|t| x.key(format!("{{{name}:{round}}}:from:{t}")))
                .collect(),
        );
        let target = Arc::new(x.key(format!("{{{name}:{round}}}:to")));
        for (t, k) in sources.iter().enumerate() {
            cache.set(k, &[b'0' + t as u8]).await?;
        }
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let c = Arc::clone(cache);
                let (sources, target) = (Arc::clone(&sources), Arc::clone(&target));
                tokio::spawn(async move {
                    match op {
                        IntoOneKey::Copy => c.copy(&sources[t], &target, false).await,
                        IntoOneKey::RenameIfAbsent => c.rename(&sources[t], &target, true).await,
                    }
                })
            })
            .collect();
        let winners = winners(tasks).await?;
        ensure!(
            winners.len() == 1,
            "round {round}: {winners:?} succeeded at {name}, not one task"
        );
        let v = c_get(cache, &target).await?;
        ensure!(
            v == [b'0' + winners[0] as u8][..],
            "round {round}: the target holds {} after task {} won",
            text(&v),
            winners[0]
        );
        for (t, k) in sources.iter().enumerate() {
            let moved = matches!(op, IntoOneKey::RenameIfAbsent) && t == winners[0];
            match cache.get(k).await {
                Ok(v) => ensure!(
                    !moved && v == [b'0' + t as u8][..],
                    "round {round}: source {t} holds {} (moved: {moved})",
                    text(&v)
                ),
                Err(Error::NotFound) => ensure!(moved, "round {round}: source {t} is gone"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Several tasks `EXPIRE ... NX` the same key (which has no expiry) at once, each with a TTL of its
/// own: exactly one sets it, and the key then has that task's TTL.
pub(super) async fn concurrent_expire_nx<C: KeyOps + 'static>(
    cache: &Arc<C>,
    x: &Ctx<'_>,
) -> Check {
    if !x.stores() {
        return Err(Fail::NotApplicable("the backend stores nothing"));
    }
    for round in 0..ROUNDS {
        let key = Arc::new(x.key(format!("expire-nx:{round}")));
        cache.set(&key, b"v").await?;
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let c = Arc::clone(cache);
                let key = Arc::clone(&key);
                tokio::spawn(async move {
                    let ttl = Duration::from_secs(1000 * (t as u64 + 1));
                    c.expire_if(&key, ttl, ExpireCondition::NoExpiry).await
                })
            })
            .collect();
        let winners = winners(tasks).await?;
        ensure!(
            winners.len() == 1,
            "round {round}: {winners:?} set the expiry with NX, not one task"
        );
        let want = Duration::from_secs(1000 * (winners[0] as u64 + 1));
        let left = cache.ttl(&key).await?;
        ensure!(
            left.is_some_and(|t| t <= want && t > want - Duration::from_secs(100)),
            "round {round}: task {} won, the key's TTL is {left:?}",
            winners[0]
        );
    }
    Ok(())
}
