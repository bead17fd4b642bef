//! Work spread over the machine's cores with results kept in index order: each result
//! depends on its index alone, never on the thread that ran it or on how many threads there
//! are, so whatever is summed from them afterwards is summed in one order, the same bytes
//! every run. [`Background`] runs one piece of work beside its caller.

/// `f(i)` for every `i` in `0..count`, on up to `threads` threads (indices dealt
/// round-robin), results in index order. A panic in `f` goes on with its own message.
pub fn map_in_order<R, F>(count: usize, threads: usize, f: F) -> Vec<R>
where
    R: Send,
    F: Fn(usize) -> R + Sync,
{
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        return (0..count).map(&f).collect();
    }
    let f = &f;
    let dealt: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|w| scope.spawn(move || (w..count).step_by(threads).map(|i| (i, f(i))).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut slots: Vec<Option<R>> = (0..count).map(|_| None).collect();
    for (i, r) in dealt.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .map(|r| r.expect("every index was dealt to a thread"))
        .collect()
}

/// Work running on a thread of its own while its caller goes on. Joined when its result is
/// taken, or when dropped (an early return): no background work outlives its caller.
pub struct Background<T>(Option<std::thread::JoinHandle<T>>);

impl<T: Send + 'static> Background<T> {
    /// Starts `work` on a new thread.
    pub fn spawn(work: impl FnOnce() -> T + Send + 'static) -> Background<T> {
        Background(Some(std::thread::spawn(work)))
    }

    /// Waits for the work and returns its result; a panic in it goes on with its message.
    pub fn wait(mut self) -> T {
        let handle = self.0.take().expect("joined only here or on drop");
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            // Dropped on an early return: wait, and let the caller's own error stand.
            let _ = handle.join();
        }
    }
}

/// The cores this process may use (1 when the system does not say).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_index_order_for_any_number_of_threads() {
        let one = map_in_order(101, 1, |i| i * i);
        for threads in [2, 3, 8, 500] {
            assert_eq!(map_in_order(101, threads, |i| i * i), one);
        }
        assert_eq!(one[7], 49);
        assert!(map_in_order(0, 4, |i| i).is_empty());
    }

    #[test]
    fn background_work_is_waited_for_when_taken_and_when_dropped() {
        assert_eq!(Background::spawn(|| 6 * 7).wait(), 42);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        drop(Background::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }));
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
    }
}
