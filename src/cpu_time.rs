//! CPU time, as the kernel counts it: this process's (every thread's), and its ended child
//! processes' (those it has waited for, the local MongoDB-wire server among them). A build
//! on two cores cannot take less wall time than half the CPU time it needs, so `bench` reports
//! both beside the wall time: that says which part of the work a faster schedule could hide
//! and which part must be removed.

use std::ops::Sub;
use std::time::Duration;

/// CPU time used so far, user and system together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// This process, all its threads.
    pub ours: Duration,
    /// Its child processes that have ended and been waited for (a child still running is not
    /// counted yet).
    pub children: Duration,
}

impl CpuTime {
    /// Now. Zero where the kernel does not answer.
    pub fn now() -> CpuTime {
        CpuTime {
            ours: usage(libc::RUSAGE_SELF),
            children: usage(libc::RUSAGE_CHILDREN),
        }
    }

    /// Both together.
    pub fn total(&self) -> Duration {
        self.ours + self.children
    }
}

impl Sub for CpuTime {
    type Output = CpuTime;

    /// The CPU time used between two readings (`later - earlier`).
    fn sub(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            ours: self.ours.saturating_sub(earlier.ours),
            children: self.children.saturating_sub(earlier.children),
        }
    }
}

fn usage(who: libc::c_int) -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` writes one `rusage` through the pointer, which points at one; on
    // failure it writes nothing and the zeroed value is read.
    let usage = unsafe {
        if libc::getrusage(who, usage.as_mut_ptr()) != 0 {
            return Duration::ZERO;
        }
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_on_a_thread_and_in_a_waited_child_is_counted_where_it_ran() {
        let before = CpuTime::now();
        // Busy on another thread: counted as ours, as every thread of the process is.
        std::thread::spawn(|| {
            let started = std::time::Instant::now();
            let mut x = 0u64;
            while started.elapsed() < Duration::from_millis(200) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        })
        .join()
        .unwrap();
        // Busy in a child, waited for: counted as the children's.
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let used = CpuTime::now() - before;
        assert!(used.ours >= Duration::from_millis(150), "{used:?}");
        assert!(used.children >= Duration::from_millis(20), "{used:?}");
        assert_eq!(used.total(), used.ours + used.children);
    }
}
