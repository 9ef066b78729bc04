import ArgumentParser
import Foundation
import InletServer

/// `inlet partitions list/prune`: the months of the message tables, and dropping old ones.
struct PartitionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partitions", abstract: "The months of the message tables: their size; drop old ones.",
        subcommands: [List.self, Prune.self])

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
