import CFixityZlib
import FixityCore

/// gzip through zlib (CFixityZlib): a deflater that writes deterministic output (fixed header, one
/// level) and an inflater that checks the trailer's CRC and length.
package final class Gzip {
    package struct Failure: FixityError, Sendable {
        package let message: String
        package var category: ErrorCategory { .badInput }
    }

    private let stream: OpaquePointer
    private let inflating: Bool
    private var output = [UInt8](repeating: 0, count: 1 << 17)
    package private(set) var ended = false

    package static func deflater(level: Int32) throws -> Gzip {
        guard let z = fixity_gzip_deflater(level) else { throw Failure(message: "zlib: cannot start a deflate stream") }
        return Gzip(stream: z, inflating: false)
    }

    package static func inflater() throws -> Gzip {
        guard let z = fixity_gzip_inflater() else { throw Failure(message: "zlib: cannot start an inflate stream") }
        return Gzip(stream: z, inflating: true)
    }

    private init(stream: OpaquePointer, inflating: Bool) {
        self.stream = stream
        self.inflating = inflating
    }

    deinit { fixity_gzip_free(stream) }

    /// Feeds `input` (all of it is consumed, unless an inflater reaches the end of the stream,
    /// when the number of bytes used is returned) and hands each piece of output to `sink`.
    @discardableResult
    package func process(
        _ input: UnsafeRawBufferPointer, finish: Bool = false, sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        var offset = 0
        while !ended {
            var consumed = 0
            var produced = 0
            let status = output.withUnsafeMutableBytes { out in
                fixity_gzip_step(
                    stream, input.baseAddress.map { $0 + offset }, input.count - offset, &consumed, out.baseAddress,
                    out.count, &produced, finish ? 1 : 0)
            }
            if status < 0 { throw Failure(message: "gzip: " + String(cString: fixity_gzip_error(stream))) }
            offset += consumed
            if produced > 0 {
                try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
            }
            if status == 1 { ended = true; break }
            // More input needed (or, finishing, more output room): stop when nothing moved.
            if offset == input.count && produced < output.count && (!finish || inflating) { break }
            if consumed == 0 && produced == 0 { break }
        }
        return offset
    }

    package func process(_ input: [UInt8], finish: Bool = false, sink: (UnsafeRawBufferPointer) throws -> Void) throws
        -> Int
    {
        try input.withUnsafeBytes { try process($0, finish: finish, sink: sink) }
    }
}
