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
    /// Settings waiting to be written, the latest per tenant, and whether a writer drains them:
    /// one write at a time, so a client alternating headers on many connections costs at most
    /// one connection and one thread, and an older value never lands after a newer one.
    private let pending = Mutex<(values: [Int64: String], draining: Bool)>(([:], false))

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
        let startDrain = pending.withLock { pending in
            pending.values[tenantID] = json
            defer { pending.draining = true }
            return !pending.draining
        }
        guard startDrain else { return }
        Task { await drain() }
    }

    /// Writes pending settings until none are left.
    private func drain() async {
        while true {
            let next: (Int64, String)? = pending.withLock { pending in
                guard let (tenant, json) = pending.values.first else {
                    pending.draining = false
                    return nil
                }
                pending.values.removeValue(forKey: tenant)
                return (tenant, json)
            }
            guard let (tenantID, json) = next else { return }
            do {
                try await session.withConnection { try TenantStore(connection: $0).saveSegmentSettings(id: tenantID, json: json) }
            } catch {
                logger.warning("could not save Segment settings", metadata: ["tenant": "\(tenantID)", "error": "\(logDescription(error))"])
            }
        }
    }
}
