import Foundation

/// Progress on standard error: a one-line bar redrawn in place when standard error is a terminal;
/// otherwise (logs, pipes, CI) a plain line each time another `linePercent` of the work is done,
/// so long runs still show they are alive without control characters.
final class ProgressBar {
    private let total: Int
    private let label: String
    private let terminal: Bool
    /// Share of the work between two plain lines (non-terminal output).
    private let linePercent: Int
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastLinePercent = 0

    init(total: Int, label: String, linePercent: Int = 10, terminal: Bool = isatty(2) != 0) {
        self.total = max(total, 1)
        self.label = label
        self.linePercent = max(1, linePercent)
        self.terminal = terminal
    }

    func update(_ done: Int, detail: String = "") {
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let timing = String(format: "%.0fs elapsed, %.0fs left", elapsed, eta)
        guard terminal else {
            let percent = 100 * min(done, total) / total
            guard percent >= lastLinePercent + linePercent || (done >= total && percent > lastLinePercent) else { return }
            lastLinePercent = percent - percent % linePercent
            if done >= total { lastLinePercent = 100 }
            printError("\(label): \(percent)% (\(min(done, total))/\(total)), \(timing)\(detail.isEmpty ? "" : ", " + detail)")
            return
        }
        guard done >= total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let width = 30
        let filled = width * min(done, total) / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total) \(timing) \(detail)".utf8))
    }

    func finish() {
        guard terminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
