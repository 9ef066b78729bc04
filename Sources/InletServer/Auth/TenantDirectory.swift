import Crypto
import Logging
import PostgresClient
import ServiceLifecycle
import Synchronization

/// Which token belongs to which tenant, held in memory and reloaded every few seconds, so that
/// authenticating a request costs one SHA-256 and a dictionary lookup, never a database round trip.
///
/// A token added, disabled or expired in the database takes effect on every running instance
/// within one refresh interval (default 2 s; SPEC requires 5 s). Only hashes are held.
///
/// The first use of each token is noted in memory and recorded in the database at the next
/// refresh (`inlet.tenant_tokens.first_used_at`): the first use of an enable flow's token starts
/// the grace period of the tenant's earlier tokens (TenantStore+EnableFlow.swift). Reloads and
/// those writes share one long-lived connection (`inlet-tenant-directory` in `pg_stat_activity`).
public final class TenantDirectory: Service, Sendable {
    private let session: DatabaseSession
    private let interval: Duration
    private let logger: Logger
    /// Not loaded until the first load succeeded: requests are answered 503 until then, not 401.
    private let table = Mutex(TokenTable())

    public init(database: BlockingDatabase, refreshInterval: Duration, logger: Logger) {
        self.session = database.session("inlet-tenant-directory")
        self.interval = refreshInterval
        self.logger = logger
    }

    public enum Lookup: Sendable, Equatable {
        case tenant(Int64)
        case unknown
        /// Tokens have not been loaded yet (database unreachable since start).
        case notLoaded
    }

    /// True once tokens were loaded: before that, every request would be refused with 503.
    public var isLoaded: Bool { table.withLock { $0.isLoaded } }

    /// The tenant a token authenticates (an ingest request's: its first use is noted).
    public func authenticate(token: String) -> Lookup {
        let hash = TokenHash(token: token)
        return table.withLock { $0.authenticate(hash) }
    }

    public func run() async throws {
        try await repeatUntilShutdown(every: interval) {
            await self.recordFirstUses()
            await self.refresh()
        }
        session.close()
    }

    /// Reloads every usable token now.
    public func refresh() async {
        do {
            let loaded = try await session.withConnection { connection in
                try connection.query(
                    """
                    SELECT k.token_sha256, k.tenant_id, k.first_used_at IS NULL FROM inlet.tenant_tokens k
                    JOIN inlet.tenants t ON t.id = k.tenant_id
                    WHERE t.enabled AND (k.expires_at IS NULL OR k.expires_at > now())
                    """
                ).rows.map { row in
                    (
                        TokenHash(try row.decode(ByteaValue.self, at: 0).bytes),
                        TokenTable.Entry(tenantID: try row.decode(at: 1), awaitsFirstUse: try row.decode(at: 2))
                    )
                }
            }
            let map = Dictionary(loaded, uniquingKeysWith: { first, _ in first })
            table.withLock { $0.load(map) }
        } catch is CancellationError {
            // Shutting down.
        } catch {
            // Keep serving with the last good set; a database outage is reported by /readyz.
            logger.warning("could not reload tenant tokens", metadata: ["error": "\(logDescription(error))"])
        }
    }

    /// Records the first uses noted since the last call; those that fail are kept for the next.
    public func recordFirstUses() async {
        let uses = table.withLock { $0.takeUnrecordedFirstUses() }
        guard !uses.isEmpty else { return }
        let sent = uses.map { (hash: $0.key.bytes, secondsAgo: (ContinuousClock.now - $0.value).timeInterval) }
        do {
            try await session.withConnection { connection in
                let store = TenantStore(connection: connection)
                for use in sent { try store.recordFirstUse(sha256: use.hash, secondsAgo: use.secondsAgo) }
            }
        } catch {
            // Recording is idempotent: those already recorded are harmless to record again.
            table.withLock { $0.restore(uses) }
            if !(error is CancellationError) {
                logger.warning("could not record tokens' first use", metadata: ["error": "\(logDescription(error))"])
            }
        }
    }
}
