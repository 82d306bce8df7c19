import GRDB

/// The ledger's tables, which this target owns: `history` (the entries), `ledger_nodes` and
/// `ledger_checkpoints` (the Merkle tree over them). Registered by the store that records into
/// the ledger; nothing outside FixityLedger queries them.
package enum LedgerSchema {
    /// The migrations in their order (identifiers are recorded in every database: never rename).
    package static func register(_ migrator: inout DatabaseMigrator) {
        History.registerTable(&migrator)
        History.registerIndex(&migrator)
        Ledger.registerTables(&migrator)
        LedgerTimeline.registerFacets(&migrator)
    }
}
