import CMalloc

/// Keeps large blocks (the bodies of an overload) out of malloc's heap arenas, and the arenas few.
///
/// glibc raises its mmap threshold (up to 32 MiB) each time a mapped block is freed; from then
/// on bodies of hundreds of KB come from the arenas (up to 8 per core), and once freed stay in
/// the process's RSS. After an overload (`make bench`, phase e) inlet kept 210 MB with an empty
/// queue. A fixed threshold of 64 KiB brought that to 97 MB, but then every body of 100
/// messages (~115 KB) and the larger row buffers were mapped, faulted in page by page and
/// unmapped with a TLB shootdown of the other core: 0.7–0.9 µs of inlet's CPU per message
/// (measured: 6.7 against 5.9 µs/message flat out). At 256 KiB with two arenas, usual bodies
/// come from the heap and only the large ones are mapped: 6.0 µs/message, overload peak 160 MB,
/// 113 MB after it.
func keepLargeBlocksOutOfMallocArenas() {
    _ = mallopt(M_MMAP_THRESHOLD, 256 * 1024)
    _ = mallopt(M_ARENA_MAX, 2)
}
