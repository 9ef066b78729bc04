import ServiceLifecycle

/// Runs `body` now and then every `interval` until graceful shutdown, which cancels the wait:
/// the loop of the background services that refresh state (readiness, tenant tokens).
/// `startingAfter` delays the first run (a daily job need not run at every start).
func repeatUntilShutdown(
    every interval: Duration, startingAfter delay: Duration = .zero, _ body: @escaping @Sendable () async -> Void
) async throws {
    do {
        try await cancelWhenGracefulShutdown {
            if delay > .zero { try await Task.sleep(for: delay) }
            while true {
                await body()
                try await Task.sleep(for: interval)
            }
        }
    } catch is CancellationError {
        // Shutdown cancels the sleep: that is how the loop ends, not a failure.
    }
}
