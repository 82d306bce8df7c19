import FixityCore
import Foundation
import GRDB

/// The ledger in a store's SQLite database: the `history` rows, their nodes in `ledger_nodes`
/// (see `Ledger`), each append one transaction. Several handles on one file (several processes)
/// append safely: SQLite serializes the writers, and the next sequence number is read inside
/// the writing transaction.
package struct SQLiteLedger: LedgerLog {
    let database: any DatabaseWriter

    package init(_ database: any DatabaseWriter) {
        self.database = database
    }

    @discardableResult
    package func append(action: LedgerAction, subject: String, details: [String: String], at time: Date) throws
        -> LedgerEntry
    {
        try write { db in
            let seq = try History.append(db, action: action, subject: subject, details: details, at: time)
            guard let entry = try Ledger.entry(db, seq: seq) else {
                throw LedgerError("entry \(seq) vanished inside the transaction that appended it")
            }
            return entry
        }
    }

    package func size() throws -> Int { try read { try Ledger.size($0) } }

    package func entry(seq: Int64) throws -> LedgerEntry? { try read { try Ledger.entry($0, seq: seq) } }

    package func entries(actions: Set<LedgerAction>) throws -> [LedgerEntry] {
        try read { try History.entries($0, actions: actions) }
    }

    package func root(size: Int) throws -> Merkle.Hash {
        try read { db in try checked(size: size, db) { try Ledger.prover(db).root(size: size) } }
    }

    package func inclusionProof(seq: Int64, size: Int) throws -> [Merkle.Hash] {
        try read { db in
            try checked(size: size, db) {
                guard seq >= 0, seq < size else {
                    throw LedgerError("entry \(seq) is not in a tree of \(size) entries")
                }
                return try Ledger.prover(db).inclusionProof(index: Int(seq), size: size)
            }
        }
    }

    package func consistencyProof(from oldSize: Int, to newSize: Int) throws -> [Merkle.Hash] {
        try read { db in
            try checked(size: newSize, db) {
                guard oldSize >= 0, oldSize <= newSize else {
                    throw LedgerError("no consistency proof from \(oldSize) to \(newSize) entries")
                }
                return try Ledger.prover(db).consistencyProof(oldSize: oldSize, newSize: newSize)
            }
        }
    }

    package func verify() throws -> Ledger.Verification { try read { try Ledger.verify($0) } }

    package func signCheckpoint(key: SigningKey, at time: Date) throws -> String {
        try write { db in try Ledger.signCheckpoint(db, key: key, at: time) }
    }

    package func checkpointKeys() throws -> [PublicKey] { try read { try Ledger.checkpointKeys($0) } }

    package func inclusionProofDocument(seq: Int64, size: Int?) throws -> InclusionProof {
        try read { db in
            if let size { _ = try checked(size: size, db) { size } }
            return try InclusionProof.make(db, seq: seq, size: size)
        }
    }

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try database.read(body) } catch let error as DatabaseError {
            throw DatabaseFailure(error, path: database.path)
        }
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try database.write(body) } catch let error as DatabaseError {
            throw DatabaseFailure(error, path: database.path)
        }
    }

    /// A size beyond the log is refused, not answered from missing nodes.
    private func checked<T>(size: Int, _ db: Database, _ body: () throws -> T) throws -> T {
        let current = try Ledger.size(db)
        guard size >= 0, size <= current else {
            throw LedgerError("the ledger has \(current) entries; no tree of \(size)")
        }
        return try body()
    }
}
