/// Every route the server has, by template and method — the same list as docs/api.yaml's paths
/// (a test holds the two, and the live router, to each other). The router answers an unknown
/// path 404; this table lets it answer a known path asked with the wrong method 405 with Allow.
package enum RouteTable {
    package static let routes: [(method: String, template: String)] = [
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.yaml"),
        ("POST", "/v1/blobs/missing"), ("POST", "/v1/blobs"), ("POST", "/v1/blobs/fetch"),
        ("POST", "/v1/releases"), ("GET", "/v1/releases"), ("GET", "/v1/releases/{ref}"),
        ("POST", "/v1/releases/{ref}/envelopes"), ("GET", "/v1/releases/{ref}/envelopes"),
        ("PUT", "/v1/tags/{app}/{version}"),
        ("GET", "/v1/ledger"), ("GET", "/v1/ledger/checkpoint"), ("GET", "/v1/ledger/proof"),
        ("GET", "/v1/ledger/consistency"), ("GET", "/v1/state"),
        ("PUT", "/v1/policy"), ("GET", "/v1/policy"),
        ("GET", "/v1/environments/{env}"), ("GET", "/v1/environments/{env}/desired"),
        ("POST", "/v1/environments/{env}/promote"),
        ("GET", "/v1/keys"), ("POST", "/v1/keys"), ("POST", "/v1/keys/{key}/revoke"),
        ("POST", "/v1/keys/{key}/rotate"),
        ("GET", "/v1/hosts"), ("POST", "/v1/hosts"), ("GET", "/v1/hosts/{name}"), ("POST", "/v1/hosts/{name}/revoke"),
        ("GET", "/v1/rollouts/{env}"), ("POST", "/v1/rollouts/{env}/pause"), ("POST", "/v1/rollouts/{env}/resume"),
        ("POST", "/v1/rollouts/{env}/abort"),
        ("GET", "/v1/agent/desired"), ("POST", "/v1/agent/reports"), ("POST", "/v1/agent/execs/{id}"),
        ("POST", "/v1/access/windows"), ("GET", "/v1/access/windows"), ("GET", "/v1/access/windows/{id}"),
        ("POST", "/v1/access/windows/{id}/approve"), ("POST", "/v1/access/windows/{id}/deny"),
        ("POST", "/v1/access/windows/{id}/close"), ("POST", "/v1/exec"), ("GET", "/v1/exec/{id}"),
    ]

    /// The methods a concrete path is served with (empty: no such path). Literal segments win
    /// over `{parameters}`, as in the router: `/v1/ledger/checkpoint` is not `/v1/ledger/{x}`.
    package static func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var best: (literals: Int, methods: [String])?
        for (method, template) in routes {
            let parts = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard parts.count == segments.count else { continue }
            var literals = 0
            var matches = true
            for (part, segment) in zip(parts, segments) {
                if part.hasPrefix("{") {
                    if segment.isEmpty { matches = false }
                } else if part == segment {
                    literals += 1
                } else {
                    matches = false
                }
                if !matches { break }
            }
            guard matches else { continue }
            if best == nil || literals > best!.literals {
                best = (literals, [method])
            } else if literals == best!.literals {
                best!.methods.append(method)
            }
        }
        return best?.methods.sorted() ?? []
    }
}
