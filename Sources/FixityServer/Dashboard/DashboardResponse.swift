import FixityCore
import Foundation
import HTTPTypes
import Hummingbird

/// What every dashboard answer carries: HTML (or the stylesheet, the script, a proof) with a
/// strict Content-Security-Policy — only this server's own stylesheet and script, no inline
/// code, no framing, forms posting only here — and no caching of pages that hold fleet state.
enum DashboardResponse {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func headers(_ contentType: String) -> HTTPFields {
        [
            .contentType: contentType,
            .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            // same-origin, not no-referrer: with no-referrer a browser posts forms with `Origin: null`,
            // which the origin check must refuse.
            .referrerPolicy: "same-origin",
            .xFrameOptions: "DENY",
            .cacheControl: "no-store",
        ]
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: headers("text/html; charset=utf-8"),
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        var fields = headers(type)
        fields[.cacheControl] = "public, max-age=300"
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// 303 See Other: after a form, the browser loads `location` with GET.
    static func redirect(_ location: String) -> Response {
        var fields = headers("text/plain; charset=utf-8")
        fields[.location] = location
        return Response(status: .seeOther, headers: fields)
    }
}

/// What a page that failed shows: its status, and the message the API would have given.
struct ErrorPage {
    let chrome: Chrome?
    let status: Int
    let reason: String
    let message: String
    let rendered: String
}

/// The bar at the top of every page for a logged-in browser.
struct Chrome: Sendable {
    let keyName: String
    let keyID: String
    let csrf: String
    let admin: Bool
}

extension HTTPField.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
