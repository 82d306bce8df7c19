import FixityCore
import Foundation
import Synchronization

/// A logged-in browser: the key it presented (held in this process's memory only, never
/// written anywhere), the CSRF token its forms carry, and when it ends.
struct DashboardSession: Sendable {
    /// The key as presented at login: each request authenticates it again, exactly as the API
    /// does, so a revoked or expired key ends the session at its next request.
    let presented: String
    let csrf: String
    let expires: Date
}

/// The dashboard's sessions, by the SHA-256 of their cookie (the cookie's value itself is not
/// kept). In memory: a restart of `fixity serve` logs every browser out, which costs a login
/// and keeps API keys out of the database a second time.
final class DashboardSessions: Sendable {
    /// The longest a session lives, whatever the key's own expiry.
    static let lifetime: TimeInterval = 8 * 3600
    /// More sessions than this and the oldest are dropped (a flood of logins must not grow memory).
    static let maximum = 10_000

    private let sessions = Mutex<[Digest: DashboardSession]>([:])

    /// Starts a session for `presented`, ending at `keyExpires` if that is sooner; returns the
    /// cookie's value and the session.
    func start(presented: String, keyExpires: Date?, now: Date) -> (cookie: String, session: DashboardSession) {
        let cookie = Self.token()
        var expires = now.addingTimeInterval(Self.lifetime)
        if let keyExpires, keyExpires < expires { expires = keyExpires }
        let session = DashboardSession(presented: presented, csrf: Self.token(), expires: expires)
        sessions.withLock { sessions in
            if sessions.count >= Self.maximum {
                sessions = sessions.filter { $0.value.expires > now }
                while sessions.count >= Self.maximum,
                    let oldest = sessions.min(by: { $0.value.expires < $1.value.expires })
                {
                    sessions[oldest.key] = nil
                }
            }
            sessions[Self.digest(cookie)] = session
        }
        return (cookie, session)
    }

    /// The live session a cookie names; an expired one is dropped.
    func session(cookie: String, now: Date) -> DashboardSession? {
        let key = Self.digest(cookie)
        return sessions.withLock { sessions in
            guard let session = sessions[key] else { return nil }
            guard session.expires > now else {
                sessions[key] = nil
                return nil
            }
            return session
        }
    }

    func end(cookie: String) {
        let key = Self.digest(cookie)
        _ = sessions.withLock { $0.removeValue(forKey: key) }
    }

    /// 32 bytes from the system's cryptographic source, as 64 hex digits.
    static func token() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func digest(_ cookie: String) -> Digest { Digest.of(Array(cookie.utf8)) }

    /// Whether a form's token is the session's, compared in constant time.
    static func matches(_ presented: String?, _ expected: String) -> Bool {
        guard let presented else { return false }
        return APIKeySecret.constantTimeEqual(digest(presented), digest(expected))
    }
}
