import Foundation
import Logging
import Synchronization

/// Keeps each tenant's latest `X-Segment-Settings` (base64 JSON of the partner's custom
/// settings, sent by Segment on every request) without a write per request: the last value seen
/// per tenant is remembered, and only a change is written, in the background, over one
/// long-lived connection (`inlet-settings` in `pg_stat_activity`).
///
/// Credentials are removed before storing (``CredentialMembers``): Segment leaves the API key
/// out of the header, but a client that puts one in must not get it stored.
final class SegmentSettings: Sendable {
    private let session: DatabaseSession
    private let logger: Logger
    private let lastSeen = Mutex<[Int64: String]>([:])

    init(database: BlockingDatabase, logger: Logger) {
        self.session = database.session("inlet-settings")
        self.logger = logger
    }

    func observe(tenantID: Int64, header: String) {
        let changed = lastSeen.withLock { seen in
            guard seen[tenantID] != header else { return false }
            seen[tenantID] = header
            return true
        }
        guard changed else { return }
        guard let data = Data(base64Encoded: header),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let stripped = try? JSONSerialization.data(withJSONObject: CredentialMembers.removed(from: object)),
            let json = String(data: stripped, encoding: .utf8)
        else {
            logger.notice("ignoring an X-Segment-Settings header that is not base64 of a JSON object", metadata: ["tenant": "\(tenantID)"])
            return
        }
        let session = session
        let logger = logger
        Task {
            do {
                try await session.withConnection { try TenantStore(connection: $0).saveSegmentSettings(id: tenantID, json: json) }
            } catch {
                logger.warning("could not save Segment settings", metadata: ["tenant": "\(tenantID)", "error": "\(logDescription(error))"])
            }
        }
    }
}
