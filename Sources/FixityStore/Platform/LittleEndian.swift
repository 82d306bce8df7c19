/// Fixed-width little-endian fields of Fixity's binary indexes (the stat snapshot of a
/// deployment, the seal stat cache): written by appending, read in place.
extension [UInt8] {
    package mutating func appendLE(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
    package mutating func appendLE(_ value: UInt64) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
    package func loadLE32(_ offset: Int) -> UInt32 { withUnsafeBytes { $0.loadLE32(offset) } }
}

extension UnsafeRawBufferPointer {
    package func loadLE32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    package func loadLE64(_ offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
