import Foundation

/// One-line log records on standard error: UTC time, the component, the text. Services log what
/// an operator needs to follow a run (connections, refusals, re-sent tasks, finished images).
public struct ClusterLog: Sendable {
    public let component: String
    public let quiet: Bool

    public init(_ component: String, quiet: Bool = false) {
        self.component = component
        self.quiet = quiet
    }

    public func info(_ message: @autoclosure () -> String) {
        guard !quiet else { return }
        write("\(Self.timestamp()) [\(component)] \(message())")
    }

    public func warning(_ message: @autoclosure () -> String) {
        write("\(Self.timestamp()) [\(component)] warning: \(message())")
    }

    private func write(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func timestamp() -> String {
        var now = timeval()
        gettimeofday(&now, nil)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_usec / 1000))
    }
}

/// Seconds on a monotonic clock, for liveness, deadlines and rates.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
