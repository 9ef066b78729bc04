import ArgumentParser
import Configuration
import Foundation
import Hummingbird
import InletServer
import Logging
import PostgresClient

/// `inlet`: the Segment destination endpoint and its tenant administration.
@main
struct InletCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inlet",
        abstract: "Inlet, a Segment destination endpoint that stores events in PostgreSQL.",
        subcommands: [Serve.self, TenantCommand.self, QuarantineCommand.self, DeletesCommand.self, PartitionsCommand.self]
    )
}

/// The environment as swift-configuration sees it: `INLET_PORT` is key `inlet.port`.
let environment = ConfigReader(provider: EnvironmentVariablesProvider())

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the HTTP endpoint until SIGTERM or SIGINT, then drain and exit 0.")

    @Option(help: "Interface to listen on (default: $INLET_HOST or 0.0.0.0).")
    var host: String?

    @Option(help: "Port to listen on (default: $INLET_PORT or 8080).")
    var port: Int?

    func run() async throws {
        keepLargeBlocksOutOfMallocArenas()
        var configuration = try ServerConfiguration(reader: environment)
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        var logger = Logger(label: "inlet")
        logger.logLevel = Logger.Level(rawValue: environment.string(forKey: "inlet.log.level", default: "info")) ?? .info
        let app = try buildApplication(configuration: configuration, logger: logger)
        try await app.runService()
    }
}

struct TenantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants.",
        subcommands: [Create.self, List.self, Show.self, Disable.self, Enable.self, Rotate.self, EraseUser.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant and print its token once, with its Segment enable URL.")

        @Argument(help: "A name for people: the customer or workspace.")
        var name: String

        @Option(help: "Page Segment sends the user back to after enabling (for the enable URL).")
        var redirectURL: String?

        @Flag(help: "Print one JSON object: id, name, token, enable_url.")
        var json = false

        func run() throws {
            let store = TenantStore(connection: try connectFromEnvironment())
            let (tenant, token) = try store.create(name: name, redirectURL: redirectURL)
            printToken(tenant: tenant, token: token, json: json, headline: "tenant \(tenant.id) \"\(tenant.name)\" created")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")

        func run() throws {
            let tenants = try TenantStore(connection: try connectFromEnvironment()).list()
            print("id      enabled  created_at                     name")
            for tenant in tenants {
                print(
                    String(tenant.id).padding(toLength: 8, withPad: " ", startingAt: 0)
                        + (tenant.enabled ? "yes" : "no").padding(toLength: 9, withPad: " ", startingAt: 0)
                        + tenant.createdAt.padding(toLength: 31, withPad: " ", startingAt: 0) + tenant.name)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a tenant: state, tokens, and traffic (is the integration working?).")

        @Argument var id: Int64
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let details = try TenantStore(connection: try connectFromEnvironment()).show(id: id)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(details), as: UTF8.self))
                return
            }
            let tenant = details.tenant
            print("tenant        \(tenant.id) \"\(tenant.name)\"")
            print("state         \(tenant.enabled ? "enabled" : "DISABLED")")
            print("created       \(tenant.createdAt)")
            print("tokens        \(details.activeTokens) usable\(details.graceEndsAt.map { " (an old one stops at \($0))" } ?? "")")
            print("enable flow   \(tenant.enableCompletedAt.map { "completed \($0)" } ?? "not completed")")
            print("last 24 h     \(details.messagesLast24Hours) messages stored")
            print("last message  \(details.lastMessageAt ?? "never")")
            if let settings = details.segmentSettings { print("settings      \(settings)") }
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop every token of a tenant (on all instances within seconds).")
        @Argument var id: Int64

        func run() throws {
            let tenant = try TenantStore(connection: try connectFromEnvironment()).setEnabled(id: id, false)
            print("tenant \(tenant.id) \"\(tenant.name)\" disabled")
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a disabled tenant's tokens work again.")
        @Argument var id: Int64

        func run() throws {
            let tenant = try TenantStore(connection: try connectFromEnvironment()).setEnabled(id: id, true)
            print("tenant \(tenant.id) \"\(tenant.name)\" enabled")
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new token; the old one keeps working for a grace period, then stops.")
        @Argument var id: Int64

        @Option(help: "How long the old token keeps working: 24h (default), 90m, 30s, 0s.")
        var grace: String = "24h"

        @Flag(help: "Print one JSON object: id, name, token, enable_url.")
        var json = false

        func run() throws {
            guard let graceDuration = parseDuration(grace) else {
                throw ValidationError("--grace takes a number followed by s, m or h, e.g. 24h")
            }
            let store = TenantStore(connection: try connectFromEnvironment())
            let (token, ends) = try store.rotate(id: id, grace: graceDuration)
            let tenant = try store.show(id: id).tenant
            printToken(tenant: tenant, token: token, json: json, headline: "tenant \(id): new token; the old one works until \(ends)")
        }
    }
}

/// `24h`, `90m`, `30s`, `400d`, or plain seconds (as the environment's durations are read).
func parseDuration(_ text: String) -> Duration? { DurationText.parse(text) }

func printToken(tenant: Tenant, token: TenantToken, json: Bool, headline: String) {
    let enableURL = EnableURL(
        integration: environment.string(forKey: "inlet.segment.integration", default: "inlet"), token: token,
        redirectURL: tenant.redirectURL
    ).url
    if json {
        let object: [String: any Sendable] = ["id": tenant.id, "name": tenant.name, "token": token.value, "enable_url": enableURL]
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
            print(String(decoding: data, as: UTF8.self))
        }
    } else {
        print(headline)
        print("token (shown once, store it now): \(token.value)")
        print("Segment enable URL: \(enableURL)")
    }
}

func connectFromEnvironment() throws -> Connection {
    guard let url = environment.string(forKey: "database.url", isSecret: true), !url.isEmpty else {
        throw ValidationError("no database: set DATABASE_URL")
    }
    return try Connection(url: url, applicationName: "inlet-cli")
}
