import FixityCore
import Glibc

/// `FIXITY_FUZZ_PARSER=N` (0–5) fuzzes one parser with the whole input, for a minute per parser.
let onlyParser: UInt8? = getenv("FIXITY_FUZZ_PARSER").flatMap { UInt8(String(cString: $0)) }

/// One libFuzzer entry point for every parser that meets untrusted bytes; the first byte picks
/// the parser, the rest is its input. A crash, trap or hang here is a bug: each parser must
/// return a value or throw its typed error for any input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParsers(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let selector = onlyParser ?? data[0]
    let bytes = onlyParser == nil ? Array(UnsafeBufferPointer(start: data + 1, count: size - 1)) : Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    switch selector % 6 {
    case 0:
        _ = try? UnverifiedManifest(bytes: bytes).verified()
    case 1:
        if let envelope = try? DSSEEnvelope(json: bytes, source: "fuzz") {
            _ = try? InTotoStatement(payload: envelope.payloadBytes, source: "fuzz")
        }
    case 2:
        if let (_, signed, signatures) = try? Checkpoint.parse(text, source: "fuzz") {
            _ = Checkpoint.verifiedBy(text: signed, signatures: signatures, keys: [])
        }
    case 3:
        // Proof verifiers over arbitrary sizes, indices and paths.
        guard bytes.count >= 16 else { return 0 }
        let index = Int(bytes[0]) << 8 | Int(bytes[1])
        let treeSize = Int(bytes[2]) << 8 | Int(bytes[3])
        let hashes = stride(from: 4, to: bytes.count - 31, by: 32).map { Array(bytes[$0..<($0 + 32)]) }
        guard let leaf = hashes.first else { return 0 }
        _ = Merkle.verifyInclusion(leaf: leaf, index: index, size: treeSize, proof: Array(hashes.dropFirst()), root: leaf)
        _ = Merkle.verifyConsistency(oldSize: index, newSize: treeSize, oldRoot: leaf, newRoot: leaf, proof: Array(hashes.dropFirst()))
    case 4:
        _ = CanonicalJSON.parseFlatObject(text)
    default:
        var offset = 0
        var reader = TarReader { count in
            let end = min(bytes.count, offset + count)
            defer { offset = end }
            return Array(bytes[offset..<end])
        }
        while let entry = try? reader.next() {
            _ = entry
            while let chunk = try? reader.readContent(max: 4096), !chunk.isEmpty {}
        }
    }
    return 0
}

/// SwiftPM links an executable's entry point as `<Target>_main`; hand control to libFuzzer's
/// driver from there (the sanitizer's own `main` is shadowed by SwiftPM's).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

@_cdecl("FuzzParsers_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector, fuzzParsers)
}
