import ArgumentParser
import Foundation
import InletServer

/// `inlet bi ...`: the tenants' BI schemas (docs/SCHEMA.md).
struct BICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bi", abstract: "The tenants' BI schemas: views shaped like a Segment warehouse.",
        subcommands: [Refresh.self])

    struct Refresh: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Discover new events and fields and (re)create the BI views, of one tenant or all.")

        @Argument(help: "A tenant id (default: every tenant).")
        var tenant: Int64?

        @Flag(help: "Print one JSON report per tenant.")
        var json = false

        func run() throws {
            let connection = try connectFromEnvironment()
            let progress = TerminalProgress()
            let refresh = BIRefresh(connection: connection, progress: progress.show)
            let reports: [BIRefreshReport]
            if let tenant {
                guard let report = try refresh.refresh(tenantID: tenant) else {
                    throw ValidationError("tenant \(tenant) is being refreshed by someone else (a server): try again shortly")
                }
                reports = [report]
            } else {
                reports = try refresh.refreshAll()
            }
            progress.clear()
            for report in reports {
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    print(String(decoding: try encoder.encode(report), as: UTF8.self))
                    continue
                }
                print(
                    "tenant \(report.tenantID) (\(report.schema)): \(report.views) views, \(report.created) created, "
                        + "\(report.replaced) replaced; \(report.newFields) new fields, \(report.newEvents) new events")
                if !report.busy.isEmpty { print("  busy (a reader held them; retried next time): \(report.busy.joined(separator: ", "))") }
                for (view, reason) in report.failed.sorted(by: { $0.key < $1.key }) { print("  \(view) failed: \(reason)") }
            }
        }
    }
}
