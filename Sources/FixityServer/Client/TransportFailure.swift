import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// A transport error said the way an operator reads it: "connection refused", not
/// `connection reset (error set): Connection refused (errno: 111)`.
enum TransportFailure {
    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return reason(errno: io.errnoCode) }
        if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.first { return describe(first.error) }
            if let dns = connection.dnsAAAAError ?? connection.dnsAError { return "the name did not resolve: \(dns)" }
        }
        if let client = error as? HTTPClientError {
            switch client {
            case .connectTimeout: return "no answer to the connection within the connect timeout"
            case .readTimeout: return "the server stopped answering (read timeout)"
            case .deadlineExceeded: return "the request ran past its deadline"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return client.description
            }
        }
        if let channel = error as? ChannelError, case .connectTimeout = channel {
            return "no answer to the connection within the connect timeout"
        }
        return String(describing: error)
    }

    private static func reason(errno code: Int32) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused (is `fixity serve` running there?)"
        case ECONNRESET: return "the connection was reset"
        case EHOSTUNREACH, ENETUNREACH: return "the host is unreachable"
        case ETIMEDOUT: return "the connection timed out"
        default: return String(cString: strerror(code))
        }
    }
}
