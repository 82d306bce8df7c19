import FixityCore
import Foundation
import FixityStore
import Hummingbird

/// Releases and tags: a release is admitted once its manifest and every blob it names are on
/// the server and it validates as `seal` would; tags never move.
enum ReleaseRoutes {
    /// `POST /v1/releases`: register an uploaded manifest as a release of `app`, with tags.
    struct Registration: Codable {
        let release: String
        let app: String
        let tags: [String]?
    }

    /// `PUT /v1/tags/{app}/{version}`.
    struct TagRequest: Codable {
        let release: String
    }

    struct TagAnswer: Codable {
        let tag: String
        let release: ReleaseID
        let created: Bool
    }

    package struct EnvelopeList: Codable, Sendable {
        package let envelopes: [DSSEEnvelope]
    }

    struct ReleaseList: Codable {
        let releases: [ReleaseRecord]
    }

    static func add(to v1: RouterGroup<ServerContext>, plane: any ControlPlane, metrics: ServerMetrics) {
        v1.post("releases") { request, context -> Response in
            try context.require(.releasePush)
            let registration = try await JSONBodies.decode(Registration.self, request, context)
            let id = try releaseID(registration.release, field: "release")
            let app = try parse("app") { try AppName(parsing: registration.app) }
            let report = try await plane.admitRelease(
                id, app: app, tags: registration.tags ?? [], keyID: context.keyID)
            if !report.existed { metrics.releasesAdmitted.increment() }
            return try JSONBodies.response(report, status: report.existed ? .ok : .created)
        }

        v1.get("releases") { request, context -> Response in
            try context.require(.releaseRead)
            let app = try request.uri.queryParameters["app"].map { text in
                try parse("app") { try AppName(parsing: String(text)) }
            }
            return try JSONBodies.response(ReleaseList(releases: try await plane.releases(app: app)))
        }

        v1.get("releases/{ref}") { _, context -> Response in
            try context.require(.releaseRead)
            let text = try pathParameter("ref", context)
            let ref = try parse("ref") { try Ref(parsing: text) }
            return try JSONBodies.response(try await plane.resolve(ref))
        }

        v1.post("releases/{ref}/envelopes") { request, context -> Response in
            try context.require(.releasePush)
            let id = try releaseID(try pathParameter("ref", context), field: "release id")
            let body = try await JSONBodies.body(request, context)
            let added = try await plane.addEnvelope(body, about: id, keyID: context.keyID)
            return try JSONBodies.response(["added": added], status: added ? .created : .ok)
        }

        v1.get("releases/{ref}/envelopes") { _, context -> Response in
            try context.require(.releaseRead)
            let id = try releaseID(try pathParameter("ref", context), field: "release id")
            return try JSONBodies.response(EnvelopeList(envelopes: try await plane.envelopes(about: id)))
        }

        v1.put("tags/{app}/{version}") { request, context -> Response in
            try context.require(.releasePush)
            let app = try parse("app") { try AppName(parsing: try pathParameter("app", context)) }
            let version = try pathParameter("version", context)
            let tag = try parse("tag") { try TagName(app: app, version: version) }
            let body = try await JSONBodies.decode(TagRequest.self, request, context)
            let id = try releaseID(body.release, field: "release")
            let created = try await plane.tag(tag, release: id)
            return try JSONBodies.response(
                TagAnswer(tag: tag.description, release: id, created: created), status: created ? .created : .ok)
        }
    }

    /// A path segment, percent-decoded (the router hands segments over as they were sent).
    static func pathParameter(_ name: String, _ context: ServerContext) throws -> String {
        let raw = try context.parameters.require(name)
        guard let decoded = raw.removingPercentEncoding else {
            throw APIFailure.badInput("\(name): '\(raw.prefix(80))' is not valid percent-encoding")
        }
        return decoded
    }

    static func releaseID(_ text: String, field: String) throws -> ReleaseID {
        guard let digest = Digest(parsing: text) else {
            throw APIFailure.badInput("\(field): '\(text.prefix(80))' is not a release id (sha256:<64 lowercase hex>)")
        }
        return ReleaseID(digest)
    }

    static func parse<T>(_ field: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as any FixityError {
            throw APIFailure.badInput("\(field): \(error.message)")
        }
    }
}
