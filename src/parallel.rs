//! Work spread over the machine's cores with results kept in input order: each item's result
//! depends on the item alone, never on the thread that ran it or on how many threads there
//! are, so whatever is summed from them afterwards is summed in one order, the same bytes
//! every run.

/// `f` applied to every item of `items`, on up to `threads` threads (items dealt
/// round-robin), results in `items`' order. A panic in `f` goes on with its own message.
pub fn map_in_order<T, R, F>(items: &[T], threads: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let f = &f;
    let dealt: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                scope.spawn(move || {
                    (w..items.len())
                        .step_by(threads)
                        .map(|i| (i, f(&items[i])))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    for (i, r) in dealt.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .map(|r| r.expect("every item was dealt to a thread"))
        .collect()
}

/// The cores this process may use (1 when the system does not say).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order_for_any_number_of_threads() {
        let items: Vec<u64> = (0..101).collect();
        let one = map_in_order(&items, 1, |x| x * x);
        for threads in [2, 3, 8, 500] {
            assert_eq!(map_in_order(&items, threads, |x| x * x), one);
        }
        assert_eq!(one[7], 49);
        assert!(map_in_order(&[] as &[u64], 4, |x| *x).is_empty());
    }
}
