import Foundation
import Hummingbird
import NIOCore

/// The short page a user sees when Segment sends them back after enabling Inlet.
enum HTMLPage {
    static func enableCompleted(tenant: Tenant) -> Response {
        let name = escape(tenant.name)
        let next = tenant.redirectURL.map { url in
            #"<p><a href="\#(escape(url))">Continue</a></p>"#
        } ?? ""
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Inlet connected</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
            </head><body>
            <h1>Segment is connected</h1>
            <p>Events from your Segment workspace now flow to Inlet for <strong>\(name)</strong>.
            They appear in your tables within seconds of Segment sending them.</p>
            \(next)
            </body></html>
            """
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}
