import FixityCore
import Testing

/// The `category` strings are part of the `--json` contract: scripts branch on them.
@Suite struct ErrorCategoryTests {
    @Test func categoriesKeepTheirContractSpelling() {
        let spelled = Set(ErrorCategory.allCases.map(\.rawValue))
        #expect(
            spelled == [
                "bad_input", "not_found", "ambiguous", "conflict", "locked", "integrity", "refused", "trust",
                "ledger", "hook", "registry", "unauthorized", "io", "internal",
            ])
    }

    /// Exit 1 means "a finding" and never comes from an error; every status is an HTTP error.
    @Test func everyCategoryExitsTwoAndMapsToAnErrorStatus() {
        for category in ErrorCategory.allCases {
            #expect(category.exitCode == 2, "\(category)")
            #expect((400..<600).contains(category.httpStatus), "\(category)")
        }
        #expect(ErrorCategory.notFound.httpStatus == 404 && ErrorCategory.badInput.httpStatus == 400)
    }

    @Test func domainErrorsCarryTheirCategory() {
        let errors: [any FixityError] = [
            TrustError("key 'x' is unknown"), LedgerError("entry 3 is missing"), DeployError("refused"),
            RefError(ref: "app@", "empty tag"), ManifestError(line: 2, "bad mode"),
        ]
        #expect(errors.map(\.category) == [.trust, .ledger, .refused, .badInput, .badInput])
        #expect(errors[3].message == "'app@': empty tag" && "\(errors[3])" == "'app@': empty tag")
    }
}
