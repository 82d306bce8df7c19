import GRDB
import Synchronization

/// The tables one target owns, as the migrations that create and change them, in their order.
///
/// A store's database holds the tables of several layers, but each layer registers and queries
/// only its own: the store its catalog (releases, tags, envelopes, policies), the ledger its
/// history and Merkle tree (FixityLedger's `LedgerSchema`, applied with the store's own because
/// the store records into it), the host its roots (FixityHost's `RootSchema`, applied the first
/// time a host type touches a store). GRDB records each migration by identifier and skips the
/// ones a database already has, so a part applied later, or a store made before the parts were
/// split, migrates the same.
package struct SchemaPart: Sendable {
    /// Names the part for `ensureSchema`'s once-per-store memo (a target's name).
    package let owner: String
    package let register: @Sendable (inout DatabaseMigrator) -> Void

    package init(owner: String, register: @escaping @Sendable (inout DatabaseMigrator) -> Void) {
        self.owner = owner
        self.register = register
    }
}

extension Store {
    /// Applies `part`'s migrations to this store's database if it lacks any (once per open store;
    /// under the same lock as the store's own migrations, so two processes never race them).
    package func ensureSchema(_ part: SchemaPart) throws {
        if appliedSchemaParts.withLock({ $0.contains(part.owner) }) { return }
        var migrator = DatabaseMigrator()
        part.register(&migrator)
        try StoreDatabase.migrate(database, with: migrator)
        appliedSchemaParts.withLock { _ = $0.insert(part.owner) }
    }
}
