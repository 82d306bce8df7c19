import FixityCore
import FixityLedger

/// What admitting a release did.
package struct AdmissionReport: Sendable, Encodable {
    package let release: ReleaseID
    package let app: String
    package let files: Int
    package let bytes: UInt64
    /// Tags newly recorded (a tag that already named this release is not repeated).
    package let newTags: [String]
    /// The release was already recorded under this app.
    package let existed: Bool

    enum CodingKeys: String, CodingKey { case release, app, files, bytes, newTags = "new_tags", existed }

    package init(release: ReleaseID, app: String, files: Int, bytes: UInt64, newTags: [String], existed: Bool) {
        self.release = release
        self.app = app
        self.files = files
        self.bytes = bytes
        self.newTags = newTags
        self.existed = existed
    }
}

extension Store {
    /// Records a release whose manifest and blobs arrived from elsewhere (a push to a server, a
    /// pull from one) — checked exactly as a seal checks its own: the manifest object must hash
    /// to the release id and validate, every blob it names must be in the store, and
    /// `validate` (seal's `fixity.toml` check) must pass. Then the release, its tags and an
    /// entry of `action` with `details` are recorded in one transaction; a tag that names
    /// another release refuses the whole admission.
    package func admitRelease(
        _ id: ReleaseID, app: AppName, tags versions: [String], validate: ReleaseValidator?, action: LedgerAction,
        details: [String: String]
    ) throws -> AdmissionReport {
        var tags: [TagName] = []
        for version in versions {
            do { tags.append(try TagName(app: app, version: version)) } catch {
                throw StoreError(.badInput, (error as any FixityError).message)
            }
        }
        let lock = try self.lock(.shared, purpose: "admit a release")
        defer { withExtendedLifetime(lock) {} }
        let manifest = try checkedForAdmission(id, validate: validate)
        return try database.storeWrite { db in
            let existed = try recordRelease(db, manifest: manifest, app: app)
            var newTags: [String] = []
            for tag in tags where try recordTag(db, tag, release: manifest.id) { newTags.append(tag.description) }
            try record(db, action: action, subject: manifest.id.description, details: details)
            return AdmissionReport(
                release: manifest.id, app: app.value, files: manifest.fileCount, bytes: manifest.fileBytes,
                newTags: newTags, existed: existed)
        }
    }

    /// The checks of an admission that need only the blobs: the manifest object hashes to the
    /// release id and validates, every blob it names is present, and `validate` passes. A
    /// control plane with its metadata elsewhere (PostgreSQL) records the release itself.
    package func checkedForAdmission(_ id: ReleaseID, validate: ReleaseValidator?) throws -> Manifest {
        guard hasObject(id.digest) else {
            throw StoreError(.badInput, "release \(id): its manifest (blob \(id.digest.short)) was not uploaded")
        }
        let manifest: Manifest
        do {
            manifest = try UnverifiedManifest(bytes: try readObject(id.digest)).verified()
        } catch let error as ManifestError {
            throw StoreError(.badInput, "release \(id.short): its manifest is invalid: \(error.description)")
        } catch let error as StoreError where error.code == .integrity {
            throw StoreError(.badInput, "release \(id.short): \(error.message)")
        }
        let missing = manifest.blobDigests.filter { !hasObject($0) }.sorted()
        guard missing.isEmpty else {
            let named = missing.prefix(3).map(\.short).joined(separator: ", ")
            throw StoreError(
                .badInput,
                "release \(id.short) names \(missing.count) blob(s) not uploaded (\(named)\(missing.count > 3 ? ", …" : "")); nothing was recorded"
            )
        }
        try validate?(manifest, self)
        return manifest
    }
}
