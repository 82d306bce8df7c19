import FixityCore
import FixityStore

/// An image layer's uncompressed tar bytes, pulled on demand from its blob (gunzipped when its
/// media type says so), hashed on the way for the config's diff_id.
final class LayerStream {
    private let blob: LayoutReader.BlobReader
    private let gzip: Gzip?
    private var input = [UInt8](repeating: 0, count: 1 << 18)
    private var inputStart = 0
    private var inputEnd = 0
    private var output = [UInt8]()
    private var outputStart = 0
    private var blobEnded = false
    private var hasher = ContentHasher()

    init(blob: LayoutReader.BlobReader, gzipped: Bool) throws {
        self.blob = blob
        gzip = gzipped ? try Gzip.inflater() : nil
    }

    /// Exactly `count` bytes, or fewer only at the end of the tar stream.
    func read(_ count: Int) throws -> [UInt8] {
        while output.count - outputStart < count, try fill() {}
        let end = min(output.count, outputStart + count)
        let bytes = Array(output[outputStart..<end])
        outputStart = end
        if outputStart > 1 << 20 {
            output.removeFirst(outputStart)
            outputStart = 0
        }
        return bytes
    }

    /// Reads the rest (tar readers stop at the end blocks; some writers pad further), then checks
    /// the blob's digest and size, and returns the diff_id.
    func finish() throws -> Digest {
        while try fill() {}
        try blob.finishAndVerify()
        return hasher.finalize()
    }

    /// More output; false at the end.
    private func fill() throws -> Bool {
        if inputStart == inputEnd {
            if blobEnded { return false }
            let n = try input.withUnsafeMutableBytes { try blob.read(into: $0) }
            inputStart = 0
            inputEnd = n
            if n == 0 {
                blobEnded = true
                if let gzip, !gzip.ended {
                    throw StoreError(.badInput, "layer \(blob.digest.short): the gzip stream is truncated")
                }
                return false
            }
        }
        guard let gzip else {
            let chunk = input[inputStart..<inputEnd]
            chunk.withUnsafeBytes { hasher.update($0) }
            output += chunk
            inputStart = inputEnd
            return true
        }
        if gzip.ended {
            // Bytes after the gzip member: not a layer we understand.
            if input[inputStart..<inputEnd].contains(where: { $0 != 0 }) {
                throw StoreError(.badInput, "layer \(blob.digest.short): data after the end of the gzip stream")
            }
            inputStart = inputEnd
            return true
        }
        let used: Int
        do {
            used = try input.withUnsafeBytes { raw in
                try gzip.process(UnsafeRawBufferPointer(rebasing: raw[inputStart..<inputEnd])) { chunk in
                    hasher.update(chunk)
                    output.append(contentsOf: chunk)
                }
            }
        } catch let error as Gzip.Failure {
            throw StoreError(.badInput, "layer \(blob.digest.short): \(error.message)")
        }
        inputStart += used
        return true
    }
}
