import ArgumentParser
import Foundation
import InletSchema
import PostgresClient

/// `migrator`: owns Inlet's schema. `migrator up` runs on every deploy.
@main
struct MigratorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrator",
        abstract: "Applies Inlet's SQL migrations and reports their state.",
        subcommands: [Up.self, Status.self]
    )
}

/// Options shared by every subcommand. No defaults here, so the environment is never silently
/// overridden by a flag's default value.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "libpq connection URI or keyword string (default: $DATABASE_URL)")
    var databaseURL: String?

    @Option(help: "Read migrations from this folder instead of those compiled into the binary.")
    var sqlDir: String?

    func connect() throws -> Connection {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            throw ValidationError("no database: set DATABASE_URL or pass --database-url")
        }
        return try Connection(url: url, applicationName: "inlet-migrator")
    }

    func migrator(log: @escaping @Sendable (String) -> Void) throws -> Migrator {
        let set = try sqlDir.map { try MigrationSet.load(directory: URL(fileURLWithPath: $0)) } ?? .embedded()
        return Migrator(migrations: set, log: log)
    }
}

extension MigratorCommand {
    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply every pending migration, in order, each in its own transaction.")

        @OptionGroup var options: ConnectionOptions

        @Option(help: "Seconds to wait for another migrator holding the lock (default 300).")
        var lockTimeout: Int?

        func run() throws {
            let migrator = try options.migrator(log: { print($0) })
            let connection = try options.connect()
            let applied = try migrator.up(on: connection, lockTimeout: .seconds(lockTimeout ?? 300))
            if !applied.isEmpty {
                print("applied \(applied.count) migration(s); schema is at version \(migrator.migrations.latestVersion)")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List applied and pending migrations; exit 1 when an applied file was changed.")

        @OptionGroup var options: ConnectionOptions

        func run() throws {
            let migrator = try options.migrator(log: { print($0) })
            let rows = try migrator.status(on: options.connect())
            var drift = false
            print("version  state             applied at                     name")
            for row in rows {
                let version = String(format: "V%04d", row.version).padding(toLength: 9, withPad: " ", startingAt: 0)
                let (state, appliedAt): (String, String) =
                    switch row.state {
                    case .pending: ("pending", "")
                    case .applied(let record): ("applied", record.appliedAt.postgresText)
                    case .checksumChanged(let record): ("CHECKSUM CHANGED", record.appliedAt.postgresText)
                    case .appliedButUnknown(let record): ("applied (newer)", record.appliedAt.postgresText)
                    }
                if case .checksumChanged = row.state { drift = true }
                print(
                    version + state.padding(toLength: 18, withPad: " ", startingAt: 0)
                        + appliedAt.padding(toLength: 31, withPad: " ", startingAt: 0) + row.name)
            }
            if drift {
                throw CommandFailure(message: "an applied migration was changed; `migrator up` will refuse to run")
            }
        }
    }
}

/// A failure reported as `Error: <message>` with exit status 1, without the usage text that a
/// `ValidationError` would add.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
