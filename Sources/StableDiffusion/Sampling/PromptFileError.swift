import Foundation

/// Everything wrong with a prompt file, found before any image is made.
public struct PromptFileError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// One problem: the 1-based line it is on (nil for the file as a whole or the defaults)
    /// and what is wrong with it.
    public struct Problem: Equatable, Sendable {
        public let line: Int?
        public let message: String

        public init(line: Int?, message: String) {
            self.line = line
            self.message = message
        }
    }

    /// The file's path, or "prompt text" when parsed from a string.
    public let source: String
    /// Every problem found, in line order.
    public let problems: [Problem]

    public var description: String {
        let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
        let lines = problems.map { problem in
            "  " + (problem.line.map { "line \($0): " } ?? "") + problem.message
        }
        // Problems of the defaults alone (no line) are the command line's options, not the file's.
        let what = problems.allSatisfy({ $0.line == nil && $0.message.hasPrefix("defaults: ") }) || source == "command line"
            ? "the options" : "the file"
        return (["\(source): \(count); nothing was run. Fix \(what) and run again:"] + lines).joined(separator: "\n")
    }

    public var errorDescription: String? { description }
}
