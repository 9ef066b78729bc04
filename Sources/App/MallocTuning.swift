import CMalloc

/// Keeps blocks of 64 KiB and more (request bodies, parsed rows) out of malloc's heap arenas.
///
/// glibc raises its mmap threshold (up to 32 MiB) each time such a block is freed; from then on
/// bodies of hundreds of KB come from the arenas, and once freed stay in the process's RSS. After
/// an overload (`make bench`, phase e) inlet kept 210 MB with an empty queue; with a fixed
/// threshold the blocks are mapped and unmapped, and it went back to 97 MB.
func keepLargeBlocksOutOfMallocArenas() {
    _ = mallopt(M_MMAP_THRESHOLD, 64 * 1024)
}
