import Logging
import ServiceLifecycle
import UnixSignals

/// Picks up a renewed certificate without a restart: at SIGHUP, and by reading the files again
/// every `reloadInterval` (certbot, cert-manager and mounted secrets replace the files without
/// telling anyone).
struct CertificateReloader: Service {
    let certificates: CertificateStore

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                // Shutdown cancels the wait for signals, which ends the loop.
                await cancelWhenGracefulShutdown {
                    for await _ in hangups { certificates.reload(reason: .signal) }
                }
            }
            group.addTask {
                try await repeatUntilShutdown(every: certificates.files.reloadInterval, startingAfter: certificates.files.reloadInterval) {
                    certificates.reload(reason: .poll)
                }
            }
        }
    }
}
