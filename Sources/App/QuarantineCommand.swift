import ArgumentParser
import Configuration
import Foundation
import InletServer
import Logging
import PostgresClient

/// `inlet quarantine`: the messages Inlet refused inside accepted requests, readable, and
/// re-ingested after a fix.
struct QuarantineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine", abstract: "Read and replay the quarantined (rejected) messages.",
        subcommands: [List.self, Show.self, Replay.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The most recent quarantined messages, newest first.")

        @Option(help: "Only this tenant's.") var tenant: Int64?
        @Option(help: "How many (default 100).") var limit: Int = 100
        @Flag(help: "Print JSON (one array).") var json = false

        func run() throws {
            let store = QuarantineStore(connection: try connectFromEnvironment())
            let messages = try store.list(tenant: tenant, limit: limit)
            if json {
                print(try prettyJSON(messages))
                return
            }
            print("id        tenant  rejected_at                    type      sqlstate  message_id                            reason")
            for message in messages {
                print(
                    column(String(message.id), 10) + column(String(message.tenantID), 8) + column(message.rejectedAt, 31)
                        + column(message.type ?? "-", 10) + column(message.sqlState ?? "-", 10)
                        + column(message.messageID ?? "-", 38) + String(message.reason.prefix(80)))
            }
            print("\(try store.count(tenant: tenant)) quarantined in all")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One quarantined message: why, and the message as JSON.")

        @Argument var id: Int64
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard let message = try QuarantineStore(connection: try connectFromEnvironment()).show(id: id) else {
                throw ValidationError("no quarantined message \(id)")
            }
            if json {
                print(try prettyJSON(message))
                return
            }
            print("id           \(message.id)")
            print("tenant       \(message.tenantID)")
            print("rejected     \(message.rejectedAt)")
            print("received     \(message.receivedAt ?? "-")")
            print("type         \(message.type ?? "-")")
            print("message_id   \(message.messageID ?? "-")")
            print("sqlstate     \(message.sqlState ?? "- (refused by validation)")")
            print("reason       \(message.reason)")
            if let replayed = message.replayedAt { print("replayed     \(replayed) (still refused)") }
            print("message:")
            print(message.message)
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-ingest quarantined messages through the normal path: stored ones leave the quarantine, the others stay with their new reason; never stores a message twice.")

        @Option(help: "Only this tenant's.") var tenant: Int64?
        @Option(help: "Only messages quarantined since this time (ISO 8601, e.g. 2026-11-30T00:00:00Z).") var since: String?

        func run() throws {
            guard let url = environment.string(forKey: "database.url", isSecret: true), !url.isEmpty else {
                throw ValidationError("no database: set DATABASE_URL")
            }
            let terminal = TerminalProgress()
            let replay = QuarantineReplay(databaseURL: url, logger: Logger(label: "inlet-quarantine"))
            let result = try replay.run(tenant: tenant, since: since) { progress in terminal.show(Self.describe(progress)) }
            terminal.clear()
            print(Self.describe(result))
        }

        static func describe(_ p: QuarantineReplay.Progress) -> String {
            "replayed \(p.done)/\(p.total): \(p.stored) stored, \(p.duplicates) already stored, \(p.stillRefused) still refused, \(p.deferred) deferred"
        }
    }
}

func column(_ text: String, _ width: Int) -> String {
    text.count >= width ? String(text.prefix(width - 1)) + " " : text.padding(toLength: width, withPad: " ", startingAt: 0)
}

func prettyJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
