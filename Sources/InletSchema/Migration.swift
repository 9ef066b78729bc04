import Crypto
import Foundation

/// One forward-only schema change: a file `V<version>__<name>.sql`.
///
/// A file whose first lines carry the comment `-- inlet:no-transaction` runs outside a
/// transaction (for `CREATE INDEX CONCURRENTLY` and the like); every other file runs, together
/// with its history row, in one transaction.
public struct Migration: Sendable, Hashable {
    public let version: Int
    /// The descriptive part of the file name: `create_tenants` for `V0001__create_tenants.sql`.
    public let name: String
    public let fileName: String
    public let sql: String
    /// Hex SHA-256 of the file with line endings normalised to `\n`, so a checkout with CRLF
    /// endings does not look like an edited migration.
    public let checksum: String
    public let runsInTransaction: Bool

    static let noTransactionMarker = "-- inlet:no-transaction"

    public init(fileName: String, contents: Data) throws {
        guard let (version, name) = Self.parse(fileName: fileName) else {
            throw MigrationError.invalidFileName(fileName)
        }
        guard let text = String(data: contents, encoding: .utf8) else {
            throw MigrationError.notUTF8(fileName)
        }
        let normalised = text.replacingOccurrences(of: "\r\n", with: "\n")
        self.version = version
        self.name = name
        self.fileName = fileName
        self.sql = normalised
        self.checksum = SHA256.hash(data: Data(normalised.utf8)).map { String(format: "%02x", $0) }.joined()
        self.runsInTransaction = !normalised.split(separator: "\n", maxSplits: 5)
            .prefix(5)
            .contains { $0.trimmingCharacters(in: .whitespaces) == Self.noTransactionMarker }
    }

    /// `V0012__add_index.sql` → (12, "add_index").
    static func parse(fileName: String) -> (Int, String)? {
        guard fileName.hasPrefix("V"), fileName.hasSuffix(".sql"),
            let separator = fileName.range(of: "__")
        else { return nil }
        let digits = fileName[fileName.index(after: fileName.startIndex)..<separator.lowerBound]
        let name = fileName[separator.upperBound..<fileName.index(fileName.endIndex, offsetBy: -4)]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let version = Int(digits), version > 0, !name.isEmpty
        else { return nil }
        return (version, String(name))
    }

    /// The 1-based line of a 1-based character position in `sql`, for error messages.
    func line(ofCharacterPosition position: Int) -> Int {
        sql.prefix(max(0, position - 1)).reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
    }
}
