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
        subcommands: [Serve.self, TenantCommand.self]
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
        commandName: "tenant", abstract: "Manage tenants.", subcommands: [Create.self, List.self])

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
            let (tenant, token) = try store.create(name: name)
            let enableURL = EnableURL(
                integration: environment.string(forKey: "inlet.segment.integration", default: "inlet"), token: token,
                redirectURL: redirectURL
            ).url
            if json {
                let object: [String: any Sendable] = [
                    "id": tenant.id, "name": tenant.name, "token": token.value, "enable_url": enableURL,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("tenant \(tenant.id) \"\(tenant.name)\" created")
                print("token (shown once, store it now): \(token.value)")
                print("Segment enable URL: \(enableURL)")
            }
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
}

func connectFromEnvironment() throws -> Connection {
    guard let url = environment.string(forKey: "database.url", isSecret: true), !url.isEmpty else {
        throw ValidationError("no database: set DATABASE_URL")
    }
    return try Connection(url: url, applicationName: "inlet-cli")
}
