import Testing

@testable import FixityRegistry

/// `WWW-Authenticate` challenges as registries send them: quoted values may hold commas, colons
/// and spaces; keys are letters and underscores.
@Suite struct RegistryChallengeTests {
    @Test func bearerChallengeParametersAreRead() {
        let (scheme, parameters) = RegistryClient.parseChallenge(
            #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:app/web:pull,push",error="insufficient_scope""#
        )
        #expect(scheme == "Bearer")
        #expect(
            parameters == [
                "realm": "https://auth.example/token", "service": "registry.example",
                "scope": "repository:app/web:pull,push", "error": "insufficient_scope",
            ])
    }

    @Test func basicAndOddChallenges() {
        #expect(RegistryClient.parseChallenge(#"Basic realm="Registry Realm""#).1 == ["realm": "Registry Realm"])
        #expect(RegistryClient.parseChallenge("Basic").0 == "Basic")
        #expect(RegistryClient.parseChallenge(#"Bearer realm="unterminated"#).1.isEmpty)
        #expect(RegistryClient.parseChallenge(#"Bearer re;alm="x", ok="y""#).1 == ["ok": "y"])
    }
}
