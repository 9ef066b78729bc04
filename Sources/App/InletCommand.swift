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
        subcommands: [
            Serve.self, Healthcheck.self, TenantCommand.self, BICommand.self, QuarantineCommand.self, DeletesCommand.self,
            PartitionsCommand.self,
        ]
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
        var logger = Logger(label: "inlet") { LazyMetadataLogHandler(label: $0) }
        logger.logLevel = Logger.Level(rawValue: environment.string(forKey: "inlet.log.level", default: "info")) ?? .info
        let app = try buildApplication(configuration: configuration, logger: logger)
        try await app.runService()
    }
}

struct TenantCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants.",
        subcommands: [
            Create.self, List.self, Show.self, Disable.self, Enable.self, Rotate.self, GrantBI.self, RevokeBI.self, EraseUser.self,
        ])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant and print its token once, with its Segment enable URL.")

        @Argument(help: "A name for people: the customer or workspace.")
        var name: String

        @Option(help: "Page Segment sends the user back to after enabling (for the enable URL).")
        var redirectURL: String?

        @Option(help: "Name of the tenant's BI schema (default: derived from the name, e.g. acme_corp).")
        var biSchema: String?

        @Flag(help: "Print one JSON object: id, name, token, enable_url, bi_schema.")
        var json = false

        func run() throws {
            let connection = try connectFromEnvironment()
            let (tenant, token) = try TenantStore(connection: connection).create(name: name, redirectURL: redirectURL, biSchema: biSchema)
            printToken(tenant: tenant, token: token, json: json, headline: "tenant \(tenant.id) \"\(tenant.name)\" created")
            // The views exist from the start (empty), so BI tools can connect before data
            // comes. After the token is out: the tenant exists whatever happens here, and the
            // server's next refresh creates them anyway.
            do {
                _ = try BIRefresh(connection: connection).refresh(tenantID: tenant.id)
            } catch {
                FileHandle.standardError.write(Data("warning: the BI views are not created yet (\(error)); the server's next refresh, or `inlet bi refresh \(tenant.id)`, creates them\n".utf8))
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
            print("BI schema     \(tenant.biSchema) (views refreshed \(details.biRefreshedAt ?? "never"))")
            print("last 24 h     \(details.messagesLast24Hours) messages stored")
            print("last message  \(details.lastMessageAt ?? "never")")
            if let settings = details.segmentSettings { print("settings      \(settings)") }
            print("BI role       \(details.biRole ?? "none")")
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

extension TenantCommand {
    struct GrantBI: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant-bi",
            abstract: "Create a read-only PostgreSQL login role for the tenant's BI tools; print its password once.",
            discussion: "Needs CREATEROLE for the database role of DATABASE_URL. Settings: INLET_BI_STATEMENT_TIMEOUT, "
                + "INLET_BI_IDLE_IN_TRANSACTION_TIMEOUT, INLET_BI_CONNECTION_LIMIT.")
        @Argument var id: Int64

        @Flag(help: "When the tenant has a BI role already, give it a new password (the old one stops working at once).")
        var resetPassword = false

        @Flag(help: "Print one JSON object: role, password, schema, database, tenant_id.")
        var json = false

        func run() throws {
            let store = BIRoleStore(connection: try connectFromEnvironment(), configuration: BIRoleConfiguration(reader: environment))
            let (credentials, created) = resetPassword ? try store.grantOrResetPassword(tenant: id) : (try store.grant(tenant: id), true)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(credentials), as: UTF8.self))
                return
            }
            print("tenant \(id): BI role \(credentials.role) \(created ? "created" : "has a new password"), reading schema \(credentials.schema)")
            print("password (shown once, store it now): \(credentials.password)")
            print("connect: psql \"host=HOST dbname=\(credentials.database) user=\(credentials.role)\"")
        }
    }

    struct RevokeBI: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-bi", abstract: "Drop the tenant's BI role, ending its open sessions.")
        @Argument var id: Int64

        func run() throws {
            let role = try BIRoleStore(connection: try connectFromEnvironment()).revoke(tenant: id)
            print("tenant \(id): BI role \(role.role) dropped")
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
        let object: [String: any Sendable] = [
            "id": tenant.id, "name": tenant.name, "token": token.value, "enable_url": enableURL, "bi_schema": tenant.biSchema,
        ]
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
