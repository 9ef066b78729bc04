// InletFuzz: a libFuzzer target over MessageParser (scan, validate, encode) and, for inputs that
// start with gzip's magic bytes, Gunzip in front of it; and a replay tool.
//
// Every input is parsed as each route would parse it (impliedType nil for `/` and `/v1/batch`,
// `.track`, one more Tracking API type chosen by the input's length, and nil under tiny limits),
// and the result is checked for what PostgreSQL and the writer rely on, beyond "no crash":
// see `Checks.swift`. A broken invariant is a `fatalError`, which libFuzzer reports as a crash.
//
//   make fuzz                                  # scripts/fuzz.sh: libFuzzer build and run
//   swift build --product InletFuzz && .build/debug/InletFuzz FILE_OR_DIR...   # replay
//
// Built with `-Xswiftc -DINLET_FUZZ -Xswiftc -sanitize=fuzzer,address` the module exports
// `LLVMFuzzerTestOneInput` and its entry point hands over to libFuzzer's driver; without the
// flag it is a plain executable that runs files (a crash reproducer, or whole corpus
// directories) through the same checks.
import Foundation
import InletMessages
import PostgresClient

#if INLET_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    Checks.run(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}

/// libFuzzer's own `main` is not linked: SwiftPM points an executable's `main` at the module's
/// entry point, so that entry point runs libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@main
struct FuzzMain {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
    }
}
#else
@main
struct Replay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: InletFuzz FILE_OR_DIR...\n".utf8))
            exit(2)
        }
        var count = 0
        for path in paths {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
                    exit(2)
                }
                Checks.currentInput = file
                data.withUnsafeBytes { Checks.run($0) }
                count += 1
            }
        }
        print("InletFuzz: \(count) inputs, every check passed")
    }

    /// `path` itself, or every regular file under it (sorted), skipping `*.expect.json` and
    /// `README.md` so that `Tests/corpus` can be replayed as it is.
    static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return [path]
        }
        let entries = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
        return entries.sorted().compactMap { entry in
            guard !entry.hasSuffix(".expect.json"), !entry.hasSuffix("README.md") else { return nil }
            let full = path + "/" + entry
            var dir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: full, isDirectory: &dir)
            return dir.boolValue ? nil : full
        }
    }
}
#endif
