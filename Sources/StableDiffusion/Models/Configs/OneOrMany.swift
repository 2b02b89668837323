import Foundation

/// A config value that diffusers accepts either once for all blocks (`8`) or per block (`[5, 10, 20, 20]`),
/// such as `attention_head_dim`, `layers_per_block` or `cross_attention_dim`.
/// Encodes back in the form it was decoded from.
public enum OneOrMany<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    case one(Value)
    case many([Value])

    /// The value for block `index`: the single value, or the index-th element of the list.
    public func value(at index: Int) -> Value {
        switch self {
        case .one(let value): return value
        case .many(let values): return values[index]
        }
    }

    /// The per-block values expanded to `count` blocks.
    public func expanded(to count: Int) -> [Value] {
        switch self {
        case .one(let value): return Array(repeating: value, count: count)
        case .many(let values): return values
        }
    }

    /// The list length when per block, nil when one value for all.
    public var listCount: Int? {
        if case .many(let values) = self { return values.count }
        return nil
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Value.self) {
            self = .one(value)
        } else if let values = try? container.decode([Value].self) {
            self = .many(values)
        } else {
            throw DecodingError.typeMismatch(Value.self, .init(
                codingPath: decoder.codingPath,
                debugDescription: "expected \(Value.self) or a list of \(Value.self)"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .one(let value): try container.encode(value)
        case .many(let values): try container.encode(values)
        }
    }
}
