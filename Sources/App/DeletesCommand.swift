import ArgumentParser
import InletServer

/// `inlet deletes list`: the erasure requests and how far each got.
struct DeletesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deletes", abstract: "Erasure requests (delete messages, erase-user) and their progress.",
        subcommands: [List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each request: pending / running / done, rows deleted, tables done, times; unfinished first.")

        @Option(help: "Only this tenant's.") var tenant: Int64?
        @Option(help: "How many (default 200).") var limit: Int = 200
        @Flag(help: "Print JSON (one array).") var json = false

        func run() throws {
            let requests = try ErasureRequestStore(connection: try connectFromEnvironment()).list(tenant: tenant, limit: limit)
            if json {
                print(try prettyJSON(requests))
                return
            }
            print("tenant  state    source     user_id               rows_deleted  tables   requested_at                   finished_at                    last table")
            for request in requests {
                print(
                    column(String(request.tenantID), 8) + column(request.state.rawValue, 9) + column(request.source.rawValue, 11)
                        + column(request.userID, 22) + column(String(request.rowsDeleted), 14)
                        + column("\(request.stepsDone)/\(request.stepsTotal.map(String.init) ?? "?")", 9)
                        + column(request.requestedAt, 31) + column(request.finishedAt ?? "-", 31) + (request.lastStep ?? "-"))
            }
        }
    }
}
