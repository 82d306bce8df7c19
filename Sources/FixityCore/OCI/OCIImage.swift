import Foundation

/// The OCI image-spec 1.1 documents Fixity reads and writes (docs/oci.md). Encoded with sorted
/// keys and no whitespace, so the same content is the same digest everywhere.
public enum OCI {
    public enum MediaType {
        public static let index = "application/vnd.oci.image.index.v1+json"
        public static let manifest = "application/vnd.oci.image.manifest.v1+json"
        public static let config = "application/vnd.oci.image.config.v1+json"
        public static let layerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
        public static let layerTar = "application/vnd.oci.image.layer.v1.tar"
        public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
        public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
        public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
        public static let layoutVersion = "1.0.0"
        public static let empty = "application/vnd.oci.empty.v1+json"
        public static let dsseEnvelope = "application/vnd.dsse.envelope.v1+json"

        public static let gzipLayers: Set<String> = [layerGzip, dockerLayerGzip]
        public static let plainLayers: Set<String> = [layerTar]
        public static let manifests: Set<String> = [manifest, dockerManifest]
    }

    /// Annotation keys Fixity sets.
    public enum Annotation {
        public static let created = "org.opencontainers.image.created"
        public static let refName = "org.opencontainers.image.ref.name"
        public static let release = "dev.fixity.release"
        public static let baseDigest = "org.opencontainers.image.base.digest"
        public static let predicateType = "dev.fixity.predicate-type"
    }

    public struct Descriptor: Codable, Sendable, Equatable {
        public let mediaType: String
        public let digest: String
        public let size: Int64
        public var annotations: [String: String]?
        public var platform: Platform?
        /// On referrer descriptors (an index of referrers): the artifact's type.
        public var artifactType: String?

        public init(
            mediaType: String, digest: Digest, size: Int, annotations: [String: String]? = nil,
            platform: Platform? = nil, artifactType: String? = nil
        ) {
            self.mediaType = mediaType
            self.digest = digest.description
            self.size = Int64(size)
            self.annotations = annotations
            self.platform = platform
            self.artifactType = artifactType
        }

        /// The digest, validated (`sha256:` and 64 lowercase hex digits: nothing else is trusted as a file name).
        public func validDigest() throws(OCIError) -> Digest {
            guard let digest = Digest(parsing: digest) else {
                throw OCIError("descriptor digest '\(self.digest)' is not sha256:<64 hex>")
            }
            guard size >= 0 else { throw OCIError("descriptor \(self.digest) has a negative size") }
            return digest
        }
    }

    public struct Platform: Codable, Sendable, Equatable {
        public let architecture: String
        public let os: String
        public var variant: String?

        /// `linux/amd64`, `linux/arm64/v8`.
        public init(parsing text: String) throws(OCIError) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || parts.count == 3,
                parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber } })
            else {
                throw OCIError("--platform '\(text)': expected OS/ARCH[/VARIANT], e.g. linux/amd64")
            }
            os = parts[0]
            architecture = parts[1]
            variant = parts.count == 3 ? parts[2] : nil
        }
    }

    public struct Index: Codable, Sendable {
        public var schemaVersion = 2
        public var mediaType: String? = MediaType.index
        public var manifests: [Descriptor]
        public init(manifests: [Descriptor]) { self.manifests = manifests }
    }

    public struct Manifest: Codable, Sendable {
        public var schemaVersion = 2
        public var mediaType: String? = MediaType.manifest
        public var config: Descriptor
        public var layers: [Descriptor]
        public var annotations: [String: String]?
        /// OCI 1.1 artifacts: what the artifact is, and the manifest it refers to.
        public var artifactType: String?
        public var subject: Descriptor?
        public init(
            config: Descriptor, layers: [Descriptor], annotations: [String: String]?, artifactType: String? = nil,
            subject: Descriptor? = nil
        ) {
            self.config = config
            self.layers = layers
            self.annotations = annotations
            self.artifactType = artifactType
            self.subject = subject
        }
    }

    /// The image config; fields Fixity does not set survive from a base as raw JSON.
    public struct ImageConfig: Codable, Sendable {
        public struct Settings: Codable, Sendable {
            public var Env: [String]?
            public var Entrypoint: [String]?
            public var Cmd: [String]?
            public var WorkingDir: String?
            public var User: String?
            public var Labels: [String: String]?
            public var ExposedPorts: [String: JSONValue]?
            public var Volumes: [String: JSONValue]?
            public var StopSignal: String?
            public init() {}
        }
        public struct RootFS: Codable, Sendable {
            public var type = "layers"
            public var diff_ids: [String]
            public init(diffIDs: [String]) { diff_ids = diffIDs }
        }
        public struct History: Codable, Sendable {
            public var created: String?
            public var created_by: String?
            public var comment: String?
            public var empty_layer: Bool?
            public init(created: String?, createdBy: String?, comment: String?) {
                self.created = created
                created_by = createdBy
                self.comment = comment
            }
        }
        public var created: String?
        public var architecture: String
        public var os: String
        public var variant: String?
        public var config: Settings?
        public var rootfs: RootFS
        public var history: [History]?
        public init(
            architecture: String, os: String, variant: String?, config: Settings?, rootfs: RootFS, history: [History]?,
            created: String?
        ) {
            self.architecture = architecture
            self.os = os
            self.variant = variant
            self.config = config
            self.rootfs = rootfs
            self.history = history
            self.created = created
        }
    }

    /// Canonical JSON bytes of a document: sorted keys, no whitespace, `/` unescaped.
    public static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        JSONStyle.compact.bytes(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(OCIError) -> T {
        do {
            return try StrictJSON.decode(type, from: bytes)
        } catch {
            throw OCIError("\(what) is not a valid \(T.self) document: \(error)")
        }
    }

    /// RFC 3339 for a Unix time (the image's `created`, from SOURCE_DATE_EPOCH or 0).
    public static func rfc3339(epoch: Int64) -> String {
        Instant(seconds: epoch).wholeSecondsText
    }
}

public struct OCIError: FixityError, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var category: ErrorCategory { .registry }
}
