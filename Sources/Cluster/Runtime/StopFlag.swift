import Foundation

/// A flag that signal handlers (or tests) raise and service loops poll: set once, read often,
/// from any thread.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    private var sources: [DispatchSourceSignal] = []

    public init() {}

    /// Whether `raise()` was called.
    public var isRaised: Bool { lock.withLock { raised } }

    /// Asks the loop that polls this flag to stop (workers drain first).
    public func raise() { lock.withLock { raised = true } }

    /// Raises the flag on SIGTERM and SIGINT instead of letting them kill the process, so a
    /// worker can finish its task and a coordinator can close its store cleanly.
    public func raiseOnTerminationSignals() {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.raise() }
            source.resume()
            sources.append(source)
        }
    }
}
