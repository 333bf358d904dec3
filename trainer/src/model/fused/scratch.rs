//! Per-thread scratch buffers of the fused kernels, kept across calls (and so across training
//! steps): the column blocks and tap products are megabytes each, and fresh allocations of
//! that size cost page faults and page clearing on every step.

use std::cell::RefCell;

/// Buffers kept per thread; more than a step uses at once is never needed.
const KEPT: usize = 8;

thread_local! {
    static FREE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` zeros from this thread's free list, handed back when dropped.
pub struct Scratch(Vec<f32>);

impl Scratch {
    /// `len` zeros, in a kept buffer when one is large enough.
    pub fn zeros(len: usize) -> Self {
        let mut buf = FREE
            .with(|free| {
                let mut free = free.borrow_mut();
                let at = free.iter().position(|b| b.capacity() >= len)?;
                Some(free.swap_remove(at))
            })
            .unwrap_or_default();
        buf.clear();
        buf.resize(len, 0.0);
        Self(buf)
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        FREE.with(|free| {
            let mut free = free.borrow_mut();
            if free.len() < KEPT {
                free.push(buf);
            } else if let Some(smallest) = free.iter_mut().min_by_key(|b| b.capacity()) {
                if smallest.capacity() < buf.capacity() {
                    *smallest = buf;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_zeroed_and_are_reused() {
        let ptr = {
            let mut a = Scratch::zeros(1000);
            a[7] = 3.0;
            a.as_ptr()
        };
        let b = Scratch::zeros(500);
        assert!(b.iter().all(|&v| v == 0.0));
        assert_eq!(b.len(), 500);
        assert_eq!(b.as_ptr(), ptr, "the kept buffer is reused");
    }
}
