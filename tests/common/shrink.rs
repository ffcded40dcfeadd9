//! Failure minimization for the model-based tests that run from a fixed seed.

use std::panic::AssertUnwindSafe;

/// The panic message of `f`, if it panics.
pub fn panic_message(f: impl FnOnce()) -> Option<String> {
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(f));
    outcome.err().map(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Proptest's shrinking stops at a local minimum (removing an operation shifts what the later
/// ones pick); remove chunks of operations from `ops` and `tail` (the steps after disposal) while
/// `fails` still reports a failure. Returns the smallest failing pair found and its message.
pub fn minimize<T: Clone>(
    mut ops: Vec<T>,
    mut tail: Vec<T>,
    fails: impl Fn(&[T], &[T]) -> Option<String>,
) -> (Vec<T>, Vec<T>, String) {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut reason = fails(&ops, &tail).unwrap_or_default();
    loop {
        let mut progress = false;
        for which in 0..2 {
            let mut chunk = if which == 0 { ops.len() } else { tail.len() }.div_ceil(2);
            while chunk > 0 {
                let mut i = 0;
                while i < if which == 0 { ops.len() } else { tail.len() } {
                    let (mut a, mut b) = (ops.clone(), tail.clone());
                    let list = if which == 0 { &mut a } else { &mut b };
                    let end = (i + chunk).min(list.len());
                    list.drain(i..end);
                    match fails(&a, &b) {
                        Some(why) if !a.is_empty() => {
                            (ops, tail, reason) = (a, b, why);
                            progress = true;
                        }
                        _ => i += chunk,
                    }
                }
                chunk /= 2;
            }
        }
        if !progress {
            break;
        }
    }
    std::panic::set_hook(hook);
    (ops, tail, reason)
}
