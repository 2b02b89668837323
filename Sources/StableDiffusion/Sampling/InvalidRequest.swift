import Foundation

/// Everything wrong with one `GenerationRequest`, found at once by `GenerationRequest.validated(for:)`.
/// Each problem names its field (the JSONL name) and says what the field must be.
public struct InvalidRequest: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// One field's problem: `field` is its JSONL name (`steps`, `width`, ...), `message` a
    /// sentence that starts with it, e.g. "steps must be 1...1000, not 0".
    public struct Problem: Equatable, Sendable, CustomStringConvertible {
        public let field: String
        public let message: String

        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }

        public var description: String { message }
    }

    /// In the order of the fields (docs/sampling.md, "Validation"); never empty.
    public let problems: [Problem]

    public init(problems: [Problem]) {
        self.problems = problems
    }

    /// The messages, joined by "; ".
    public var description: String { problems.map(\.message).joined(separator: "; ") }

    public var errorDescription: String? { description }
}
