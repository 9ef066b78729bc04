import InletMessages
import PostgresClient

/// Carries out a tenant's unfinished erasure requests, one table at a time.
///
/// resolve anonymous ids (from the users' identifies) → for each partition of the six message
/// tables, then `events.users`, then the quarantine: one transaction that deletes the rows of
/// every request still lacking that table and appends the table to each one's cursor
/// (`steps_done`) → requests with every table done are finished.
///
/// The message tables are indexed only by (tenant_id, "timestamp", id): a step reads the
/// tenant's rows of one month through that key, so a pass reads the tenant's rows once for all
/// its requests together, however many there are. Deletes lock only the erased rows: writers
/// (COPY of other rows) never wait on a step, and a step waits at most `lockTimeout` for a lock
/// (a partition being dropped), then fails and is tried again by the next pass.
///
/// Requests are claimed per step with `FOR UPDATE SKIP LOCKED`: passes on several instances (or
/// a foreground `erase-user`) never do one request's step twice, and never wait on each other.
/// Blocking: run it on a thread of its own.
public struct ErasurePass {
    public struct Progress: Sendable, Equatable {
        public var tenantID: Int64
        /// Steps (tables) of the current round done, of how many.
        public var stepsDone = 0
        public var stepsTotal = 0
        /// Rows this pass deleted.
        public var rowsDeleted: Int64 = 0
        /// Requests this pass finished.
        public var finished = 0
        /// The table done last.
        public var lastStep: String?
    }

    let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    /// Longest one step may run on the server: a month of a large tenant is read in one
    /// statement. The connection's own setting (a background session's 10 s) is overridden.
    static let stepTimeout = "15min"
    /// Longest a step waits for a lock (only a DROP or DETACH of its partition takes one that
    /// conflicts with a DELETE).
    static let lockTimeout = "5s"
    /// A pass repeats while it gets somewhere (a request recorded or a month attached during a
    /// round is done in the next), at most this many rounds.
    static let maxRounds = 5

    /// The quarantine and the profiles, after the message tables' partitions.
    static let fixedSteps = ["events.users", "inlet.rejected_messages"]

    /// Tenants with an unfinished request.
    public static func tenantsWithWork(on connection: Connection) throws -> [Int64] {
        try connection.query("SELECT DISTINCT tenant_id FROM inlet.delete_requests WHERE processed_at IS NULL ORDER BY 1")
            .rows.map { try $0.decode(Int64.self, at: 0) }
    }

    /// Carries out every unfinished request of `tenant` that no other pass holds. `shouldStop`
    /// is asked before each step (shutdown): what was committed stays done, the rest is resumed
    /// by the next pass. `progress` is told after each step.
    @discardableResult
    public func run(tenant: Int64, shouldStop: () -> Bool = { false }, progress: (Progress) -> Void = { _ in }) throws -> Progress {
        var state = Progress(tenantID: tenant)
        for _ in 0..<Self.maxRounds {
            let unfinished = try connection.query(
                "SELECT EXISTS (SELECT 1 FROM inlet.delete_requests WHERE tenant_id = $1 AND processed_at IS NULL)", tenant)
            guard try unfinished.first?.decode(Bool.self, at: 0) == true else { break }
            try resolveAnonymousIDs(tenant)
            let steps = try PartitionCatalog(connection: connection).partitions().map(\.qualifiedName) + Self.fixedSteps
            state.stepsTotal = steps.count
            state.stepsDone = 0
            var gotSomewhere = false
            for step in steps {
                if shouldStop() { return state }
                if let deleted = try erase(step, tenant: tenant, stepsTotal: steps.count) {
                    state.rowsDeleted += deleted
                    gotSomewhere = true
                }
                state.stepsDone += 1
                state.lastStep = step
                progress(state)
            }
            state.finished += try finish(tenant, steps: steps)
            progress(state)
            if !gotSomewhere { break }
        }
        return state
    }

    /// Starts the tenant's new requests: their users' anonymous ids, from their identifies,
    /// are found and kept before any identify is deleted (afterwards they could not be found).
    /// One read of the tenant's identifies for all of them.
    func resolveAnonymousIDs(_ tenant: Int64) throws {
        try connection.transaction {
            try limitStep()
            try connection.query(
                """
                WITH todo AS (
                    SELECT message_id, user_id FROM inlet.delete_requests
                    WHERE tenant_id = $1 AND processed_at IS NULL AND anonymous_ids IS NULL
                    FOR UPDATE SKIP LOCKED),
                found AS (
                    SELECT i.user_id, array_agg(DISTINCT i.anonymous_id ORDER BY i.anonymous_id) AS ids
                    FROM events.identifies i
                    WHERE i.tenant_id = $1 AND i.user_id IN (SELECT user_id FROM todo) AND coalesce(i.anonymous_id, '') <> ''
                    GROUP BY i.user_id)
                UPDATE inlet.delete_requests r
                SET started_at = now(), anonymous_ids = coalesce(found.ids, '{}')
                FROM todo LEFT JOIN found ON found.user_id = todo.user_id
                WHERE r.tenant_id = $1 AND r.message_id = todo.message_id
                """, tenant)
        }
    }

    /// One step: deletes the rows of `step` (a table) belonging to every claimable request that
    /// lacks it, and advances their cursors. Nil when no request needed it.
    ///
    /// A month is erased one day at a time, each day its own transaction (the last one also
    /// advances the cursors): a transaction holds the erased rows' locks only as long as it
    /// takes to read one day of the tenant through the primary key, so a writer storing a
    /// redelivered copy of one of them waits for that, never for a whole month (which could
    /// outlast the writers' transaction timeout and get every tenant of the batch a 503).
    /// A step interrupted midway is done again from its first day; the days done find nothing.
    func erase(_ step: String, tenant: Int64, stepsTotal: Int) throws -> Int64? {
        let days = try self.days(of: step)
        var total: Int64?
        for (index, day) in days.enumerated() {
            let last = index == days.count - 1
            let deleted = try connection.transaction { () -> Int64? in
                try limitStep()
                let requests = try connection.query(
                    """
                    SELECT message_id, user_id, array_to_json(anonymous_ids)::text FROM inlet.delete_requests
                    WHERE tenant_id = $1 AND processed_at IS NULL AND anonymous_ids IS NOT NULL AND NOT ($2 = ANY (steps_done))
                    FOR UPDATE SKIP LOCKED
                    """, tenant, step
                ).rows.map(ClaimedRequest.init(row:))
                guard !requests.isEmpty else { return nil }
                let (deleted, perRequest) = try deleteRows(of: requests, from: step, tenant: tenant, day: day)
                for (request, rows) in zip(requests, perRequest) {
                    try connection.query(
                        """
                        UPDATE inlet.delete_requests
                        SET steps_done = CASE WHEN $6 THEN array_append(steps_done, $3) ELSE steps_done END,
                            rows_deleted = rows_deleted + $4, steps_total = $5
                        WHERE tenant_id = $1 AND message_id = $2
                        """, tenant, request.messageID, step, rows, stepsTotal, last)
                }
                return deleted
            }
            guard let deleted else { return total }
            total = (total ?? 0) + deleted
        }
        return total
    }

    /// The days of a month partition (`events.tracks_y2026m03`), as timestamps; one nil for
    /// any other step (done in one transaction).
    func days(of step: String) throws -> [String?] {
        guard let match = step.firstMatch(of: #/_y(\d{4})m(\d{2})$/#), let year = Int(match.1), let month = Int(match.2) else {
            return [nil]
        }
        return try connection.query(
            """
            SELECT d::text FROM generate_series(make_timestamptz($1, $2, 1, 0, 0, 0, 'UTC'),
                make_timestamptz($1, $2, 1, 0, 0, 0, 'UTC') + interval '1 month' - interval '1 day', interval '1 day') AS d
            """, year, month
        ).rows.map { try $0.decode(String?.self, at: 0) }
    }

    /// Deletes the requests' rows from `step`: the rows deleted, and how many of them are each
    /// request's (two requests for one user both count its rows).
    private func deleteRows(of requests: [ClaimedRequest], from step: String, tenant: Int64, day: String?) throws -> (Int64, [Int64]) {
        if step == "inlet.rejected_messages" {
            // Quarantined messages are raw JSON: matched one request at a time by their members.
            var perRequest: [Int64] = []
            for request in requests {
                perRequest.append(
                    Int64(
                        try connection.query(
                            """
                            DELETE FROM inlet.rejected_messages
                            WHERE tenant_id = $1 AND inlet.quarantined_message_of(raw_message, ARRAY[$2], $3::text[])
                            """, tenant, request.userID, PostgresArrayLiteral(request.anonymousIDs).text
                        ).affectedRows))
            }
            return (perRequest.reduce(0, +), perRequest)
        }
        let users = PostgresArrayLiteral(Set(requests.map(\.userID)).sorted()).text
        let anonymous = PostgresArrayLiteral(Set(requests.flatMap(\.anonymousIDs)).sorted()).text
        let groups: [Row]
        if step == "events.users" {
            groups = try connection.query(
                """
                WITH gone AS (DELETE FROM events.users WHERE tenant_id = $1 AND id = ANY ($2::text[]) RETURNING id)
                SELECT id, '', count(*) FROM gone GROUP BY 1
                """, tenant, users
            ).rows
        } else {
            // A partition dropped since it was listed (a prune) has nothing left to erase.
            guard try connection.query("SELECT to_regclass($1) IS NOT NULL", step).first?.decode(Bool.self, at: 0) == true else {
                return (0, requests.map { _ in 0 })
            }
            let table = try step.split(separator: ".").map { try connection.escapeIdentifier(String($0)) }.joined(separator: ".")
            // An anonymous id's rows go only while no other user is named on them: a shared
            // device's later rows for someone else stay.
            groups = try connection.query(
                """
                WITH gone AS (
                    DELETE FROM \(table)
                    WHERE tenant_id = $1
                      AND ($4::timestamptz IS NULL OR ("timestamp" >= $4::timestamptz AND "timestamp" < $4::timestamptz + interval '1 day'))
                      AND (user_id = ANY ($2::text[]) OR (anonymous_id = ANY ($3::text[]) AND coalesce(user_id, '') = ''))
                    RETURNING user_id, anonymous_id)
                SELECT coalesce(user_id, ''), coalesce(anonymous_id, ''), count(*) FROM gone GROUP BY 1, 2
                """, tenant, users, anonymous, day
            ).rows
        }
        var deleted: Int64 = 0
        var perRequest = requests.map { _ in Int64(0) }
        for group in groups {
            let (user, anonymousID, rows) = (try group.decode(String.self, at: 0), try group.decode(String.self, at: 1), try group.decode(Int64.self, at: 2))
            deleted += rows
            for (index, request) in requests.enumerated()
            where user == request.userID || (user.isEmpty && request.anonymousIDs.contains(anonymousID)) {
                perRequest[index] += rows
            }
        }
        return (deleted, perRequest)
    }

    /// Finishes the tenant's requests that have every one of `steps` done; how many.
    ///
    /// Two things can put a user's rows back behind the steps, and are swept first: a month
    /// attached during the round (a replay of an old month; then the requests wait for the next
    /// round, which has it as a step) and rows stored after their month's step (a redelivery
    /// of the user's messages, a profile upsert). The sweep reads, in each table, the rows
    /// loaded since the request started (a minute earlier, for writers then in flight) through
    /// the BRIN index on loaded_at.
    func finish(_ tenant: Int64, steps: [String]) throws -> Int {
        let now = try PartitionCatalog(connection: connection).partitions().map(\.qualifiedName) + Self.fixedSteps
        guard Set(now).isSubset(of: Set(steps)) else { return 0 }
        return try connection.transaction {
            try limitStep()
            let requests = try connection.query(
                """
                SELECT message_id, user_id, array_to_json(anonymous_ids)::text, started_at::text FROM inlet.delete_requests
                WHERE tenant_id = $1 AND processed_at IS NULL AND anonymous_ids IS NOT NULL AND steps_done @> $2::text[]
                FOR UPDATE SKIP LOCKED
                """, tenant, PostgresArrayLiteral(steps).text)
            for row in requests.rows {
                let request = try ClaimedRequest(row: row)
                let started: String = try row.decode(at: 3)
                var swept: Int64 = 0
                for table in EventTable.allCases {
                    swept += Int64(
                        try connection.query(
                            """
                            DELETE FROM events.\(table.name)
                            WHERE tenant_id = $1 AND loaded_at >= $4::timestamptz - interval '1 minute'
                              AND (user_id = $2 OR (anonymous_id = ANY ($3::text[]) AND coalesce(user_id, '') = ''))
                            """, tenant, request.userID, PostgresArrayLiteral(request.anonymousIDs).text, started
                        ).affectedRows)
                }
                swept += Int64(
                    try connection.query(
                        "DELETE FROM events.users WHERE tenant_id = $1 AND id = $2 AND updated_at >= $3::timestamptz - interval '1 minute'",
                        tenant, request.userID, started
                    ).affectedRows)
                try connection.query(
                    """
                    UPDATE inlet.delete_requests SET processed_at = now(), rows_deleted = rows_deleted + $3
                    WHERE tenant_id = $1 AND message_id = $2
                    """, tenant, request.messageID, swept)
            }
            return requests.rows.count
        }
    }

    private func limitStep() throws {
        try connection.execute("SET LOCAL statement_timeout = '\(Self.stepTimeout)'; SET LOCAL lock_timeout = '\(Self.lockTimeout)'")
    }
}
