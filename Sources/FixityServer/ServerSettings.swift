import FixityCore
import Foundation

/// How `fixity serve` was asked to run, checked before anything listens.
package struct ServerSettings: Sendable {
    package let host: String
    package let port: Int
    package let tls: (certificate: String, key: String)?
    /// Signs `GET /v1/ledger/checkpoint` notes; nil: the server signs none.
    package let checkpointKey: SigningKey?

    /// Refusals of a bad setting name the option.
    package init(
        listen: String, tlsCertificate: String?, tlsKey: String?, insecureListen: Bool, checkpointKey: SigningKey? = nil
    ) throws {
        self.checkpointKey = checkpointKey
        (host, port) = try Self.parse(listen)
        switch (tlsCertificate, tlsKey) {
        case (let certificate?, let key?): tls = (certificate, key)
        case (nil, nil): tls = nil
        default: throw ServerSettingsError("--tls-cert and --tls-key go together")
        }
        if tls == nil && !insecureListen && !Self.isLoopback(host) {
            throw ServerSettingsError(
                "--listen \(listen): without TLS the server listens on loopback only (127.0.0.1, ::1, localhost); give --tls-cert and --tls-key, or --insecure-listen to serve plain HTTP on \(host) anyway"
            )
        }
    }

    /// `HOST:PORT` or `[IPv6]:PORT`; port 0 picks a free port (printed when listening).
    static func parse(_ text: String) throws -> (String, Int) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else {
                throw ServerSettingsError("--listen \(text): write an IPv6 address as [ADDRESS]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ServerSettingsError("--listen \(text): expected HOST:PORT, such as 127.0.0.1:8440")
            }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else {
            throw ServerSettingsError("--listen \(text): expected HOST:PORT with a port 0-65535")
        }
        return (String(host), number)
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

package struct ServerSettingsError: FixityError, Sendable {
    package let message: String
    package var category: ErrorCategory { .badInput }
    init(_ message: String) { self.message = message }
}
