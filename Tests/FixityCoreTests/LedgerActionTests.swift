import FixityCore
import Testing

/// The ledger's vocabulary is part of the entry encoding (docs/ledger.md): a renamed raw value
/// would make every old entry unreadable by kind, so the spellings are pinned here.
@Suite struct LedgerActionTests {
    @Test func actionsKeepTheirRecordedSpelling() {
        #expect(
            Set(LedgerAction.allCases.map(\.rawValue)) == [
                "seal", "tag", "sign", "attest", "policy", "gc", "adopt", "oci-import", "oci-export", "oci-push",
                "bind", "deploy", "materialize", "activate", "health", "rollback", "deactivate", "remove", "drift",
                "repair", "key-create", "key-revoke", "key-rotate", "api-request", "api-refused", "blobs-receive",
                "receive", "pull", "promote", "promote-refused", "host-enroll", "host-revoke", "host-report",
                "host-refused", "agent-refused", "rollout-start", "rollout-wave", "rollout-halt", "rollout-rollback",
                "rollout-complete", "rollout-pause", "rollout-resume", "rollout-abort", "access-request",
                "access-approve", "access-deny", "access-open", "access-exec",
                "access-exec-refused", "access-close", "access-changes", "bench",
            ])
        #expect(HealthResult.allCases.map(\.rawValue) == ["pass", "fail", "no health check", "interrupted"])
    }

    @Test func anEntryOfAnUnknownActionHasNoKindButKeepsItsText() {
        let entry = LedgerEntry(
            seq: 1, time: "2026-12-04T00:00:00Z", actor: "a", host: "h", action: "future-thing", subject: "s",
            details: ["env": "-", "root": "/srv/a"])
        #expect(entry.kind == nil && entry.action == "future-thing")
        #expect(entry.optionalDetail("env") == nil && entry.optionalDetail("root") == "/srv/a")
        #expect(entry.optionalDetail("missing") == nil)
        let known = LedgerEntry(
            seq: 2, time: "2026-12-04T00:00:00Z", actor: "a", host: "h", action: "oci-push", subject: "s", details: [:])
        #expect(known.kind == .ociPush)
    }

    @Test func driftStatesRoundTripThroughTheirText() {
        let digest = Digest.of(Array("report".utf8))
        #expect(DriftStateDetail(DriftStateDetail.clean.text) == .clean)
        #expect(DriftStateDetail(DriftStateDetail.drifted(digest).text) == .drifted(digest))
        #expect(DriftStateDetail("dirty") == nil)
        #expect(LedgerDetail.optional(nil) == "-" && LedgerDetail.optional("x") == "x")
    }
}
