/// The size of the buffer every streaming read and copy uses: 1 MiB, large enough that a syscall
/// per chunk costs nothing next to the bytes it moves, small enough to keep one per worker.
package enum IOBuffer {
    package static let size = 1 << 20

    /// A buffer of `size` bytes; the caller deallocates it (`defer { buffer.deallocate() }`).
    package static func allocate() -> UnsafeMutableRawBufferPointer {
        .allocate(byteCount: size, alignment: 16)
    }
}
