//! [`BusyPoll`]: keep one worker polling the sockets for a short while after the last request, instead
//! of parking it in `epoll_wait`.
//!
//! A request that arrives while the server is asleep costs a wake-up: the client's `send` has to wake
//! the server thread (in the client's own time slice), and the server pays a context switch before it
//! can read. Under a steady stream of small requests those wake-ups are a large share of the work on
//! both sides. While requests keep coming, a spinning task that yields to the runtime makes the worker
//! poll the sockets without sleeping, so neither side pays for a wake-up. Once no request has arrived
//! for `server.busy_poll`, the task parks and the worker sleeps as usual: an idle server uses no CPU.
//! `busy_poll: 0s` turns it off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The spin window and the flags connections use to keep it open.
#[derive(Debug)]
pub(crate) struct BusyPoll {
    window: Duration,
    /// The spinner is running (connections need not wake it).
    active: AtomicBool,
    /// A request arrived since the spinner last looked.
    seen: AtomicBool,
    wake: Notify,
}

impl BusyPoll {
    /// Spins for `window` after the last request; a zero window never spins.
    pub(crate) fn new(window: Duration) -> Self {
        BusyPoll {
            window,
            active: AtomicBool::new(false),
            seen: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Called by a connection when a request arrives: keeps the spinner going, or starts it.
    #[inline]
    pub(crate) fn activity(&self) {
        if self.window.is_zero() {
            return;
        }
        // Loads first: in the steady state both flags are already set and the cache line stays shared.
        if !self.seen.load(Ordering::Relaxed) {
            self.seen.store(true, Ordering::SeqCst);
        }
        if !self.active.load(Ordering::SeqCst) {
            self.active.store(true, Ordering::SeqCst);
            self.wake.notify_one();
        }
    }

    /// The spinner: runs until `shutdown`, spinning while requests arrive and parked otherwise.
    pub(crate) async fn run(&self, shutdown: CancellationToken) {
        if self.window.is_zero() {
            return;
        }
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.wake.notified() => {}
            }
            loop {
                self.spin(&shutdown).await;
                self.active.store(false, Ordering::SeqCst);
                // A request that arrived just before `active` was cleared found it set and did not wake
                // us: look once more before parking.
                if shutdown.is_cancelled() || !self.seen.load(Ordering::SeqCst) {
                    break;
                }
                self.active.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Yields to the runtime (which polls the sockets each time) until no request has arrived for the
    /// window.
    async fn spin(&self, shutdown: &CancellationToken) {
        let mut last = Instant::now();
        while !shutdown.is_cancelled() {
            tokio::task::yield_now().await;
            let now = Instant::now();
            if self.seen.swap(false, Ordering::SeqCst) {
                last = now;
            } else if now.duration_since(last) >= self.window {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parks_when_requests_stop_and_restarts_on_the_next() {
        let poll = std::sync::Arc::new(BusyPoll::new(Duration::from_millis(2)));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn({
            let (poll, shutdown) = (poll.clone(), shutdown.clone());
            async move { poll.run(shutdown).await }
        });
        assert!(
            !poll.active.load(Ordering::SeqCst),
            "spins before any request"
        );
        poll.activity();
        assert!(poll.active.load(Ordering::SeqCst));
        // The spinner parks by itself once the window has passed with no request.
        let parked = async {
            while poll.active.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), parked)
            .await
            .expect("spinner never parked");
        poll.activity();
        assert!(poll.active.load(Ordering::SeqCst), "not restarted");
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("spinner ignored shutdown")
            .unwrap();
    }

    #[tokio::test]
    async fn zero_window_never_spins() {
        let poll = BusyPoll::new(Duration::ZERO);
        poll.activity();
        assert!(!poll.active.load(Ordering::SeqCst));
        // Returns at once rather than waiting for a shutdown that never comes.
        tokio::time::timeout(Duration::from_secs(5), poll.run(CancellationToken::new()))
            .await
            .expect("zero window waited");
    }
}
