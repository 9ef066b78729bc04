import Foundation
import InletSchema
import PostgresClient

/// The PostgreSQL server `make test` started, and fresh databases in it.
///
/// Tests stay independent by each using a database (or tenants and messageIds) of its own,
/// never by running in a given order.
public enum TestDatabase {
    /// `DATABASE_URL`, as `make test` exports it.
    public static var serverURL: String {
        guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            fatalError("DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
        }
        return url
    }

    /// Creates an empty database with a unique name and returns its URL.
    public static func createEmpty(_ label: String = "test") throws -> String {
        let name = "\(label)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        let admin = try Connection(url: serverURL, applicationName: "inlet-tests")
        try admin.execute("CREATE DATABASE \(try admin.escapeIdentifier(name))")
        return url(forDatabase: name)
    }

    /// Creates a database with every migration applied and returns its URL.
    public static func createMigrated(_ label: String = "migrated") throws -> String {
        let url = try createEmpty(label)
        try migrate(url)
        return url
    }

    /// Applies the compiled-in migrations to the database at `url`.
    public static func migrate(_ url: String) throws {
        try Migrator(migrations: .embedded()).up(on: Connection(url: url))
    }

    /// `serverURL` pointing at another database of the same server.
    public static func url(forDatabase name: String) -> String {
        let url = serverURL
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), var components = URLComponents(string: url) {
            components.path = "/" + name
            if let result = components.string { return result }
        }
        // A keyword string: a later keyword overrides an earlier one.
        return url + " dbname=\(name)"
    }

    /// A connection to `url`.
    public static func connect(_ url: String) throws -> Connection {
        try Connection(url: url, applicationName: "inlet-tests")
    }
}

