import Foundation

/// The ordered migrations a binary knows: the ones compiled in, or a directory's.
public struct MigrationSet: Sendable {
    /// Sorted by version; versions are unique.
    public let migrations: [Migration]

    public init(_ migrations: [Migration]) throws {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw MigrationError.duplicateVersion(previous.fileName, next.fileName)
        }
        self.migrations = sorted
    }

    /// The migrations compiled into this binary from the package's `sql/` folder.
    public static func embedded() throws -> MigrationSet {
        try MigrationSet(
            embeddedMigrationFiles.map { file in
                guard let contents = Data(base64Encoded: file.base64) else {
                    throw MigrationError.notUTF8(file.name)
                }
                return try Migration(fileName: file.name, contents: contents)
            })
    }

    /// The `V*.sql` files of `directory` (other files are ignored).
    public static func load(directory: URL) throws -> MigrationSet {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw MigrationError.unreadableDirectory(directory.path)
        }
        return try MigrationSet(
            names.filter { $0.hasSuffix(".sql") }.map { name in
                try Migration(fileName: name, contents: Data(contentsOf: directory.appending(path: name)))
            })
    }

    /// The highest version, which a database must have applied to be current.
    public var latestVersion: Int { migrations.last?.version ?? 0 }
}
