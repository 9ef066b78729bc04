import Foundation
import PostgresClient

/// Applies a ``MigrationSet`` to a database and reports its state.
///
/// `up` takes a session-level advisory lock before it reads the history, so concurrent runs
/// (two deploys at once) queue behind each other: the first applies, the next finds nothing to
/// do, and both succeed. Each migration and its history row commit together, so a failure leaves
/// no half-applied migration behind.
public struct Migrator: Sendable {
    public let migrations: MigrationSet
    /// Where progress lines go (the CLI prints them; tests collect them).
    public let log: @Sendable (String) -> Void

    /// The advisory lock key (arbitrary, fixed forever: changing it would let an old and a new
    /// migrator run at once).
    static let lockKey: Int64 = 0x696E_6C65_745F_6D69  // "inlet_mi"

    public init(migrations: MigrationSet, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.migrations = migrations
        self.log = log
    }

    /// Applies every pending migration in version order; returns those it applied.
    /// - Parameter lockTimeout: how long to wait for another migrator to finish.
    @discardableResult
    public func up(on connection: Connection, lockTimeout: Duration = .seconds(300)) throws -> [Migration] {
        try acquireLock(on: connection, timeout: lockTimeout)
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", Self.lockKey) }

        try createHistoryTable(on: connection)
        let applied = try appliedMigrations(on: connection)
        try verifyChecksums(applied)

        let appliedVersions = Set(applied.map(\.version))
        for unknown in applied where !migrations.migrations.contains(where: { $0.version == unknown.version }) {
            log("note: the database has V\(unknown.version) \(unknown.name), which this migrator does not know (a newer release applied it)")
        }
        let pending = migrations.migrations.filter { !appliedVersions.contains($0.version) }
        if pending.isEmpty { log("schema is current (version \(migrations.latestVersion))") }
        for migration in pending {
            try apply(migration, on: connection)
        }
        return pending
    }

    /// Every known or applied migration with its state, in version order.
    public func status(on connection: Connection) throws -> [MigrationStatus] {
        let applied = try historyTableExists(on: connection) ? try appliedMigrations(on: connection) : []
        let appliedByVersion = Dictionary(applied.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        var rows = migrations.migrations.map { migration -> MigrationStatus in
            guard let record = appliedByVersion[migration.version] else {
                return MigrationStatus(version: migration.version, name: migration.name, state: .pending)
            }
            let state: MigrationStatus.State =
                record.checksum == migration.checksum ? .applied(record) : .checksumChanged(record)
            return MigrationStatus(version: migration.version, name: migration.name, state: state)
        }
        let known = Set(migrations.migrations.map(\.version))
        rows += applied.filter { !known.contains($0.version) }.map {
            MigrationStatus(version: $0.version, name: $0.name, state: .appliedButUnknown($0))
        }
        return rows.sorted { $0.version < $1.version }
    }

    // MARK: - Steps

    private func acquireLock(on connection: Connection, timeout: Duration) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var announced = false
        while true {
            let row = try connection.query("SELECT pg_try_advisory_lock($1)", Self.lockKey).first
            if try row?.decode(Bool.self, at: 0) == true { return }
            if clock.now >= deadline {
                throw MigrationError.lockTimeout(seconds: Int(timeout.components.seconds))
            }
            if !announced {
                log("waiting for another migrator to finish")
                announced = true
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    private func createHistoryTable(on connection: Connection) throws {
        try connection.execute(
            """
            CREATE SCHEMA IF NOT EXISTS inlet;
            CREATE TABLE IF NOT EXISTS inlet.schema_migrations (
                version     integer     PRIMARY KEY,
                name        text        NOT NULL,
                checksum    text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                duration_ms integer     NOT NULL
            );
            """)
    }

    private func historyTableExists(on connection: Connection) throws -> Bool {
        let row = try connection.query("SELECT to_regclass('inlet.schema_migrations') IS NOT NULL").first
        return try row?.decode(Bool.self, at: 0) ?? false
    }

    private func appliedMigrations(on connection: Connection) throws -> [AppliedMigration] {
        try connection.query(
            "SELECT version, name, checksum, applied_at, duration_ms FROM inlet.schema_migrations ORDER BY version"
        ).rows.map { row in
            AppliedMigration(
                version: try row.decode(at: 0), name: try row.decode(at: 1), checksum: try row.decode(at: 2),
                appliedAt: try row.decode(at: 3), durationMilliseconds: try row.decode(at: 4))
        }
    }

    private func verifyChecksums(_ applied: [AppliedMigration]) throws {
        for record in applied {
            guard let migration = migrations.migrations.first(where: { $0.version == record.version }) else { continue }
            if migration.checksum != record.checksum {
                throw MigrationError.checksumMismatch(
                    fileName: migration.fileName, applied: record.checksum, current: migration.checksum)
            }
        }
    }

    private func apply(_ migration: Migration, on connection: Connection) throws {
        let clock = ContinuousClock()
        let started = clock.now
        func record() throws {
            let elapsed = clock.now - started
            let milliseconds = Int(elapsed.components.seconds) * 1_000 + Int(elapsed.components.attoseconds / 1_000_000_000_000_000)
            try connection.query(
                "INSERT INTO inlet.schema_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)",
                migration.version, migration.name, migration.checksum, milliseconds)
        }
        do {
            if migration.runsInTransaction {
                try connection.transaction {
                    try connection.execute(migration.sql)
                    try record()
                }
            } else {
                try connection.execute(migration.sql)
                try record()
            }
        } catch let error as PostgresError {
            throw MigrationError.failed(
                fileName: migration.fileName, line: error.position.map(migration.line(ofCharacterPosition:)),
                underlying: error)
        }
        log("applied \(migration.fileName) in \(clock.now - started)")
    }
}

/// A row of `inlet.schema_migrations`.
public struct AppliedMigration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let checksum: String
    public let appliedAt: Timestamp
    public let durationMilliseconds: Int
}

/// One line of `migrator status`.
public struct MigrationStatus: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case applied(AppliedMigration)
        case pending
        /// Applied, but the file differs from what ran: `up` refuses until it is restored.
        case checksumChanged(AppliedMigration)
        /// In the database but not in this binary: a newer release applied it.
        case appliedButUnknown(AppliedMigration)
    }

    public let version: Int
    public let name: String
    public let state: State
}
