import ArgumentParser
import Foundation
import InletServer

/// `inlet partitions list/create/prune`: the months of the message tables, creating them ahead of
/// a Replay, and dropping old ones.
struct PartitionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partitions", abstract: "The months of the message tables: their size; create them ahead; drop old ones.",
        subcommands: [List.self, Create.self, Prune.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each month: its tables' partitions, rows (PostgreSQL's estimate) and total size.")

        @Flag(help: "Print JSON (one array of months, each with its partitions).") var json = false

        func run() throws {
            let months = try PartitionCatalog(connection: try connectFromEnvironment()).months()
            if json {
                print(try prettyJSON(months))
                return
            }
            print("month    partitions  ~rows         size        state")
            for month in months {
                let states = Set(month.partitions.map(\.state)).subtracting([.attached]).map(\.rawValue).sorted()
                print(
                    column(month.month, 9) + column(String(month.partitions.count), 12) + column(String(month.estimatedRows), 14)
                        + column(humanBytes(month.bytes), 12) + (states.isEmpty ? "attached" : states.joined(separator: ", ")))
            }
            print("~rows: live rows as PostgreSQL's statistics estimate them; size: tables, indexes and TOAST")
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the partitions of the months FROM to TO (default: the current month), ahead of a Replay: otherwise its first requests wait while they are created.")

        @Option(help: "The first month, YYYY-MM (2000-01 at the earliest).") var from: String
        @Option(help: "The last month, YYYY-MM (default: the current month).") var to: String?

        func run() throws {
            guard let first = PartitionCreator.Month(from) else {
                throw ValidationError("--from takes a month YYYY-MM from 2000-01 on (older timestamps are stored at their arrival time), e.g. 2023-12")
            }
            let creator = PartitionCreator(connection: try connectFromEnvironment())
            let current = try creator.currentMonth()
            var last = current
            if let to {
                guard let month = PartitionCreator.Month(to) else { throw ValidationError("--to takes a month YYYY-MM, e.g. \(current)") }
                last = month
            }
            guard first <= last else { throw ValidationError("--from \(first) is after --to \(last)") }
            let terminal = TerminalProgress()
            let created = try creator.create(from: first, to: last) { month, created in
                terminal.show("\(month): \(created) partitions created so far")
            }
            terminal.clear()
            print("created \(created) partitions for \(first) to \(last) (6 for each month that had none)")
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop the months whose end is older than now minus DURATION (never the current month): detach concurrently, then drop.")

        @Option(help: "e.g. 400d (also s, m, h).") var olderThan: String
        @Flag(help: "Only list the months that would be dropped.") var dryRun = false

        func run() throws {
            guard let bound = parseDuration(olderThan) else {
                throw ValidationError("--older-than takes a number followed by s, m, h or d, e.g. 400d")
            }
            let terminal = TerminalProgress()
            let outcome = try PartitionPruner(connection: try connectFromEnvironment()).prune(olderThan: bound, dryRun: dryRun, progress: { progress in
                guard !dryRun, let current = progress.current else { return }
                terminal.show("dropped \(progress.partitionsDropped)/\(progress.partitionsTotal) partitions (\(current))")
            })
            terminal.clear()
            let months = outcome.months.isEmpty ? "no month" : outcome.months.joined(separator: ", ")
            if dryRun {
                print("would drop \(outcome.partitionsTotal) partitions: \(months)")
            } else {
                print(
                    "dropped \(outcome.partitionsDropped) partitions (\(humanBytes(outcome.bytesFreed))): \(months)"
                        + (outcome.finalized > 0 ? "; \(outcome.finalized) left detach pending by an earlier prune finished" : ""))
            }
        }
    }
}

/// `1.5 MiB`.
func humanBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
}
