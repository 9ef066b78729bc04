import PostgresClient

/// Why the migrator refused or failed. Each message names the file concerned.
///
/// A struct around a private enum, so new cases can be added without breaking callers.
public struct MigrationError: Error, CustomStringConvertible, Sendable {
    private enum Reason: Sendable {
        case invalidFileName(String)
        case notUTF8(String)
        case duplicateVersion(String, String)
        case unreadableDirectory(String)
        case checksumMismatch(fileName: String, applied: String, current: String)
        case failed(fileName: String, line: Int?, underlying: PostgresError)
        case lockTimeout(seconds: Int)
    }

    private let reason: Reason

    static func invalidFileName(_ name: String) -> Self { Self(reason: .invalidFileName(name)) }
    static func notUTF8(_ name: String) -> Self { Self(reason: .notUTF8(name)) }
    static func duplicateVersion(_ a: String, _ b: String) -> Self { Self(reason: .duplicateVersion(a, b)) }
    static func unreadableDirectory(_ path: String) -> Self { Self(reason: .unreadableDirectory(path)) }
    static func checksumMismatch(fileName: String, applied: String, current: String) -> Self {
        Self(reason: .checksumMismatch(fileName: fileName, applied: applied, current: current))
    }
    static func failed(fileName: String, line: Int?, underlying: PostgresError) -> Self {
        Self(reason: .failed(fileName: fileName, line: line, underlying: underlying))
    }
    static func lockTimeout(seconds: Int) -> Self { Self(reason: .lockTimeout(seconds: seconds)) }

    /// True when an applied migration's file was edited after it ran.
    public var isChecksumMismatch: Bool {
        if case .checksumMismatch = reason { return true }
        return false
    }

    public var description: String {
        switch reason {
        case .invalidFileName(let name):
            "\(name): a migration file must be named V<number>__<name>.sql"
        case .notUTF8(let name):
            "\(name): not valid UTF-8"
        case .duplicateVersion(let a, let b):
            "\(a) and \(b) have the same version number"
        case .unreadableDirectory(let path):
            "cannot read the migrations directory \(path)"
        case .checksumMismatch(let fileName, let applied, let current):
            "\(fileName) was changed after it was applied (checksum \(applied.prefix(12))… in the database, "
                + "\(current.prefix(12))… now). Applied migrations are never edited: restore the file and "
                + "add a new migration instead."
        case .failed(let fileName, let line, let underlying):
            "\(fileName)\(line.map { " line \($0)" } ?? "") failed and was rolled back: \(underlying)"
        case .lockTimeout(let seconds):
            "another migrator held the migration lock for \(seconds) s; giving up"
        }
    }
}
