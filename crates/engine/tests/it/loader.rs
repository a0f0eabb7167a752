//! Single-flight loading with real threads and with futures polled by hand.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};

use relaycache_engine::Cache;

fn cache() -> Arc<Cache<u32, String>> {
    Arc::new(Cache::builder().max_cost(100).build().expect("valid"))
}

#[test]
fn concurrent_misses_run_one_loader() {
    let cache = cache();
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (cache, runs, barrier) =
                (Arc::clone(&cache), Arc::clone(&runs), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                cache.get_or_load(1, |_| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    Ok::<_, ()>("one".to_owned())
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().expect("thread").as_deref(), Ok("one"));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn errors_are_not_cached() {
    let cache = cache();
    assert_eq!(
        cache.get_or_load(1, |_| Err::<String, _>("down")),
        Err("down")
    );
    assert_eq!(cache.get(&1), None);
    assert_eq!(
        cache
            .get_or_load(1, |_| Ok::<_, &str>("up".to_owned()))
            .as_deref(),
        Ok("up")
    );
}

#[test]
fn a_panicking_leader_hands_over() {
    let cache = cache();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cache.get_or_load(1, |_| -> Result<String, ()> { panic!("loader bug") })
    }));
    assert!(result.is_err());
    assert_eq!(
        cache
            .get_or_load(1, |_| Ok::<_, ()>("ok".to_owned()))
            .as_deref(),
        Ok("ok")
    );
}

fn poll<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn a_cancelled_async_leader_hands_over_to_a_waiter() {
    let cache = cache();
    let leader_runs = AtomicUsize::new(0);
    let mut leader = Box::pin(cache.get_or_load_async(1, |_| {
        leader_runs.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<Result<String, ()>>()
    }));
    assert!(poll(leader.as_mut()).is_pending(), "the leader is loading");
    let mut waiter =
        pin!(cache.get_or_load_async(1, |_| async { Ok::<_, ()>("waiter".to_owned()) }));
    assert!(
        poll(waiter.as_mut()).is_pending(),
        "the waiter waits for the leader"
    );
    drop(leader);
    assert_eq!(poll(waiter.as_mut()), Poll::Ready(Ok("waiter".to_owned())));
    assert_eq!(leader_runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.get(&1).as_deref(), Some("waiter"));
}

#[test]
fn async_waiters_get_the_leaders_value() {
    let cache = cache();
    let mut leader =
        Box::pin(cache.get_or_load_async(1, |_| async { Ok::<_, ()>("leader".to_owned()) }));
    let mut waiter = pin!(cache.get_or_load_async(1, |_| async { Err::<String, _>(()) }));
    // The leader completes on its first poll; the waiter then finds the value in the cache.
    assert_eq!(poll(leader.as_mut()), Poll::Ready(Ok("leader".to_owned())));
    assert_eq!(poll(waiter.as_mut()), Poll::Ready(Ok("leader".to_owned())));
}
