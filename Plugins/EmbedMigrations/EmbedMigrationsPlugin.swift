import Foundation
import PackagePlugin

/// Generates `EmbeddedMigrations.swift` from the package's `sql/*.sql` files, so that the
/// migrations are compiled into every binary that links `InletSchema`.
@main
struct EmbedMigrationsPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let sqlDirectory = context.package.directoryURL.appending(path: "sql")
        let files = try FileManager.default.contentsOfDirectory(
            at: sqlDirectory, includingPropertiesForKeys: nil
        )
        .filter { $0.pathExtension == "sql" }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) SQL migrations",
                executable: try context.tool(named: "EmbedMigrationsTool").url,
                arguments: [output.path] + files.map(\.path),
                // Listing the directory too makes an added or removed file rerun the tool.
                inputFiles: files + [sqlDirectory],
                outputFiles: [output]
            )
        ]
    }
}
