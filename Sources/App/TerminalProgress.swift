import Foundation

/// One line of progress rewritten in place, only when stderr is a terminal: long commands say
/// where they are without cluttering a log or a pipe.
final class TerminalProgress: Sendable {
    let isTerminal = isatty(STDERR_FILENO) == 1

    func show(_ line: String) {
        guard isTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
    }

    func clear() {
        guard isTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}
