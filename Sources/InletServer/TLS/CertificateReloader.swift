import Logging
import ServiceLifecycle
import UnixSignals

/// Picks up a renewed certificate without a restart: at SIGHUP, and by reading the files again
/// every `reloadInterval` (certbot, cert-manager and mounted secrets replace the files without
/// telling anyone).
///
/// Runs without TLS too, only to catch SIGHUP: its default action ends the process, and a
/// `systemctl reload` or a renewal hook sent to a plain-HTTP server must not kill it undrained.
struct CertificateReloader: Service {
    let certificates: CertificateStore?
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                // Shutdown cancels the wait for signals, which ends the loop.
                await cancelWhenGracefulShutdown {
                    for await _ in hangups {
                        if let certificates {
                            certificates.reload(reason: .signal)
                        } else {
                            logger.notice("SIGHUP: no TLS certificate to reload (INLET_TLS_CERT is not set)")
                        }
                    }
                }
            }
            if let certificates {
                group.addTask {
                    try await repeatUntilShutdown(every: certificates.files.reloadInterval, startingAfter: certificates.files.reloadInterval) {
                        certificates.reload(reason: .poll)
                    }
                }
            }
        }
    }
}
