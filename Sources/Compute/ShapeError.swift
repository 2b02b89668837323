/// A tensor whose shape an operation cannot take: names the operation, what it expected and
/// what came. The engine's layers throw it at their entry points instead of trapping
/// (release builds are `-Ounchecked`, where a `precondition` is not checked at all and a wrong
/// shape would read or write past a buffer).
public struct ShapeError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The operation that refused the input (e.g. "conv 4->32 k3").
    public let operation: String
    /// What the operation takes, in words (e.g. "[N, H, W, 4]").
    public let expected: String
    /// The shape that came.
    public let got: [Int]

    public init(_ operation: String, expected: String, got: [Int]) {
        self.operation = operation
        self.expected = expected
        self.got = got
    }

    public var description: String { "\(operation) expects \(expected), got \(got)" }
}
