import FixityConfig
import FixityCore
import Glibc
import TOMLKit

/// `FIXITY_FUZZ_PARSER=N` (0–10) fuzzes one parser with the whole input, for a minute per parser.
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
    switch selector % parserCount {
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
    case 5:
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
    case 6:
        // OCI documents, as a registry or a layout folder hands them over.
        if let index = try? OCI.decode(OCI.Index.self, bytes, what: "fuzz") {
            for descriptor in index.manifests { _ = try? descriptor.validDigest() }
        }
        if let manifest = try? OCI.decode(OCI.Manifest.self, bytes, what: "fuzz") {
            _ = try? manifest.config.validDigest()
            for layer in manifest.layers { _ = try? layer.validDigest() }
            _ = try? manifest.subject?.validDigest()
        }
        if let config = try? OCI.decode(OCI.ImageConfig.self, bytes, what: "fuzz") { _ = OCI.encode(config) }
    case 7:
        // A proof bundle, the one file an auditor is handed; every check runs on what parses.
        if let bundle = try? ProofBundle.parse(bytes, source: "fuzz") { _ = bundle.verify(trusting: []) }
    case 10:
        // A blob pack, as a client uploads it or a server answers a fetch, fed in pieces of the
        // sizes its first byte picks (network buffers split it anywhere).
        guard let first = bytes.first else { return 0 }
        var reader = BlobPackReader(maximumBlobSize: 1 << 20)
        var events: [BlobPackEvent] = []
        let step = Int(first % 61) + 1
        var offset = 1
        do {
            while offset < bytes.count {
                let end = min(bytes.count, offset + step)
                try bytes[offset..<end].withUnsafeBytes { try reader.feed($0, into: &events) }
                offset = end
            }
            try reader.finish()
        } catch {}
    case 9:
        // fixity.toml and policy files: what the guard lets through must never abort toml++.
        if TOMLGuard.problem(in: text) == nil { _ = try? TOMLTable(string: text) }
    default:
        // The short strings every command takes from a user, a file or a server.
        _ = try? Ref(parsing: text)
        _ = try? AppName(parsing: text)
        _ = try? TagName(parsing: text)
        _ = Digest(parsing: text)
        _ = KeyID(hex: text)
        _ = try? PublicKey(policyText: text)
        _ = try? SigningKey(fileBytes: bytes, name: "fuzz")
        _ = try? OCI.Platform(parsing: text)
        _ = EntryPath.problem(with: text)
        _ = try? IgnoreRules(text.split(separator: "\n").map(String.init))
        if let instant = Instant(rfc3339: text) {
            precondition(Instant(rfc3339: instant.description) == instant, "Instant does not round-trip: \(text)")
        }
        if let decoded = Base64.decode(text) {
            precondition(Base64.decode(Base64.encode(decoded)) == decoded, "Base64 does not round-trip: \(text)")
        }
        if let decoded = Hex.decode(text) {
            precondition(Hex.decode(Hex.encode(decoded)) == decoded, "hex does not round-trip: \(text)")
        }
    }
    return 0
}

/// Manifest, DSSE, checkpoint, proofs, canonical JSON, tar, OCI documents, proof bundles, short
/// strings, TOML.
let parserCount: UInt8 = 11

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
