import Foundation
import Logging

/// The services' logs (swift-log `Logger`s): one line per record on standard error,
///
///     14:30:21.378 info coordinator: worker w1 ready: shapes, 1 thread(s), batches up to 8; 1 worker(s) worker=w1
///
/// UTC time, level, label (the component), the text, then the record's metadata (`batch`,
/// `image`, `task`, `worker`) as sorted `key=value` pairs. Services log at `info` what an
/// operator needs to follow a run (connections, refusals, re-sent tasks, finished images);
/// per-message detail (every task sent and answered, ignored late answers) is at `debug`.
public enum ClusterLogging {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var bootstrapped = false

    /// Makes every `Logger` of the process write `ClusterLogHandler` lines at `level` and
    /// above. Only the first call counts (swift-log allows one bootstrap per process).
    public static func bootstrap(level: Logger.Level) {
        lock.lock()
        defer { lock.unlock() }
        guard !bootstrapped else { return }
        bootstrapped = true
        LoggingSystem.bootstrap { label in
            var handler = ClusterLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// A logger that writes nothing (tests that run services in process).
    public static func silent(_ label: String) -> Logger {
        Logger(label: label) { _ in SwiftLogNoOpLogHandler() }
    }
}

/// Writes `time level label: message key=value...` lines to standard error, one `write` each
/// (lines of several threads do not interleave).
public struct ClusterLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let text = Self.line(time: Self.timestamp(), level: event.level, label: label, message: event.message.description,
                             metadata: metadata.merging(event.metadata ?? [:]) { _, new in new })
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// One record as written, without the newline.
    static func line(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var text = "\(time) \(level) \(label): \(message)"
        for key in metadata.keys.sorted() {
            text += " \(key)=\(metadata[key]!)"
        }
        return text
    }

    /// `HH:MM:SS.mmm`, UTC.
    static func timestamp() -> String {
        var now = timeval()
        gettimeofday(&now, nil)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_usec / 1000))
    }
}

extension Logger.Metadata {
    /// The metadata of a record about a batch, an image, a task and/or a worker.
    static func about(batch: String? = nil, image: String? = nil, task: String? = nil, worker: String? = nil) -> Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        if let batch { metadata["batch"] = .string(batch) }
        if let image { metadata["image"] = .string(image) }
        if let task { metadata["task"] = .string(task) }
        if let worker { metadata["worker"] = .string(worker) }
        return metadata
    }
}
