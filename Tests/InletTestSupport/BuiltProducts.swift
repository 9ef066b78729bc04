import Foundation

/// Runs the executables `swift build` put next to the test bundle (e.g. `.build/debug/migrator`).
public enum BuiltProducts {
    /// The folder holding the built products: the test bundle's own folder.
    public static var directory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    public struct Outcome: Sendable {
        public let status: Int32
        public let output: String
        public let error: String
    }

    /// Starts `product` with `arguments` and waits for it to exit.
    public static func run(_ product: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let process = try start(product, arguments, environment: environment)
        return wait(process)
    }

    public struct Running {
        let process: Process
        let output: Pipe
        let error: Pipe

        public var isRunning: Bool { process.isRunning }

        /// Sends `signal` to the process (SIGTERM, as an autoscaler would).
        public func signal(_ signal: Int32) {
            kill(process.processIdentifier, signal)
        }
    }

    public static func start(_ product: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        let process = Process()
        process.executableURL = directory.appending(path: product)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        return Running(process: process, output: output, error: error)
    }

    public static func wait(_ running: Running) -> Outcome {
        let out = running.output.fileHandleForReading.readDataToEndOfFile()
        let err = running.error.fileHandleForReading.readDataToEndOfFile()
        running.process.waitUntilExit()
        return Outcome(
            status: running.process.terminationStatus, output: String(decoding: out, as: UTF8.self),
            error: String(decoding: err, as: UTF8.self))
    }
}
