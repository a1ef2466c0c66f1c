//! Running a run's jobs on every core.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::ProvisionError;

/// The threads a run uses when told 0: one per core.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `f` of every item, on `threads` threads, in the items' order. The first failure (by
/// item order, among those that ran) is the result; the other threads stop taking items.
pub(crate) fn parallel<T, R, F>(threads: usize, items: &[T], f: F) -> Result<Vec<R>, ProvisionError>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R, ProvisionError> + Sync,
{
    let threads = threads.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<(usize, ProvisionError)>> = Mutex::new(None);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        match f(item) {
                            Ok(r) => mine.push((i, r)),
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
                                if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                                    *slot = Some((i, e));
                                }
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    if let Some((_, e)) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    done.sort_unstable_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, r)| r).collect())
}
