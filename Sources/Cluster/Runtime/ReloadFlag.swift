import Foundation

/// Raised by SIGHUP (or a test), taken by the coordinator's loop: "re-read the key allow-lists".
public final class ReloadFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    private var source: DispatchSourceSignal?

    public init() {}

    public func raise() { lock.withLock { raised = true } }

    /// Whether it was raised since the last call (and lowers it).
    func take() -> Bool { lock.withLock { defer { raised = false }; return raised } }

    /// Raises the flag on SIGHUP instead of letting it end the process.
    public func raiseOnHangUp() {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [weak self] in self?.raise() }
        source.resume()
        self.source = source
    }
}
