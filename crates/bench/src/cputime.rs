//! CPU time consumed by the calling thread, to normalise throughput on a machine where other processes
//! take turns on the cores: wall-clock rates then measure the neighbours as much as the cache.

use std::time::Duration;

/// CPU time the calling thread has consumed so far, or `None` if the clock is unavailable.
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is a valid clock id.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(ts.tv_sec).ok()?,
        u32::try_from(ts.tv_nsec).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_with_work_and_not_beyond_wall_time() {
        let wall = std::time::Instant::now();
        let before = thread_cpu_time();
        let mut x = 0u64;
        let deadline = wall + Duration::from_millis(30);
        while std::time::Instant::now() < deadline {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let (Some(before), Some(after)) = (before, thread_cpu_time()) else {
            panic!("CLOCK_THREAD_CPUTIME_ID unavailable");
        };
        assert!(
            after > before,
            "cpu time did not advance over a 30 ms busy loop"
        );
        assert!(after - before <= wall.elapsed() + Duration::from_millis(5));
    }
}
