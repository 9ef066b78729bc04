import ArgumentParser
import Foundation
import InletServer

extension TenantCommand {
    /// `inlet tenant erase-user ID USER_ID`: records an erasure request and, unless `--no-wait`,
    /// carries it out here with the server's own code (``ErasurePass``).
    struct EraseUser: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "erase-user",
            abstract: "Erase a user's rows (every message table and month, their anonymous ids' rows, their profile, their quarantined messages).")

        @Argument(help: "The tenant's id.") var id: Int64
        @Argument(help: "The user's userId.") var userID: String

        @Flag(help: "Only record the request: `inlet serve` carries it out within INLET_ERASURE_INTERVAL.")
        var noWait = false

        @Flag(help: "Print the request as JSON at the end.") var json = false

        func run() throws {
            let connection = try connectFromEnvironment()
            let store = ErasureRequestStore(connection: connection)
            let recorded = try store.record(tenant: id, userID: userID, source: .cli)
            if !noWait {
                let terminal = TerminalProgress()
                try ErasurePass(connection: connection).run(tenant: id, progress: { progress in
                    terminal.show(
                        "erasing: table \(progress.stepsDone)/\(progress.stepsTotal), \(progress.rowsDeleted) rows deleted"
                            + (progress.lastStep.map { " (\($0))" } ?? ""))
                })
                terminal.clear()
            }
            let request = try store.find(tenant: id, messageID: recorded.messageID) ?? recorded
            if json {
                print(try prettyJSON(request))
                return
            }
            switch request.state {
            case .done:
                print("tenant \(id): user \"\(userID)\" erased, \(request.rowsDeleted) rows deleted (request \(request.messageID))")
            case .pending where noWait:
                print("tenant \(id): erasure of \"\(userID)\" recorded as \(request.messageID); `inlet serve` carries it out (see `inlet deletes list`)")
            default:
                // Another pass (a server) holds some of its tables now; it finishes them.
                print("tenant \(id): erasure of \"\(userID)\" is \(request.state.rawValue) (\(request.stepsDone) tables done); `inlet deletes list` shows when it is done")
            }
        }
    }
}
