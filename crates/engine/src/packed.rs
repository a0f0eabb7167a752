//! [`Packed`]: a key and its value in **one** heap allocation, shared by reference count, so a hit can
//! hand the value out as a [`Bytes`] without copying it.
//!
//! The allocation is `[reference count: u32][key][value]`; the handle is a pointer and the two lengths
//! (16 bytes). A generic `Cache<Vec<u8>, Bytes>` pays two allocations per entry (key and value) and their
//! handles (24 + 32 bytes); a packed entry pays one handle and one allocation of `4 + key + value`
//! bytes, the same as an unshared `[length][key][value]` buffer would.
//!
//! An entry larger than [`SMALL_BLOCK`] whose value is at least half of that is **split**: `[count][pad][value pointer][key]` in one
//! allocation and the value in a second one of exactly its length. Allocators serve blocks up to about
//! 1 KiB from fast per-thread caches (glibc's limit is 1,032 bytes) and larger ones from slower shared
//! bins; packing a 1 KiB value with its key would make every write of it take the slow path, where the
//! value alone does not. Whether an entry is split follows from its lengths, so the handle stays 16
//! bytes.
//!
//! This is the engine's only `unsafe` code: the allocation, the count and the release, as in
//! `std::sync::Arc`, with the count next to the key so that taking a reference touches the cache line
//! the lookup has just compared.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use bytes::Bytes;

/// Above this many references a clone copies the buffer instead of counting one more (the count
/// cannot overflow, however many handles a caller keeps).
const MAX_REFS: u32 = u32::MAX / 2;

/// Size of the reference count at the start of the allocation.
const HEADER: usize = size_of::<AtomicU32>();

/// Largest packed allocation (count, key and value); a larger entry is split.
const SMALL_BLOCK: usize = 1024;

/// Where a split entry keeps the pointer to its value: after the count, aligned for a pointer.
const VALUE_AT: usize = size_of::<*mut u8>();
/// Where a split entry's key starts.
const SPLIT_HEADER: usize = VALUE_AT + size_of::<*mut u8>();

/// A key and its value in one reference-counted allocation. Hashes, compares and borrows as its key,
/// so a `Cache<Packed, ()>` is looked up by `&[u8]`. Cloning counts a reference (the bytes are never
/// written after [`Packed::new`], so every handle sees the same key and value).
pub struct Packed {
    /// The allocation: the count, then `len` bytes of key and value.
    ptr: NonNull<AtomicU32>,
    /// Key + value length.
    len: u32,
    /// Key length.
    klen: u32,
}

// SAFETY: the bytes are immutable after construction and the count is atomic, so handles may move to
// and be shared between threads like `Arc<[u8]>`.
unsafe impl Send for Packed {}
// SAFETY: as above; `&Packed` only reads immutable bytes.
unsafe impl Sync for Packed {}

impl Packed {
    /// Packs `key` and `value` into a new allocation. `None` when together they exceed `u32::MAX`
    /// bytes (no entry can weigh that much: weights are bounded by `u32::MAX`).
    #[must_use]
    pub fn new(key: &[u8], value: &[u8]) -> Option<Self> {
        let klen = u32::try_from(key.len()).ok()?;
        let len = u32::try_from(key.len().checked_add(value.len())?).ok()?;
        if split(klen, len) {
            return Self::new_split(key, value, klen, len);
        }
        let layout = Self::layout(len)?;
        // SAFETY: the layout has a non-zero size (it holds the count at least).
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<AtomicU32>()) else {
            handle_alloc_error(layout)
        };
        // SAFETY: `raw` is a fresh allocation of `HEADER + len` bytes aligned for `AtomicU32`: the count
        // goes at its start, the key and the value right after it, within bounds and not overlapping
        // the sources (borrowed slices cannot alias a fresh allocation).
        unsafe {
            ptr.as_ptr().write(AtomicU32::new(1));
            let data = raw.add(HEADER);
            std::ptr::copy_nonoverlapping(key.as_ptr(), data, key.len());
            std::ptr::copy_nonoverlapping(value.as_ptr(), data.add(key.len()), value.len());
        }
        Some(Packed { ptr, len, klen })
    }

    /// A split entry: the count, the value's pointer and the key in one allocation, the value in
    /// another.
    fn new_split(key: &[u8], value: &[u8], klen: u32, len: u32) -> Option<Self> {
        let (head, body) = Self::split_layouts(klen, len)?;
        // SAFETY: both layouts have non-zero sizes (a split entry's value is longer than the block).
        let (raw, body_raw) = unsafe { (alloc(head), alloc(body)) };
        let (Some(ptr), Some(body_ptr)) = (
            NonNull::new(raw.cast::<AtomicU32>()),
            NonNull::new(body_raw),
        ) else {
            handle_alloc_error(head)
        };
        // SAFETY: `raw` is a fresh allocation of `SPLIT_HEADER + klen` bytes aligned for a pointer: the
        // count at its start, the value pointer at `VALUE_AT` (aligned), the key after it; `body_raw`
        // is a fresh allocation of exactly the value's length. Neither overlaps the borrowed sources.
        unsafe {
            ptr.as_ptr().write(AtomicU32::new(1));
            raw.add(VALUE_AT).cast::<*mut u8>().write(body_ptr.as_ptr());
            std::ptr::copy_nonoverlapping(key.as_ptr(), raw.add(SPLIT_HEADER), key.len());
            std::ptr::copy_nonoverlapping(value.as_ptr(), body_ptr.as_ptr(), value.len());
        }
        Some(Packed { ptr, len, klen })
    }

    fn layout(len: u32) -> Option<Layout> {
        Layout::from_size_align(HEADER.checked_add(len as usize)?, align_of::<AtomicU32>()).ok()
    }

    /// The two allocations of a split entry: count, value pointer and key; the value.
    fn split_layouts(klen: u32, len: u32) -> Option<(Layout, Layout)> {
        let head = Layout::from_size_align(
            SPLIT_HEADER.checked_add(klen as usize)?,
            align_of::<*mut u8>(),
        )
        .ok()?;
        let body = Layout::from_size_align(len.checked_sub(klen)? as usize, 1).ok()?;
        Some((head, body))
    }

    fn is_split(&self) -> bool {
        split(self.klen, self.len)
    }

    fn count(&self) -> &AtomicU32 {
        // SAFETY: the count lives as long as any handle, and this handle is alive.
        unsafe { self.ptr.as_ref() }
    }

    /// The key bytes.
    #[must_use]
    pub fn key(&self) -> &[u8] {
        let at = if self.is_split() {
            SPLIT_HEADER
        } else {
            HEADER
        };
        // SAFETY: `klen` initialised key bytes start at `at` in both layouts, and stay unchanged
        // while a handle lives.
        unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>().add(at), self.klen as usize)
        }
    }

    /// The value bytes.
    #[must_use]
    pub fn value(&self) -> &[u8] {
        let vlen = (self.len - self.klen) as usize;
        let raw = self.ptr.as_ptr().cast::<u8>();
        // SAFETY: a packed entry's value follows its key; a split entry's lives in the allocation its
        // pointer (written once by `new_split`) names. Both stay unchanged while a handle lives.
        unsafe {
            let start = if self.is_split() {
                raw.add(VALUE_AT).cast::<*mut u8>().read().cast_const()
            } else {
                raw.add(HEADER + self.klen as usize).cast_const()
            };
            std::slice::from_raw_parts(start, vlen)
        }
    }

    /// The value as a [`Bytes`] that shares this allocation: no copy of the value, one more reference
    /// to the buffer, and one small allocation for the `Bytes` owner cell.
    #[must_use]
    pub fn into_value_bytes(self) -> Bytes {
        Bytes::from_owner(ValueOf(self))
    }

    /// Key bytes + value bytes + [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD): the weight the byte bound
    /// charges for this entry.
    #[must_use]
    pub fn weight(&self) -> u64 {
        u64::from(self.len) + crate::ENTRY_OVERHEAD
    }

    /// How many handles share the buffer (tests).
    #[cfg(test)]
    fn refs(&self) -> u32 {
        self.count().load(Ordering::Acquire)
    }
}

impl Clone for Packed {
    fn clone(&self) -> Self {
        // Relaxed as in `Arc::clone`: a new reference is made from an existing one, which already
        // keeps the buffer alive, so nothing needs ordering here.
        let old = self.count().fetch_add(1, Ordering::Relaxed);
        if old >= MAX_REFS {
            self.count().fetch_sub(1, Ordering::Relaxed);
            return match Packed::new(self.key(), self.value()) {
                Some(copy) => copy,
                // Unreachable: these lengths were packed once already.
                None => handle_alloc_error(Layout::new::<u8>()),
            };
        }
        Packed {
            ptr: self.ptr,
            len: self.len,
            klen: self.klen,
        }
    }
}

impl Drop for Packed {
    fn drop(&mut self) {
        // Release, then an acquire fence before freeing, as `Arc`: every use of the bytes through other
        // handles happens before the free.
        if self.count().fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let raw = self.ptr.as_ptr().cast::<u8>();
        if self.is_split() {
            if let Some((head, body)) = Self::split_layouts(self.klen, self.len) {
                // SAFETY: this was the last handle; both allocations were made with these layouts
                // (the same lengths), and the value's pointer is the one `new_split` wrote.
                unsafe {
                    dealloc(raw.add(VALUE_AT).cast::<*mut u8>().read(), body);
                    dealloc(raw, head);
                }
            }
        } else if let Some(layout) = Self::layout(self.len) {
            // SAFETY: this was the last handle; the allocation was made with this layout (same `len`).
            unsafe { dealloc(raw, layout) }
        }
    }
}

/// Whether an entry of these lengths is split: when count, key and value together exceed
/// [`SMALL_BLOCK`] and the value is at least half of it (a long key with a short value gains nothing
/// from a second allocation).
fn split(klen: u32, len: u32) -> bool {
    HEADER + len as usize > SMALL_BLOCK && (len - klen) as usize >= SMALL_BLOCK / 2
}

/// The value part of a [`Packed`], as a [`Bytes`] owner.
struct ValueOf(Packed);

impl AsRef<[u8]> for ValueOf {
    fn as_ref(&self) -> &[u8] {
        self.0.value()
    }
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("key_len", &self.klen)
            .field("value_len", &(self.len - self.klen))
            .finish()
    }
}

impl PartialEq for Packed {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Packed {}

impl Hash for Packed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl Borrow<[u8]> for Packed {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

impl AsRef<[u8]> for Packed {
    fn as_ref(&self) -> &[u8] {
        self.key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_value_round_trip_at_every_split() {
        for (key, value) in [
            (&b""[..], &b""[..]),
            (b"k", b""),
            (b"", b"v"),
            (b"key", b"value"),
        ] {
            let p = Packed::new(key, value).expect("small");
            assert_eq!((p.key(), p.value()), (key, value));
            assert_eq!(
                p.weight(),
                (key.len() + value.len()) as u64 + crate::ENTRY_OVERHEAD
            );
        }
    }

    #[test]
    fn entries_past_the_small_block_split_and_round_trip() {
        let long_key = vec![b'k'; 2000];
        for (klen, vlen, splits) in [
            (16, SMALL_BLOCK - HEADER - 16, false),
            (16, SMALL_BLOCK - HEADER - 15, true),
            (0, SMALL_BLOCK, true),
            (3, 1 << 20, true),
            (2000, 10, false),
            (600, SMALL_BLOCK / 2 - 1, false),
        ] {
            let key = &long_key[..klen];
            let value: Vec<u8> = (0..vlen).map(|i| (i % 251) as u8).collect();
            let p = Packed::new(key, &value).expect("fits");
            assert_eq!(p.is_split(), splits, "key {klen}, value {vlen}");
            assert_eq!((p.key(), p.value()), (key, &value[..]));
            assert_eq!(p.weight(), (klen + vlen) as u64 + crate::ENTRY_OVERHEAD);
            let shared = p.clone().into_value_bytes();
            assert_eq!(
                shared.as_ptr(),
                p.value().as_ptr(),
                "no copy when split either"
            );
            let q = p.clone();
            drop(p);
            assert_eq!(q.value(), &value[..]);
            drop(q);
            assert_eq!(
                &shared[..],
                &value[..],
                "the Bytes keeps both allocations alive"
            );
        }
    }

    #[test]
    fn clones_and_value_bytes_share_one_buffer_until_the_last_is_dropped() {
        let p = Packed::new(b"key", b"value").expect("small");
        let q = p.clone();
        assert_eq!(p.refs(), 2);
        let v = q.clone().into_value_bytes();
        assert_eq!(p.refs(), 3);
        assert_eq!(&v[..], b"value");
        assert_eq!(
            v.as_ptr(),
            p.value().as_ptr(),
            "the Bytes points into the buffer"
        );
        let w = v.clone();
        assert_eq!(p.refs(), 3, "cloning the Bytes counts in its owner cell");
        drop(v);
        drop(q);
        assert_eq!(p.refs(), 2);
        drop(w);
        assert_eq!(p.refs(), 1);
        assert_eq!(p, Packed::new(b"key", b"other").expect("small"));
    }

    #[test]
    fn a_clone_past_the_reference_limit_is_a_copy() {
        let p = Packed::new(b"k", b"v").expect("small");
        p.count().store(MAX_REFS, Ordering::Relaxed);
        let c = p.clone();
        assert_ne!(c.value().as_ptr(), p.value().as_ptr());
        assert_eq!((c.key(), c.value()), (&b"k"[..], &b"v"[..]));
        assert_eq!(p.refs(), MAX_REFS);
        // Put the count back so that dropping `p` frees the buffer.
        p.count().store(1, Ordering::Relaxed);
    }

    #[test]
    fn handles_cross_threads_and_the_buffer_outlives_the_cache_side() {
        let p = Packed::new(b"shared", &[7u8; 100]).expect("small");
        let values: Vec<Bytes> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let p = &p;
                    s.spawn(move || {
                        let mut kept = Vec::new();
                        for i in 0..1000 {
                            let v = p.clone().into_value_bytes();
                            if i % 100 == 0 {
                                kept.push(v);
                            }
                        }
                        kept
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("worker"))
                .collect()
        });
        assert_eq!(p.refs(), 1 + 40);
        drop(p);
        assert!(values.iter().all(|v| v[..] == [7u8; 100]));
    }
}
